package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// fakeRepos is an in-memory stand-in behind Repositories; the ECR adapter
// is exercised against moto in the drivers' tests.
type fakeRepos struct {
	mu    sync.Mutex
	repo  *guard.Repository // nil: it does not exist
	calls []string
	// The registry's templates; templateFixture hooks them to calls and
	// fail.
	testenv.MemTemplates
	fail  map[string]error
	panic string
}

func (f *fakeRepos) op(name string) (*guard.Repository, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.panic == name {
		panic("boom in " + name)
	}
	if err := f.fail[name]; err != nil {
		return nil, err
	}
	if f.repo == nil {
		return nil, fmt.Errorf("%s: %w", name, guard.ErrRepositoryNotFound)
	}
	return f.repo, nil
}

func (f *fakeRepos) Describe(_ context.Context, _, _ string) (guard.Repository, error) {
	r, err := f.op("Describe")
	if err != nil {
		return guard.Repository{}, err
	}
	c := *r
	c.Tags, c.Lifecycle = nil, guard.Lifecycle{}
	return c, nil
}

func (f *fakeRepos) Tags(_ context.Context, arn string) ([]guard.Tag, error) {
	r, err := f.op("Tags")
	if err != nil {
		return nil, err
	}
	if arn != r.ARN {
		return nil, fmt.Errorf("tags of %s, want %s", arn, r.ARN)
	}
	return r.Tags, nil
}

func (f *fakeRepos) Lifecycle(context.Context, string, string) (guard.Lifecycle, error) {
	r, err := f.op("Lifecycle")
	if err != nil {
		return guard.Lifecycle{}, err
	}
	return r.Lifecycle, nil
}

func (f *fakeRepos) ImagesPushedSince(_ context.Context, _, _ string, since time.Time, _ int) ([]guard.Image, bool, error) {
	if _, err := f.op("ImagesPushedSince"); err != nil {
		return nil, false, err
	}
	return []guard.Image{{Digest: "sha256:after", PushedAt: since.Add(time.Minute)}}, false, nil
}

func (f *fakeRepos) SetMutability(_ context.Context, _, _ string, s guard.MutabilitySetting) error {
	r, err := f.op("SetMutability")
	if err == nil {
		r.Mutability, r.ExclusionFilters = s.Mutability, s.ExclusionFilters
	}
	return err
}

func (f *fakeRepos) PutLifecycle(_ context.Context, _, _, text string) error {
	r, err := f.op("PutLifecycle")
	if err == nil {
		r.Lifecycle = guard.Lifecycle{Exists: true, Text: text}
	}
	return err
}

func (f *fakeRepos) sortedCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(slices.Values(f.calls))
}

type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) Count(metric, kind string, value int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[metric+"/"+kind] += value
}

var (
	key       = Key{Partition: "aws", Registry: "123456789012", Region: "us-east-1", Name: "team-a/web"}
	now       = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	throttled = &fault.Error{Err: errors.New("ThrottlingException"), Code: "ThrottlingException", Retryable: true}
	denied    = &fault.Error{Err: errors.New("AccessDeniedException"), Code: "AccessDeniedException"}
	both      = guard.Checks{Mutability: true, Lifecycle: true}
)

func fixture(t *testing.T, mutability string, lifecycle bool) (*fakeRepos, *counter, *Reconciler) {
	t.Helper()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	repo := &guard.Repository{Name: key.Name, ARN: key.ARN(), RegistryID: key.Registry, Mutability: mutability, CreatedAt: now.Add(-24 * time.Hour)}
	if lifecycle {
		repo.Lifecycle = guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
	}
	repos := &fakeRepos{repo: repo, fail: map[string]error{}}
	c := &counter{counts: map[string]int{}}
	rules := guard.Rules{ExemptTags: []guard.TagMatcher{{Key: "environment", Value: "dev"}}, Baseline: baseline, LifecycleMode: guard.LifecycleEnforce}
	return repos, c, New(One{repos}, rules, c, func() time.Time { return now })
}

func mutableEvent(at time.Time) *guard.Event {
	return &guard.Event{Name: guard.EventPutImageTagMutability, Time: at, Repository: key.Name, Request: guard.Request{Mutability: guard.Mutable}}
}

func kinds(p guard.Plan) []guard.Kind {
	var out []guard.Kind
	for _, f := range p.Findings {
		out = append(out, f.Kind)
	}
	return out
}

func TestKeyARN(t *testing.T) {
	if got := (Key{Partition: "aws-cn", Registry: "111122223333", Region: "cn-north-1", Name: "org/team/app"}).ARN(); got != "arn:aws-cn:ecr:cn-north-1:111122223333:repository/org/team/app" {
		t.Fatal(got)
	}
}

func TestEventPathReadsAtOnceAndSweepReadsWhatItLacks(t *testing.T) {
	tests := []struct {
		name       string
		mutability string
		listed     bool
		event      *guard.Event
		checks     guard.Checks
		wantCalls  []string
	}{
		{"event: description, tags and lifecycle", guard.Immutable, false, &guard.Event{Name: guard.EventCreateRepository, Time: now, Request: guard.Request{Mutability: guard.Immutable}}, both, []string{"Describe", "Lifecycle", "Tags"}},
		{"event without lifecycle rule: no lifecycle read", guard.Immutable, false, &guard.Event{Name: guard.EventPutImageTagMutability, Time: now}, guard.Checks{Mutability: true}, []string{"Describe", "Tags"}},
		{"sweep, compliant: only the lifecycle policy", guard.Immutable, true, nil, both, []string{"Lifecycle"}},
		{"sweep, mutable: tags for the exemption, then the fix", guard.Mutable, true, nil, both, []string{"Lifecycle", "SetMutability", "Tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos, _, r := fixture(t, tt.mutability, true)
			req := Request{Key: key, Checks: tt.checks, Event: tt.event}
			if tt.listed {
				listed := *repos.repo
				listed.Lifecycle = guard.Lifecycle{}
				req.Listed = &listed
			}
			if o := r.Reconcile(context.Background(), req); o.Status != Done {
				t.Fatalf("status %s: %v", o.Status, o.Err)
			}
			if got := repos.sortedCalls(); !slices.Equal(got, tt.wantCalls) {
				t.Fatalf("calls %v, want %v", got, tt.wantCalls)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name       string
		mutability string
		lifecycle  bool
		gone       bool
		fail       map[string]error
		event      *guard.Event
		wantStatus Status
		wantKinds  []guard.Kind
		wantArea   guard.Area // of the FAILED finding
		wantWrote  [2]bool
	}{
		{name: "compliant", mutability: guard.Immutable, lifecycle: true, wantStatus: Done},
		{name: "fixed", mutability: guard.Mutable, wantStatus: Done, wantKinds: []guard.Kind{guard.KindRemediated, guard.KindLifecycleRestored}, wantWrote: [2]bool{true, true}},
		{name: "gone before the read", gone: true, wantStatus: Gone},
		{name: "deleted before the write", mutability: guard.Mutable, lifecycle: true, fail: map[string]error{"SetMutability": fmt.Errorf("x: %w", guard.ErrRepositoryNotFound)}, wantStatus: Gone},
		{name: "a read throttled", mutability: guard.Mutable, fail: map[string]error{"Tags": throttled}, wantStatus: Retry},
		{name: "a read denied", mutability: guard.Mutable, fail: map[string]error{"Tags": denied}, wantStatus: Failed, wantKinds: []guard.Kind{guard.KindFailed}, wantArea: guard.AreaMutability},
		// A repository policy denying GetLifecyclePolicy must not keep the
		// tags mutable: the revert goes through, the read is FAILED.
		{name: "the lifecycle read denied: mutability still fixed", mutability: guard.Mutable, fail: map[string]error{"Lifecycle": denied},
			wantStatus: Failed, wantKinds: []guard.Kind{guard.KindRemediated, guard.KindFailed}, wantArea: guard.AreaLifecycle, wantWrote: [2]bool{true, false}},
		{name: "the lifecycle read throttled: retried whole", mutability: guard.Mutable, fail: map[string]error{"Lifecycle": throttled}, wantStatus: Retry},
		// The tags were not read (throttled): an exemption cannot be told,
		// so nothing is decided on them, whatever the lifecycle read did.
		{name: "the lifecycle read denied, the tags throttled: retried", mutability: guard.Mutable, fail: map[string]error{"Lifecycle": denied, "Tags": throttled}, wantStatus: Retry},
		{name: "the lifecycle read denied, the description throttled: retried", mutability: guard.Mutable, fail: map[string]error{"Lifecycle": denied, "Describe": throttled}, wantStatus: Retry},
		{name: "denied beats throttled", mutability: guard.Mutable, fail: map[string]error{"Describe": throttled, "Tags": denied}, wantStatus: Failed, wantKinds: []guard.Kind{guard.KindFailed}, wantArea: guard.AreaMutability},
		{name: "gone beats denied", mutability: guard.Mutable, fail: map[string]error{"Lifecycle": denied, "Tags": fmt.Errorf("x: %w", guard.ErrRepositoryNotFound)}, wantStatus: Gone},
		{name: "first write throttled: nothing done, retry", mutability: guard.Mutable, fail: map[string]error{"SetMutability": throttled}, wantStatus: Retry},
		{name: "second write throttled after the first went through: reported now", mutability: guard.Mutable, fail: map[string]error{"PutLifecycle": throttled},
			wantStatus: Failed, wantKinds: []guard.Kind{guard.KindRemediated, guard.KindFailed}, wantArea: guard.AreaLifecycle, wantWrote: [2]bool{true, false}},
		{name: "write denied", mutability: guard.Mutable, lifecycle: true, fail: map[string]error{"SetMutability": denied}, wantStatus: Failed, wantKinds: []guard.Kind{guard.KindFailed}, wantArea: guard.AreaMutability},
		{name: "stale event, compliant repository", mutability: guard.Immutable, lifecycle: true, event: mutableEvent(now.Add(-48 * time.Hour)), wantStatus: Gone},
		{name: "stale event, mutable repository: fixed as found", mutability: guard.Mutable, lifecycle: true, event: mutableEvent(now.Add(-48 * time.Hour)),
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindRemediated}, wantWrote: [2]bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos, c, r := fixture(t, tt.mutability, tt.lifecycle)
			if tt.gone {
				repos.repo = nil
			}
			for op, err := range tt.fail {
				repos.fail[op] = err
			}
			o := r.Reconcile(context.Background(), Request{Key: key, Checks: both, Event: tt.event})
			if o.Status != tt.wantStatus || !slices.Equal(kinds(o.Plan), tt.wantKinds) {
				t.Fatalf("status %s kinds %v (err %v), want %s %v", o.Status, kinds(o.Plan), o.Err, tt.wantStatus, tt.wantKinds)
			}
			if (o.Status == Retry || o.Status == Failed) && o.Err == nil || o.Status == Done && o.Err != nil {
				t.Fatalf("err %v with status %s", o.Err, o.Status)
			}
			if tt.wantArea != "" && !o.Plan.Failed(tt.wantArea) {
				t.Fatalf("no FAILED finding for %s: %+v", tt.wantArea, o.Plan.Findings)
			}
			if m, l := o.Wrote(); [2]bool{m, l} != tt.wantWrote {
				t.Fatalf("wrote %v %v, want %v", m, l, tt.wantWrote)
			}
			// Findings are counted once, for outcomes that are reported.
			total := 0
			for _, n := range c.counts {
				total += n
			}
			if want := len(tt.wantKinds); total != want {
				t.Fatalf("metrics %v, want %d counts", c.counts, want)
			}
		})
	}
}

func TestAttackWindowIsListedBesideTheWrite(t *testing.T) {
	t.Run("event that made tags mutable", func(t *testing.T) {
		repos, _, r := fixture(t, guard.Mutable, true)
		o := r.Reconcile(context.Background(), Request{Key: key, Checks: guard.Checks{Mutability: true}, Event: mutableEvent(now.Add(-time.Minute))})
		if o.Pushed == nil || len(o.Pushed.Images) != 1 || !slices.Contains(repos.sortedCalls(), "ImagesPushedSince") {
			t.Fatalf("pushed %+v calls %v", o.Pushed, repos.sortedCalls())
		}
	})
	t.Run("a failed listing is reported, not fatal", func(t *testing.T) {
		repos, _, r := fixture(t, guard.Mutable, true)
		repos.fail["ImagesPushedSince"] = denied
		o := r.Reconcile(context.Background(), Request{Key: key, Checks: guard.Checks{Mutability: true}, Event: mutableEvent(now.Add(-time.Minute))})
		if o.Status != Done || o.Pushed == nil || !strings.Contains(o.Pushed.Error, "AccessDenied") {
			t.Fatalf("status %s pushed %+v", o.Status, o.Pushed)
		}
	})
	t.Run("the sweep lists nothing", func(t *testing.T) {
		repos, _, r := fixture(t, guard.Mutable, true)
		listed := *repos.repo
		o := r.Reconcile(context.Background(), Request{Key: key, Checks: both, Listed: &listed})
		if o.Pushed != nil || slices.Contains(repos.sortedCalls(), "ImagesPushedSince") {
			t.Fatalf("pushed %+v calls %v", o.Pushed, repos.sortedCalls())
		}
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	repos, _, r := fixture(t, guard.Mutable, false)
	o := r.Reconcile(context.Background(), Request{Key: key, Checks: both, DryRun: true})
	if o.Status != Done || !slices.Equal(kinds(o.Plan), []guard.Kind{guard.KindWouldRemediate, guard.KindWouldRestoreLifecycle}) {
		t.Fatalf("status %s kinds %v", o.Status, kinds(o.Plan))
	}
	if m, l := o.Wrote(); m || l || slices.Contains(repos.sortedCalls(), "SetMutability") {
		t.Fatalf("a dry run wrote: %v", repos.sortedCalls())
	}
}

// A panic in a concurrent read must reach the caller's goroutine, where the
// drivers recover it, instead of ending the process.
func TestPanicInAConcurrentReadReachesTheCaller(t *testing.T) {
	repos, _, r := fixture(t, guard.Mutable, true)
	repos.panic = "Tags"
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "boom in Tags") {
			t.Fatalf("recovered %v", p)
		}
	}()
	r.Reconcile(context.Background(), Request{Key: key, Checks: both, Event: mutableEvent(now)})
	t.Fatal("Reconcile returned after a panic")
}

// ReadTags: a listed, compliant repository's tags are read too, so the
// plan tells its exemption; nothing else changes.
func TestReadTagsReadsACompliantListedRepositorysTags(t *testing.T) {
	repos, _, r := fixture(t, guard.Immutable, true)
	repos.repo.Tags = []guard.Tag{{Key: "environment", Value: "dev"}}
	listed := *repos.repo
	listed.Tags, listed.Lifecycle = nil, guard.Lifecycle{}
	o := r.Reconcile(context.Background(), Request{Key: key, Checks: both, Listed: &listed, ReadTags: true, DryRun: true})
	if o.Status != Done || len(o.Plan.Findings) != 0 {
		t.Fatalf("status %s findings %v", o.Status, kinds(o.Plan))
	}
	if got := repos.sortedCalls(); !slices.Equal(got, []string{"Lifecycle", "Tags"}) {
		t.Fatalf("calls %v, want Lifecycle and Tags", got)
	}
	if e := o.Plan.Exemption; e.Status != guard.ExemptionActive || e.Tag != "environment=dev" || !o.Repo.Lifecycle.Exists {
		t.Fatalf("exemption %+v, lifecycle %+v", e, o.Repo.Lifecycle)
	}
}
