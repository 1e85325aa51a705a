package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// fakeECR is an in-memory registry behind the Lister and
// reconcile.Repositories interfaces; the real adapter is exercised against
// moto in the integration tests.
type fakeECR struct {
	mu       sync.Mutex
	order    []string
	repos    map[string]*guard.Repository
	pageSize int
	calls    map[string]int            // operation -> calls
	perRepo  map[string]map[string]int // repository -> operation -> calls
	fail     map[string]map[string]error
	listErr  error
	onCall   func(op, repo string) // runs outside the lock
	target   Target                // the registry it stands for
	// The registry's repository creation templates: counted in calls,
	// failed by fail[prefix][op]; templateErr fails the listing of them.
	testenv.MemTemplates
	templateErr error
}

func newFakeECR(pageSize int) *fakeECR {
	f := &fakeECR{
		target: Target{Account: "123456789012", Region: "us-east-1"},
		repos:  map[string]*guard.Repository{}, pageSize: pageSize,
		calls: map[string]int{}, perRepo: map[string]map[string]int{}, fail: map[string]map[string]error{},
	}
	f.Hook = func(op, prefix string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls[op]++
		if op == "Templates" {
			return f.templateErr
		}
		return f.fail[prefix][op]
	}
	return f
}

func (f *fakeECR) add(r guard.Repository) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ARN = f.arnPrefix() + r.Name
	r.RegistryID = f.target.Account
	f.order = append(f.order, r.Name)
	f.repos[r.Name] = &r
}

func (f *fakeECR) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The name stays in order as a tombstone, so page tokens (positions in
	// order) stay valid, as ECR's do.
	delete(f.repos, name)
}

func (f *fakeECR) failOn(repo, op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[repo] == nil {
		f.fail[repo] = map[string]error{}
	}
	f.fail[repo][op] = err
}

// op records a call and returns the repository (nil if gone) and the
// injected error.
func (f *fakeECR) op(op, name string) (*guard.Repository, error) {
	f.mu.Lock()
	f.calls[op]++
	if f.perRepo[name] == nil {
		f.perRepo[name] = map[string]int{}
	}
	f.perRepo[name][op]++
	r, err := f.repos[name], f.fail[name][op]
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		hook(op, name)
	}
	if err == nil && r == nil {
		err = fmt.Errorf("%s %s: %w", op, name, guard.ErrRepositoryNotFound)
	}
	return r, err
}

func (f *fakeECR) ListPage(_ context.Context, token string) ([]guard.Repository, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ListPage"]++
	if f.listErr != nil {
		return nil, "", f.listErr
	}
	start := 0
	if token != "" {
		var err error
		if start, err = strconv.Atoi(token); err != nil {
			return nil, "", fmt.Errorf("bad token %q", token)
		}
	}
	var page []guard.Repository
	end := start
	for ; end < len(f.order) && len(page) < f.pageSize; end++ {
		stored, ok := f.repos[f.order[end]]
		if !ok {
			continue // deleted
		}
		r := *stored
		r.Tags, r.Lifecycle = nil, guard.Lifecycle{} // DescribeRepositories carries neither
		r.ExclusionFilters = slices.Clone(r.ExclusionFilters)
		page = append(page, r)
	}
	next := ""
	if end < len(f.order) {
		next = strconv.Itoa(end)
	}
	return page, next, nil
}

func (f *fakeECR) arnPrefix() string {
	return "arn:aws:ecr:" + f.target.Region + ":" + f.target.Account + ":repository/"
}

// Describe is never called by the sweep (it lists); it is here to satisfy
// reconcile.Repositories.
func (f *fakeECR) Describe(_ context.Context, name, _ string) (guard.Repository, error) {
	r, err := f.op("Describe", name)
	if err != nil {
		return guard.Repository{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *r
	c.Tags, c.Lifecycle = nil, guard.Lifecycle{}
	return c, nil
}

// ImagesPushedSince is for the event path only.
func (f *fakeECR) ImagesPushedSince(context.Context, string, string, time.Time, int) ([]guard.Image, bool, error) {
	return nil, false, errors.New("the sweep lists no images")
}

func (f *fakeECR) Tags(_ context.Context, arn string) ([]guard.Tag, error) {
	name, ok := strings.CutPrefix(arn, f.arnPrefix())
	if !ok {
		return nil, fmt.Errorf("tags of %s, which is not in %+v", arn, f.target)
	}
	r, err := f.op("Tags", name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(r.Tags), nil
}

func (f *fakeECR) Lifecycle(_ context.Context, name, _ string) (guard.Lifecycle, error) {
	r, err := f.op("Lifecycle", name)
	if err != nil {
		return guard.Lifecycle{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return r.Lifecycle, nil
}

func (f *fakeECR) SetMutability(_ context.Context, name, _ string, s guard.MutabilitySetting) error {
	r, err := f.op("SetMutability", name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Mutability, r.ExclusionFilters = s.Mutability, slices.Clone(s.ExclusionFilters)
	return nil
}

func (f *fakeECR) PutLifecycle(_ context.Context, name, _, text string) error {
	r, err := f.op("PutLifecycle", name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Lifecycle = guard.Lifecycle{Exists: true, Text: text}
	return nil
}

func (f *fakeECR) repo(name string) guard.Repository {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.repos[name]
}

func (f *fakeECR) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls["SetMutability"] + f.calls["PutLifecycle"]
}

func (f *fakeECR) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.perRepo = map[string]int{}, map[string]map[string]int{}
}

type fakePublisher struct {
	mu     sync.Mutex
	sent   []notice.Message
	err    error
	failIf func(m notice.Message) error // refuses the messages it returns an error for
}

func (p *fakePublisher) Publish(_ context.Context, m notice.Message) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return "", p.err
	}
	if p.failIf != nil {
		if err := p.failIf(m); err != nil {
			return "", err
		}
	}
	p.sent = append(p.sent, m)
	return fmt.Sprintf("msg-%d", len(p.sent)), nil
}

func (p *fakePublisher) byKind(kind string) []notice.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []notice.Message
	for _, m := range p.sent {
		if m.Attributes["kind"] == kind {
			out = append(out, m)
		}
	}
	return out
}

// fakeContinuer records the payloads of the next links.
type fakeContinuer struct {
	payloads []Payload
	err      error
}

func (c *fakeContinuer) Continue(_ context.Context, p Payload) error {
	if c.err != nil {
		return c.err
	}
	c.payloads = append(c.payloads, p)
	return nil
}

// clock is a fake clock tests advance by hand (or from fakeECR.onCall).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testRules(t testing.TB) guard.Rules {
	t.Helper()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	return guard.Rules{
		ExemptTags:               []guard.TagMatcher{{Key: "environment", Value: "dev"}},
		ExemptionExpiresTag:      "exemption-expires",
		AllowedMutableTagFilters: []string{"latest"},
		Baseline:                 baseline,
		LifecycleMode:            guard.LifecycleEnforce,
		// The template tests set their own mode; off keeps a registry
		// without templates out of the other tests' digests.
		RootTemplateMode:       guard.RootTemplateOff,
		RootTemplateAppliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache},
	}
}

type fixture struct {
	ecr   *fakeECR
	pub   *fakePublisher
	next  *fakeContinuer
	clock *clock
	logs  *testenv.Buffer
	emf   *testenv.Buffer
	s     *Sweeper
}

func newFixture(t testing.TB, pageSize int, rules guard.Rules, opt Options) *fixture {
	t.Helper()
	f := &fixture{ecr: newFakeECR(pageSize), pub: &fakePublisher{}, next: &fakeContinuer{}, clock: newClock(), logs: &testenv.Buffer{}, emf: &testenv.Buffer{}}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opt.Now == nil {
		opt.Now = f.clock.Now
	}
	f.s = wire(f.ecr, f.pub, f.next, metrics.NewEMF(f.emf, "ecr-guard-sweep", opt.Now), rules, log, opt)
	return f
}

// pager is the client of the one registry a test sweeps: it lists, reads
// and writes, as ecrrepo.Client does (or a wrapper of it).
type pager interface {
	reconcile.Repositories
	ListPage(ctx context.Context, token string) ([]guard.Repository, string, error)
}

func (s single) ListTemplates(ctx context.Context, _ Target) ([]guard.Template, error) {
	return s.pager.Templates(ctx)
}

// single makes a pager the one target of a sweep, in the samples' account
// and region.
type single struct{ pager }

func (single) Targets(context.Context) ([]Target, error) {
	return []Target{{Account: "123456789012", Region: "us-east-1"}}, nil
}

func (s single) ListPage(ctx context.Context, _ Target, token string) ([]guard.Repository, string, error) {
	return s.pager.ListPage(ctx, token)
}

// wire builds a Sweeper as functions/sweep/main.go does, in the samples'
// account and region unless opt names a scope.
func wire(repos pager, pub notify.Publisher, next Continuer, emf *metrics.EMF, rules guard.Rules, log *slog.Logger, opt Options) *Sweeper {
	if opt.Scope.Account == "" {
		opt.Scope = guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1"}
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return New(single{repos}, reconcile.New(reconcile.One{Repositories: repos}, rules, emf, now), notify.New(pub, emf), next, emf, log, opt)
}

// metricTotals sums the EMF lines written so far by metric name.
func (f *fixture) metricTotals(t testing.TB) map[string]int {
	t.Helper()
	totals := map[string]int{}
	for _, m := range f.emf.JSONLines(t) {
		for _, d := range m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			for _, metric := range d.(map[string]any)["Metrics"].([]any) {
				name := metric.(map[string]any)["Name"].(string)
				totals[name] += int(m[name].(float64))
			}
		}
	}
	return totals
}
