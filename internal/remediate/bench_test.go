package remediate_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
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
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// BenchmarkWarmRevert is one warm event end to end against moto, wired as
// in production with the clients talking to moto directly: a
// PutImageTagMutability to MUTABLE is decoded, the repository read (its
// description, tags: at once), reverted while the images pushed since are
// listed, and the notice published. Each iteration first makes the
// repository MUTABLE again, off the clock. ms-median/op is the median.
func BenchmarkWarmRevert(b *testing.B) {
	moto.Reset(b)
	direct := moto.AWSConfig(b, moto.URL())
	inbox := testenv.NewInbox(b, direct)
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = inbox.TopicARN()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	api := ecr.NewFromConfig(direct)
	if err := scenario.Seed(context.Background(), api, "team-b/api", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, cfg.Rules.Baseline.Text()); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := newHandler(ecrrepo.New(api), snspub.New(sns.NewFromConfig(direct), cfg.TopicARN), metrics.NewEMF(io.Discard, "bench", time.Now), cfg.Rules, quiet)
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(b), "put-image-tag-mutability-mutable.json", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		if _, err := api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team-b/api"), ImageTagMutability: ecrtypes.ImageTagMutabilityMutable}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := h.Handle(ctx, raw); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median/op")
}
