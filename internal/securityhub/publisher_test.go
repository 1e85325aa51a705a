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
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// fakeHub stands for Security Hub behind the narrow API: it upserts
// imported findings by Id per account and region, and answers GetFindings
// filtered by Id EQUALS, as moto does not (it ignores filters).
type fakeHub struct {
	mu       sync.Mutex
	calls    map[string][]int                    // account/region -> batch sizes
	reads    []int                               // Id filter values per GetFindings call
	err      error                               // every call fails with it
	readErr  error                               // GetFindings fails with it
	failIDs  map[string]string                   // finding id -> error code
	findings map[string]types.AwsSecurityFinding // account/region/id -> finding
}

func (f *fakeHub) For(account, region string) API { return hubAPI{f, account, region} }

type hubAPI struct {
	f               *fakeHub
	account, region string
}

func (h hubAPI) BatchImportFindings(_ context.Context, in *sh.BatchImportFindingsInput, _ ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error) {
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range in.Findings {
		if aws.ToString(x.AwsAccountId) != h.account || aws.ToString(x.Region) != h.region {
			return nil, fmt.Errorf("finding of %s/%s imported in %s/%s", aws.ToString(x.AwsAccountId), aws.ToString(x.Region), h.account, h.region)
		}
	}
	f.calls[h.account+"/"+h.region] = append(f.calls[h.account+"/"+h.region], len(in.Findings))
	if f.err != nil {
		return nil, f.err
	}
	out := &sh.BatchImportFindingsOutput{}
	for _, x := range in.Findings {
		if code, ok := f.failIDs[aws.ToString(x.Id)]; ok {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{Id: x.Id, ErrorCode: aws.String(code), ErrorMessage: aws.String("no")})
			continue
		}
		f.findings[h.account+"/"+h.region+"/"+aws.ToString(x.Id)] = x
	}
	out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
	return out, nil
}

func (h hubAPI) GetFindings(_ context.Context, in *sh.GetFindingsInput, _ ...func(*sh.Options)) (*sh.GetFindingsOutput, error) {
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, len(in.Filters.Id))
	if f.err != nil {
		return nil, f.err
	}
	if f.readErr != nil {
		return nil, f.readErr
	}
	out := &sh.GetFindingsOutput{}
	for _, id := range in.Filters.Id {
		if x, ok := f.findings[h.account+"/"+h.region+"/"+aws.ToString(id.Value)]; ok {
			out.Findings = append(out.Findings, x)
		}
	}
	return out, nil
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

// start is the test clock's first reading; setup's clock advances only
// when a test moves it.
var start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func setup(batch bool) (*fakeHub, *counter, *bytes.Buffer, *Publisher, *time.Time) {
	hub := &fakeHub{calls: map[string][]int{}, failIDs: map[string]string{}, findings: map[string]types.AwsSecurityFinding{}}
	c := &counter{c: map[string]int{}}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	clock := start
	unlimited := func() *rate.Limiter { return rate.NewLimiter(rate.Inf, 1) }
	p := New(ClientsFunc(func(_ context.Context, a, r string) (API, error) { return hub.For(a, r), nil }), guard.Rules{}, c, log,
		func() time.Time { return clock }, Options{Batch: batch, Limiter: unlimited, ReadLimiter: unlimited})
	return hub, c, &buf, p, &clock
}

func compliant(name string) (reconcile.Key, reconcile.Outcome) {
	k := reconcile.Key{Partition: "aws", Registry: "111111111111", Region: "eu-west-1", Name: name}
	return k, reconcile.Outcome{Status: reconcile.Done, Repo: guard.Repository{Name: name, Mutability: guard.Immutable}, Read: guard.Checks{Mutability: true}}
}

func TestBatchesOfAtMost100PerAccountAndRegion(t *testing.T) {
	hub, _, _, p, _ := setup(true)
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
	hub, c, buf, p, _ := setup(false)
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
	hub, c, buf, p, _ := setup(false)
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
	hub, c, buf, p, _ := setup(false)
	hub.err = &smithy.GenericAPIError{Code: "InternalException", Message: "boom"}
	k, o := compliant("app")
	o.Read.Lifecycle = true
	p.rules.LifecycleMode = guard.LifecycleEnforce
	p.Publish(context.Background(), k, o, nil)
	if c.c["FindingFailures/Error"] != 2 || !strings.Contains(buf.String(), "boom") {
		t.Errorf("counts %v log %s", c.c, buf.String())
	}
}

// imported is the finding the fake holds for id in k's account and region.
func (f *fakeHub) imported(t *testing.T, k reconcile.Key, id string) types.AwsSecurityFinding {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.findings[k.Registry+"/"+k.Region+"/"+id]
	if !ok {
		t.Fatalf("no finding %s", id)
	}
	return x
}

func TestCreatedAtIsKeptAcrossImports(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			hub, c, _, p, clock := setup(batch)
			k, o := compliant("app")
			id := "ecr-guard/tag-immutability/" + k.ARN()
			p.Publish(context.Background(), k, o, nil)
			p.Flush(context.Background())
			first := hub.imported(t, k, id)
			*clock = clock.Add(time.Hour)
			p.Publish(context.Background(), k, o, nil)
			p.Flush(context.Background())
			again := hub.imported(t, k, id)
			if aws.ToString(again.CreatedAt) != aws.ToString(first.CreatedAt) || aws.ToString(first.CreatedAt) != start.Format(time.RFC3339Nano) {
				t.Errorf("CreatedAt %s, then %s; want %s kept", aws.ToString(first.CreatedAt), aws.ToString(again.CreatedAt), start.Format(time.RFC3339Nano))
			}
			if want := start.Add(time.Hour).Format(time.RFC3339Nano); aws.ToString(again.UpdatedAt) != want {
				t.Errorf("UpdatedAt %s, want %s", aws.ToString(again.UpdatedAt), want)
			}
			if len(c.c) != 0 {
				t.Errorf("counts %v", c.c)
			}
		})
	}
}

// A batch of MaxBatch findings is read MaxReadIDs Ids at a time, each Id
// once; those already imported keep their CreatedAt, the new ones get now.
func TestCreatedAtIsReadAtMost20IdsPerCall(t *testing.T) {
	hub, _, _, p, clock := setup(true)
	for i := range 30 {
		k, o := compliant(fmt.Sprintf("old%02d", i))
		p.Publish(context.Background(), k, o, nil)
	}
	p.Flush(context.Background())
	hub.reads = nil
	*clock = clock.Add(time.Hour)
	for i := range 30 {
		k, o := compliant(fmt.Sprintf("old%02d", i))
		p.Publish(context.Background(), k, o, nil)
	}
	for i := range 70 {
		k, o := compliant(fmt.Sprintf("new%02d", i))
		p.Publish(context.Background(), k, o, nil)
	}
	total := 0
	for _, n := range hub.reads {
		if n == 0 || n > MaxReadIDs {
			t.Errorf("a GetFindings call with %d Ids", n)
		}
		total += n
	}
	if total != MaxBatch || len(hub.reads) != MaxBatch/MaxReadIDs {
		t.Errorf("reads %v for one batch of %d", hub.reads, MaxBatch)
	}
	k, _ := compliant("old07")
	if got := aws.ToString(hub.imported(t, k, "ecr-guard/tag-immutability/"+k.ARN()).CreatedAt); got != start.Format(time.RFC3339Nano) {
		t.Errorf("re-imported finding CreatedAt %s", got)
	}
	k, _ = compliant("new07")
	if got := aws.ToString(hub.imported(t, k, "ecr-guard/tag-immutability/"+k.ARN()).CreatedAt); got != clock.Format(time.RFC3339Nano) {
		t.Errorf("new finding CreatedAt %s", got)
	}
}

// A failed read does not hold back the import: the finding gets now, the
// failure is counted per finding and warned about once per account and
// region.
func TestAFailedReadFallsBackToNow(t *testing.T) {
	hub, c, buf, p, clock := setup(false)
	k, o := compliant("app")
	p.Publish(context.Background(), k, o, nil)
	hub.readErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform securityhub:GetFindings"}
	for range 3 {
		*clock = clock.Add(time.Minute)
		p.Publish(context.Background(), k, o, nil)
	}
	got := hub.imported(t, k, "ecr-guard/tag-immutability/"+k.ARN())
	if aws.ToString(got.CreatedAt) != clock.Format(time.RFC3339Nano) || aws.ToString(got.UpdatedAt) != clock.Format(time.RFC3339Nano) {
		t.Errorf("CreatedAt %s UpdatedAt %s, want both %s", aws.ToString(got.CreatedAt), aws.ToString(got.UpdatedAt), clock.Format(time.RFC3339Nano))
	}
	if len(hub.calls["111111111111/eu-west-1"]) != 4 {
		t.Errorf("imports %v, want 4", hub.calls)
	}
	if c.c[metrics.FindingReadFailures+"/AccessDeniedException"] != 3 || c.c["FindingFailures/AccessDeniedException"] != 0 {
		t.Errorf("counts %v", c.c)
	}
	if n := strings.Count(buf.String(), `"level":"WARN"`); n != 1 || !strings.Contains(buf.String(), "securityhub:GetFindings") {
		t.Errorf("%d WARNs: %s", n, buf.String())
	}
}

// Security Hub not enabled answers the read already: no import is tried.
func TestNotEnabledOnReadSkipsTheImport(t *testing.T) {
	hub, c, buf, p, _ := setup(false)
	hub.readErr = &smithy.GenericAPIError{Code: "InvalidAccessException", Message: "Account is not subscribed to AWS Security Hub"}
	k, o := compliant("app")
	p.Publish(context.Background(), k, o, nil)
	if len(hub.calls) != 0 {
		t.Errorf("imports %v", hub.calls)
	}
	if c.c["SecurityHubDisabled/InvalidAccessException"] != 1 || c.c[metrics.FindingReadFailures+"/InvalidAccessException"] != 0 {
		t.Errorf("counts %v", c.c)
	}
	if strings.Count(buf.String(), `"level":"WARN"`) != 1 {
		t.Errorf("log %s", buf.String())
	}
}
