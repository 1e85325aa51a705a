package remediate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// warmRevert is one REMEDIATED repository and the event that made it
// MUTABLE, with a handler wired as in production whose clients talk to
// moto at an endpoint.
type warmRevert struct {
	direct *ecr.Client // to moto, for the set-up between iterations
	h      *remediate.Handler
	event  json.RawMessage
}

// newWarmRevert resets moto and seeds the repository. The notice goes to a
// topic without subscribers: moto delivers to a subscribed queue inside the
// Publish call, and gets slower with every message left in the queue, so a
// subscribed topic would measure moto's queue, growing with b.N (real SNS
// delivers after Publish has answered).
func newWarmRevert(b *testing.B, endpoint string) *warmRevert {
	b.Helper()
	moto.Reset(b)
	direct := moto.AWSConfig(b, moto.URL())
	ctx := context.Background()
	topic, err := sns.NewFromConfig(direct).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("ecr-guard-bench")})
	if err != nil {
		b.Fatal(err)
	}
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = aws.ToString(topic.TopicArn)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	w := &warmRevert{direct: ecr.NewFromConfig(direct)}
	if err := scenario.Seed(ctx, w.direct, "team-b/api", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, cfg.Rules.Baseline.Text()); err != nil {
		b.Fatal(err)
	}
	if w.event, err = scenario.ReadEvent(testenv.ModuleRoot(b), "put-image-tag-mutability-mutable.json", time.Now()); err != nil {
		b.Fatal(err)
	}
	clients := moto.AWSConfig(b, endpoint)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	w.h = newHandler(ecrrepo.New(ecr.NewFromConfig(clients)), snspub.New(sns.NewFromConfig(clients), cfg.TopicARN), metrics.NewEMF(io.Discard, "bench", time.Now), cfg.Rules, quiet)
	return w
}

// makeMutable undoes the previous revert, off the clock.
func (w *warmRevert) makeMutable(b *testing.B) {
	b.StopTimer()
	defer b.StartTimer()
	_, err := w.direct.PutImageTagMutability(context.Background(), &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team-b/api"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable})
	if err != nil {
		b.Fatal(err)
	}
}

// reportMedian reports the median of took as ms-median/op: unlike the mean
// (ns/op), it is not moved by the odd slow request on a shared machine.
func reportMedian(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median/op")
}

// BenchmarkWarmRevert is one warm event end to end against moto: a
// PutImageTagMutability to MUTABLE is decoded, the repository read (its
// description and tags at once), reverted while the images pushed since are
// listed, and the notice published. BenchmarkWarmRevertMotoFloor is what
// moto alone takes for the same requests.
func BenchmarkWarmRevert(b *testing.B) {
	w := newWarmRevert(b, moto.URL())
	ctx := context.Background()
	var took []time.Duration
	for b.Loop() {
		w.makeMutable(b)
		start := time.Now()
		if err := w.h.Handle(ctx, w.event); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	reportMedian(b, took)
}

// warmRevertCalls are the requests of a warm revert.
var warmRevertCalls = []string{"ecr.DescribeImages", "ecr.DescribeRepositories", "ecr.ListTagsForResource", "ecr.PutImageTagMutability", "sns.Publish"}

// BenchmarkWarmRevertMotoFloor sends moto the requests of one warm revert,
// recorded as the handler made them, again one after another, without
// ecr-guard or the SDK: the time moto itself takes to answer them. moto
// answers one request at a time (BenchmarkMotoRoundTrip/two_at_once), so no
// order of these calls takes less against it.
func BenchmarkWarmRevertMotoFloor(b *testing.B) {
	proxy := testenv.NewProxy(b, moto.URL())
	w := newWarmRevert(b, proxy.URL())
	if err := w.h.Handle(context.Background(), w.event); err != nil {
		b.Fatal(err)
	}
	calls := proxy.Calls()
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.Service+"."+c.Operation)
	}
	if slices.Sort(ops); !slices.Equal(ops, warmRevertCalls) {
		b.Fatalf("the warm revert made %v, want %v", ops, warmRevertCalls)
	}
	client := &http.Client{}
	ctx := context.Background()
	var took []time.Duration
	for b.Loop() {
		w.makeMutable(b)
		start := time.Now()
		for _, c := range calls {
			if err := resend(ctx, client, c); err != nil {
				b.Fatal(err)
			}
		}
		took = append(took, time.Since(start))
	}
	reportMedian(b, took)
}

// resend sends a recorded call to moto as the SDK sent it: its body, and
// the headers moto reads to tell the service and operation (it does not
// check signatures).
func resend(ctx context.Context, client *http.Client, c testenv.Call) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, moto.URL()+"/", bytes.NewReader(c.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testenv.AccessKeyID+"/20260101/"+testenv.Region+"/"+c.Service+"/aws4_request, SignedHeaders=host, Signature=0")
	switch c.Service {
	case "ecr": // JSON 1.1
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+c.Operation)
	case "sns": // query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	default:
		return fmt.Errorf("cannot resend a %s call", c.Service)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s.%s: status %d %s (%v)", c.Service, c.Operation, resp.StatusCode, body, err)
	}
	return nil
}

// BenchmarkMotoRoundTrip is one DescribeRepositories, the simplest call of
// a revert, with the SDK client the handler uses: moto's own latency per
// call. two_at_once makes two such calls at once; taking about twice as
// long as one shows that moto answers one request at a time.
func BenchmarkMotoRoundTrip(b *testing.B) {
	moto.Reset(b)
	api := ecr.NewFromConfig(moto.AWSConfig(b, moto.URL()))
	ctx := context.Background()
	if _, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team-b/api")}); err != nil {
		b.Fatal(err)
	}
	describe := func() {
		if _, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-b/api"}}); err != nil {
			b.Error(err)
		}
	}
	for _, at := range []struct {
		name  string
		calls int
	}{{"one", 1}, {"two_at_once", 2}} {
		b.Run(at.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for range at.calls {
					wg.Go(describe)
				}
				wg.Wait()
				took = append(took, time.Since(start))
			}
			reportMedian(b, took)
		})
	}
}
