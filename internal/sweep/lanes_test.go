package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// fakeOrg is an organization of in-memory registries, one per target, as
// internal/registries resolves them (that adapter is tested against moto).
type fakeOrg struct {
	targets []Target
	regs    map[Target]*fakeECR
	refused map[Target]error // the member role cannot be assumed

	mu            sync.Mutex
	listing, most int           // targets being listed right now, and the most at once
	calls         int           // listings so far
	second        chan struct{} // closed when a second listing runs beside another
}

func (o *fakeOrg) Targets(context.Context) ([]Target, error) { return o.targets, nil }

func (o *fakeOrg) ListPage(ctx context.Context, t Target, token string) ([]guard.Repository, string, error) {
	if err := o.refused[t]; err != nil {
		return nil, "", err
	}
	o.mu.Lock()
	o.calls++
	first := o.calls == 1
	o.listing++
	o.most = max(o.most, o.listing)
	if o.listing == 2 && o.calls == 2 {
		close(o.second) // the second listing started while the first waits
	}
	o.mu.Unlock()
	defer func() { o.mu.Lock(); o.listing--; o.mu.Unlock() }()
	if first {
		// The first listing waits for a second one beside it, which only
		// lanes can start; without lanes it gives up and most stays 1.
		select {
		case <-o.second:
		case <-time.After(5 * time.Second):
		}
	}
	return o.regs[t].ListPage(ctx, token)
}

func (o *fakeOrg) ListTemplates(ctx context.Context, t Target) ([]guard.Template, error) {
	if err := o.refused[t]; err != nil {
		return nil, err
	}
	return o.regs[t].Templates(ctx)
}

func (o *fakeOrg) For(_ context.Context, account, region string) (reconcile.Repositories, error) {
	t := Target{Account: account, Region: region}
	if err := o.refused[t]; err != nil {
		return nil, err
	}
	return o.regs[t], nil
}

// A chain over an organization sweeps several targets at once (lanes), each
// lane taking the next target when done, and across links covers every
// repository of every reachable target exactly once; an unreachable target
// is named and the sweep goes on.
func TestLanesCoverEveryTargetOnce(t *testing.T) {
	f := newFixture(t, 7, testRules(t), Options{Concurrency: 8, MinMargin: time.Second, MarginFraction: 0.01})
	org := &fakeOrg{regs: map[Target]*fakeECR{}, refused: map[Target]error{}, second: make(chan struct{})}
	plan := seedPlan(23, nil)
	for _, account := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			tg := Target{Account: account, Region: region}
			org.targets = append(org.targets, tg)
			reg := newFakeECR(7)
			reg.target = tg
			seedFake(reg, plan)
			// Every lifecycle read moves the clock, so links run out of time.
			reg.onCall = func(op, _ string) {
				if op == "Lifecycle" {
					f.clock.Advance(40 * time.Millisecond)
				}
			}
			org.regs[tg] = reg
		}
	}
	unreachable := Target{Account: "333333333333", Region: "eu-west-1"}
	org.refused[unreachable] = apiError("AccessDenied")
	emf := metrics.NewEMF(f.emf, "ecr-guard-sweep", f.clock.Now)
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	scope := guard.Scope{Partition: "aws", Account: "111111111111", Region: "us-east-1", Organization: true}
	f.s = New(org, reconcile.New(org, testRules(t), emf, f.clock.Now), notify.New(f.pub, emf), f.next, emf, log,
		Options{Concurrency: 8, MinMargin: time.Second, MarginFraction: 0.01, Scope: scope, Now: f.clock.Now})

	results := runChain(t, f, Payload{}, 2*time.Second)
	if len(results) < 3 {
		t.Fatalf("%d links: want a chain", len(results))
	}
	if org.most < 2 {
		t.Fatalf("at most %d targets listed at once: want lanes", org.most)
	}
	for tg, reg := range org.regs {
		for _, s := range plan {
			for _, op := range []string{"SetMutability", "PutLifecycle", "Lifecycle"} {
				n := reg.perRepo[s.repoName][op]
				if tg == unreachable && n != 0 || n > 1 {
					t.Errorf("%+v %s: %d %s", tg, s.repoName, n, op)
				}
			}
		}
	}
	_, doc := digest(t, f.pub)
	want := wantCounts(plan)
	if doc.Counts.Scanned != 7*want.Scanned || doc.Counts.Remediated != 7*want.Remediated || doc.Counts.LifecycleRestored != 7*want.LifecycleRestored {
		t.Errorf("counts %+v, want 7 x %+v", doc.Counts, want)
	}
	if doc.Targets != 8 || len(doc.FailedTargets) != 1 || doc.FailedTargets[0].Account != "333333333333" || doc.FailedTargets[0].Region != "eu-west-1" || doc.Severity != "CRITICAL" {
		t.Errorf("targets %d, failed %+v, severity %s", doc.Targets, doc.FailedTargets, doc.Severity)
	}
	if len(doc.PerTarget) != 7 || !slices.ContainsFunc(doc.PerTarget, func(p notice.SweepTarget) bool {
		return p.Account == "222222222222" && p.Region == "eu-west-1" && p.Counts.Remediated == want.Remediated
	}) {
		t.Errorf("per target %+v", doc.PerTarget)
	}
	named := map[string]bool{}
	for _, c := range doc.Changed {
		key := fmt.Sprintf("%s %s %s", c.Account, c.Region, c.Name)
		if named[key] {
			t.Errorf("%s listed twice", key)
		}
		named[key] = true
	}
	if !strings.Contains(fmt.Sprint(named), "444444444444 eu-west-1") {
		t.Errorf("changed list without accounts and regions: %v", named)
	}
}

// A member that floods its own ECR quota (which the member role shares)
// throttles ecr-guard's listing of it past the SDK's retries: that target
// is named in the digest and every other target is still swept, in the
// same link; before, the link failed, and so did Lambda's retries of it,
// and no target after the throttled one was ever swept.
func TestAThrottledMemberDoesNotHoldUpTheOthers(t *testing.T) {
	f := newFixture(t, 7, testRules(t), Options{})
	org := &fakeOrg{regs: map[Target]*fakeECR{}, refused: map[Target]error{}, second: make(chan struct{})}
	close(org.second) // one lane: no listing waits for another
	plan := seedPlan(5, map[string]int{"mutable": 1})
	for _, account := range []string{"111111111111", "222222222222", "333333333333"} {
		tg := Target{Account: account, Region: "us-east-1"}
		org.targets = append(org.targets, tg)
		reg := newFakeECR(7)
		reg.target = tg
		seedFake(reg, plan)
		org.regs[tg] = reg
	}
	org.regs[org.targets[0]].listErr = apiError("ThrottlingException")
	emf := metrics.NewEMF(f.emf, "ecr-guard-sweep", f.clock.Now)
	scope := guard.Scope{Partition: "aws", Account: "999999999999", Region: "us-east-1", Organization: true}
	f.s = New(org, reconcile.New(org, testRules(t), emf, f.clock.Now), notify.New(f.pub, emf), f.next, emf, slog.New(slog.NewJSONHandler(f.logs, nil)),
		Options{Concurrency: 2, Scope: scope, Now: f.clock.Now})
	res, err := f.s.Handle(context.Background(), Payload{})
	if err != nil || res.Status != StatusComplete {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
	for _, tg := range org.targets[1:] {
		if r := org.regs[tg].repo(plan[0].repoName); r.Mutability != guard.Immutable {
			t.Errorf("%s: %s still %s", tg.Account, plan[0].repoName, r.Mutability)
		}
	}
	_, doc := digest(t, f.pub)
	if len(doc.FailedTargets) != 1 || doc.FailedTargets[0].Account != "111111111111" || !strings.Contains(doc.FailedTargets[0].Error, "ThrottlingException") ||
		doc.Severity != "CRITICAL" || doc.Counts.Remediated != 2*len(plan) {
		t.Errorf("digest: failed targets %+v, severity %s, counts %+v; want the throttled member named and the two others fixed", doc.FailedTargets, doc.Severity, doc.Counts)
	}
}
