package sweep

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// resumeIndex is where to start in page: right after pos.After when the
// page still holds it, else at pos.Next (the first repository not started)
// when it does; at the page's start when both are gone (deleted between
// links: the page has shifted by an unknown amount, and Index could skip a
// repository not yet swept; sweeping some again only repeats idempotent
// work); with neither name (the page's start), at pos.Index.
func resumeIndex(page []guard.Repository, pos Position) int {
	at := func(name string) int {
		return slices.IndexFunc(page, func(r guard.Repository) bool { return r.Name == name })
	}
	if pos.After != "" {
		if i := at(pos.After); i >= 0 {
			return i + 1
		}
		if pos.Next != "" {
			return max(at(pos.Next), 0)
		}
		return 0
	}
	return min(max(pos.Index, 0), len(page))
}

// runPage evaluates page[from:] with the worker pool. A worker about to
// start a repository first asks stop (the deadline margin), except for the
// link's very first repository, so every link makes progress. It returns
// the index of the first repository not started; all before it are
// finished when it returns.
func (s *Sweeper) runPage(ctx context.Context, st *state, target int, page []guard.Repository, from, workers int, stop func() bool) (int, bool) {
	var (
		mu      sync.Mutex
		next    = from
		stopped bool
	)
	take := func() (guard.Repository, bool) {
		mu.Lock()
		defer mu.Unlock()
		if stopped || next >= len(page) {
			return guard.Repository{}, false
		}
		if st.started() && stop() {
			stopped = true
			return guard.Repository{}, false
		}
		repo := page[next]
		next++
		st.scan()
		return repo, true
	}
	var wg sync.WaitGroup
	for range min(workers, len(page)-from) {
		wg.Go(func() {
			for repo, ok := take(); ok; repo, ok = take() {
				st.record(target, s.visit(ctx, st.dryRun, st.targets[target], repo), s.opt.MaxChanged)
			}
		})
	}
	wg.Wait()
	return next, stopped
}

// outcome is one repository's contribution to the digest.
type outcome struct {
	counts Tally
	change *Change
}

func (st *state) record(target int, o outcome, maxChanged int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.counts.Add(o.counts)
	if o.counts.Scanned != o.counts.Compliant {
		// Only targets where something was not compliant carry counts of
		// their own, so the payload stays small for a large organization.
		t := st.perTarget[target]
		t.Add(o.counts)
		st.perTarget[target] = t
	}
	switch {
	case o.change == nil:
	case o.change.MustName():
		st.changed = append(st.changed, *o.change) // always named
	case st.low < maxChanged:
		st.changed = append(st.changed, *o.change)
		st.low++
	default:
		st.omitted++
	}
}

// checks: the sweep evaluates every rule, as for a new repository.
var checks = guard.Checks{Mutability: true, Lifecycle: true}

// visit reconciles one listed repository with the event path's step and
// turns the outcome into the digest's terms. Failures are counted and
// reported, never returned.
func (s *Sweeper) visit(ctx context.Context, dryRun bool, t Target, repo guard.Repository) (o outcome) {
	o.counts.Scanned = 1
	// A child logger per repository would cost more than the usual
	// repository's whole reconcile: made only when there is something to log.
	log := func() *slog.Logger {
		return s.log.With("account", t.Account, "region", t.Region, "repository", repo.Name)
	}
	defer func() {
		if r := recover(); r != nil {
			log().Error("sweep of the repository panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			o = outcome{counts: Tally{Scanned: 1, Failed: 1}, change: &Change{Account: t.Account, Region: t.Region, Name: repo.Name, Actions: []guard.Kind{guard.KindFailed}}}
		}
	}()

	key := reconcile.Key{Partition: s.opt.Scope.Partition, Registry: cmp.Or(repo.RegistryID, t.Account), Region: t.Region, Name: repo.Name}
	res := s.rec.Reconcile(ctx, reconcile.Request{Key: key, Checks: checks, Listed: &repo, DryRun: dryRun})
	defer s.rec.Record(ctx, key, res, nil) // after the notice of a failure
	switch res.Status {
	case reconcile.Gone:
		log().Info("skipped: the repository was deleted during the sweep")
		o.counts.Deleted = 1
		return o
	case reconcile.Retry:
		// The SDK's retries are spent and the sweep has no retry of its
		// own: the next sweep tries again. Counted and listed in the
		// digest, no notice of its own.
		log().Error("sweep of the repository failed", "error", res.Err.Error(), "error_code", fault.Code(res.Err), "retryable", true)
		s.metrics.Count(metrics.Failed, string(guard.KindFailed), 1)
		o.counts.Failed = 1
		o.change = &Change{Account: t.Account, Region: t.Region, Name: repo.Name, Actions: []guard.Kind{guard.KindFailed}}
		return o
	}

	plan := res.Plan
	for _, f := range plan.Findings {
		switch f.Kind {
		case guard.KindRemediated, guard.KindWouldRemediate:
			o.counts.Remediated = 1
		case guard.KindLifecycleRestored, guard.KindWouldRestoreLifecycle:
			o.counts.LifecycleRestored = 1
		case guard.KindFailed:
			o.counts.Failed = 1
		}
	}
	switch plan.Exemption.Status {
	case guard.ExemptionActive:
		o.counts.Exempt = 1 // tags are read only for non-compliant repositories
	case guard.ExemptionExpired:
		o.counts.ExpiredExemptions = 1
	case guard.ExemptionInvalidExpiry:
		o.counts.InvalidExemptions = 1
	}
	if len(plan.Findings) == 0 {
		if o.counts.Exempt == 0 {
			o.counts.Compliant = 1
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			log().Debug("compliant: nothing to do", "exemption", plan.Exemption.Status)
		}
		return o
	}
	o.change = change(t, repo.Name, plan)
	if res.Status == reconcile.Failed {
		// A FAILED notice of its own, as on the event path.
		msg := notice.ForEvent(notice.EventInput{Region: key.Region, Checks: res.Read, Before: res.Repo, Plan: plan, Rules: *s.rec.Rules()})
		log().Error("sweep of the repository failed", "error", res.Err.Error(), "error_code", fault.Code(res.Err), "retryable", false, "kind", msg.Attributes["kind"])
		_, _ = s.notices.Send(ctx, log(), msg) // an unpublished notice is logged in full by Send
		return o
	}
	log().Info("repository reconciled", "kind", plan.Kind(), "actions", o.change.Actions, "exemption", plan.Exemption.Status, "dry_run", plan.DryRun)
	return o
}

func change(t Target, name string, plan guard.Plan) *Change {
	c := &Change{Account: t.Account, Region: t.Region, Name: name, Actions: make([]guard.Kind, 0, len(plan.Findings))}
	for _, f := range plan.Findings {
		if !slices.Contains(c.Actions, f.Kind) {
			c.Actions = append(c.Actions, f.Kind)
		}
	}
	if st := plan.Exemption.Status; st != guard.ExemptionNone && st != guard.ExemptionActive {
		c.Exemption = st
	}
	return c
}
