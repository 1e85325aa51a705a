package securityhub

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

type fakeHub struct {
	mu      sync.Mutex
	calls   map[string][]int // account/region -> batch sizes
	err     error
	failIDs map[string]string // finding id -> error code
}

func (f *fakeHub) For(account, region string) API {
	return apiFunc(func(_ context.Context, in *sh.BatchImportFindingsInput) (*sh.BatchImportFindingsOutput, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, x := range in.Findings {
			if aws.ToString(x.AwsAccountId) != account || aws.ToString(x.Region) != region {
				return nil, fmt.Errorf("finding of %s/%s imported in %s/%s", aws.ToString(x.AwsAccountId), aws.ToString(x.Region), account, region)
			}
		}
		f.calls[account+"/"+region] = append(f.calls[account+"/"+region], len(in.Findings))
		if f.err != nil {
			return nil, f.err
		}
		out := &sh.BatchImportFindingsOutput{}
		for _, x := range in.Findings {
			if code, ok := f.failIDs[aws.ToString(x.Id)]; ok {
				out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: x.Id, ErrorCode: aws.String(code), ErrorMessage: aws.String("no")})
			}
		}
		out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
		return out, nil
	})
}

type apiFunc func(context.Context, *sh.BatchImportFindingsInput) (*sh.BatchImportFindingsOutput, error)

func (f apiFunc) BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, _ ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error) {
	return f(ctx, in)
}

type counter struct {
	mu sync.Mutex
	c  map[string]int
}

func (c *counter) Count(metric, kind string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c[metric+"/"+kind] += n
}

func setup(batch bool) (*fakeHub, *counter, *bytes.Buffer, *Publisher) {
	hub := &fakeHub{calls: map[string][]int{}, failIDs: map[string]string{}}
	c := &counter{c: map[string]int{}}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	p := New(ClientsFunc(func(_ context.Context, a, r string) (API, error) { return hub.For(a, r), nil }), guard.Rules{}, c, log,
		func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) },
		Options{Batch: batch, Limiter: func() *rate.Limiter { return rate.NewLimiter(rate.Inf, 1) }})
	return hub, c, &buf, p
}

func compliant(name string) (reconcile.Key, reconcile.Outcome) {
	k := reconcile.Key{Partition: "aws", Registry: "111111111111", Region: "eu-west-1", Name: name}
	return k, reconcile.Outcome{Status: reconcile.Done, Repo: guard.Repository{Name: name, Mutability: guard.Immutable}, Read: guard.Checks{Mutability: true}}
}

func TestBatchesOfAtMost100PerAccountAndRegion(t *testing.T) {
	hub, _, _, p := setup(true)
	for i := range 250 {
		k, o := compliant(fmt.Sprintf("r%03d", i))
		if i%2 == 1 {
			k.Registry = "222222222222"
		}
		p.Publish(context.Background(), k, o, nil)
	}
	p.Flush(context.Background())
	total := 0
	for acct, sizes := range hub.calls {
		for _, n := range sizes {
			if n > MaxBatch || n == 0 {
				t.Errorf("%s: batch of %d", acct, n)
			}
			total += n
		}
	}
	if total != 250 || len(hub.calls) != 2 {
		t.Errorf("imported %d findings in %v", total, hub.calls)
	}
}

func TestFailedFindingsAreLoggedAndCounted(t *testing.T) {
	hub, c, buf, p := setup(false)
	k, o := compliant("app")
	hub.failIDs["ecr-guard/tag-immutability/"+k.ARN()] = "InvalidInput"
	p.Publish(context.Background(), k, o, nil)
	if c.c["FindingFailures/InvalidInput"] != 1 {
		t.Errorf("counts %v", c.c)
	}
	if !strings.Contains(buf.String(), "InvalidInput") || !strings.Contains(buf.String(), "ecr-guard/tag-immutability/") {
		t.Errorf("log %s", buf.String())
	}
}

func TestNotEnabledWarnsOncePerAccountAndRegion(t *testing.T) {
	hub, c, buf, p := setup(false)
	hub.err = &smithy.GenericAPIError{Code: "InvalidAccessException", Message: "Account is not subscribed to AWS Security Hub"}
	for range 3 {
		k, o := compliant("app")
		p.Publish(context.Background(), k, o, nil)
	}
	if n := strings.Count(buf.String(), `"level":"WARN"`); n != 1 {
		t.Errorf("%d WARNs: %s", n, buf.String())
	}
	if strings.Contains(buf.String(), `"level":"ERROR"`) {
		t.Errorf("not enabled logged as an error: %s", buf.String())
	}
	if c.c["SecurityHubDisabled/InvalidAccessException"] != 3 {
		t.Errorf("counts %v", c.c)
	}
}

func TestOtherErrorsAreCountedPerFinding(t *testing.T) {
	hub, c, buf, p := setup(false)
	hub.err = &smithy.GenericAPIError{Code: "InternalException", Message: "boom"}
	k, o := compliant("app")
	o.Read.Lifecycle = true
	p.rules.LifecycleMode = guard.LifecycleEnforce
	p.Publish(context.Background(), k, o, nil)
	if c.c["FindingFailures/Error"] != 2 || !strings.Contains(buf.String(), "boom") {
		t.Errorf("counts %v log %s", c.c, buf.String())
	}
}
