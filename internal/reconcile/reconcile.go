// Package reconcile is the per-repository step both drivers share, the
// shape of controller-runtime's Reconcile: the event path (a watch) and the
// scheduled sweep (a resync) each hand it one repository, and it reads what
// the rules need, decides with guard, writes, and says in one typed Outcome
// what happened. A rule, a read, a write or a failure path exists here once.
package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
)

// Repositories reads and writes what the rules govern in one registry
// (internal/ecrrepo): repositories and repository creation templates.
// Its errors are classified (internal/fault) and a vanished repository is
// guard.ErrRepositoryNotFound.
type Repositories interface {
	Describe(ctx context.Context, name, registryID string) (guard.Repository, error)
	Tags(ctx context.Context, arn string) ([]guard.Tag, error)
	Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error)
	ImagesPushedSince(ctx context.Context, name, registryID string, since time.Time, limit int) ([]guard.Image, bool, error)
	SetMutability(ctx context.Context, name, registryID string, s guard.MutabilitySetting) error
	PutLifecycle(ctx context.Context, name, registryID, text string) error
	// The registry's repository creation templates, the settings of the
	// repositories ECR will create.
	Templates
}

// Registries resolves the client for the registry a key names, in one
// place: the function's own in one account; in an organization, the
// account's, through its member role (internal/registries). Every read and
// write of a key goes to that key's account and region.
type Registries interface {
	For(ctx context.Context, account, region string) (Repositories, error)
}

// One is the registry of a function that guards one account and region.
type One struct{ Repositories }

// For returns the one registry's client.
func (o One) For(context.Context, string, string) (Repositories, error) { return o.Repositories, nil }

// Key names one repository.
type Key struct {
	Partition string
	Registry  string
	Region    string
	Name      string
}

// ARN is the repository's ARN, known without reading it.
func (k Key) ARN() string {
	// Built by hand: the step imports no SDK package.
	return "arn:" + k.Partition + ":ecr:" + k.Region + ":" + k.Registry + ":repository/" + k.Name
}

// Request is one repository to reconcile.
type Request struct {
	Key    Key
	Checks guard.Checks
	// Event is the CloudTrail call that triggered it; nil for a resync.
	Event *guard.Event
	// Listed is the repository as the caller already read it (the sweep's
	// page): it is not described again, and its tags are read only when
	// its mutability is not compliant, the only case an exemption matters.
	Listed *guard.Repository
	// ReadTags reads the tags of a listed repository even when its
	// mutability is compliant, so the plan's exemption is known for every
	// repository (make audit shows it).
	ReadTags bool
	// DryRun decides and reports without writing, whatever the rules say.
	DryRun bool
}

// Status is how a reconcile ended; the caller acts on it, never on errors.
type Status string

const (
	// Done: decided and written. The plan's findings say what happened,
	// nothing at all when the repository was compliant.
	Done Status = "done"
	// Retry: a retryable failure before anything was written or found
	// refused: the whole step should run again later.
	Retry Status = "retry"
	// Failed: a read or write was refused for good. The plan holds FAILED
	// findings beside whatever else did happen.
	Failed Status = "failed"
	// Gone: the repository no longer exists, or the event was about an
	// earlier repository of the same name and the live one needs nothing.
	Gone Status = "gone"
)

// Outcome is what one reconcile did.
type Outcome struct {
	Status Status
	// Repo is the live state as read, before the writes.
	Repo guard.Repository
	// Read is what was read: a notice describes no more than that.
	Read guard.Checks
	Plan guard.Plan
	// Pushed lists the images pushed while an event made tags mutable
	// (event path only): any may have overwritten a trusted tag.
	Pushed *guard.PushedImages
	// Err is the failure behind Retry and Failed (and the not-found behind
	// a Gone that was one).
	Err error
}

// Wrote reports whether the step changed the repository.
func (o Outcome) Wrote() (mutability, lifecycle bool) {
	p := o.Plan
	if p.DryRun {
		return false, false
	}
	return p.SetMutability != nil && !p.Failed(guard.AreaMutability), p.PutLifecycle && !p.Failed(guard.AreaLifecycle)
}

// MaxListedImages bounds the images listed for an attack window.
const MaxListedImages = 100

// Findings receives the outcomes the step reaches, of repositories and of
// repository creation templates (Security Hub: internal/securityhub), maybe
// in batches. It reports its own failures: they never fail a reconcile.
type Findings interface {
	Publish(ctx context.Context, key Key, o Outcome, ev *guard.Event)
	PublishTemplate(ctx context.Context, key TemplateKey, o TemplateOutcome, ev *guard.Event)
	Flush(ctx context.Context)
}

// Reconciler runs the step with one set of rules.
type Reconciler struct {
	findings   Findings // nil: none
	registries Registries
	rules      guard.Rules
	metrics    metrics.Counter
	now        func() time.Time
}

// New returns a Reconciler; now is the clock (time.Now in production).
func New(registries Registries, rules guard.Rules, metrics metrics.Counter, now func() time.Time) *Reconciler {
	return &Reconciler{registries: registries, rules: rules, metrics: metrics, now: now}
}

// WithFindings makes Record hand outcomes to f.
func (r *Reconciler) WithFindings(f Findings) *Reconciler {
	r.findings = f
	return r
}

// Record hands o over to the findings, if any: every outcome but a retry,
// which has found nothing yet. The drivers call it once their notice is out.
func (r *Reconciler) Record(ctx context.Context, key Key, o Outcome, ev *guard.Event) {
	if r.findings != nil && o.Status != Retry {
		r.findings.Publish(ctx, key, o, ev)
	}
}

// RecordTemplate hands a template's outcome over to the findings, as
// Record does a repository's: every outcome but a retry. The drivers call
// it once their notice is out.
func (r *Reconciler) RecordTemplate(ctx context.Context, key TemplateKey, o TemplateOutcome, ev *guard.Event) {
	if r.findings != nil && o.Status != Retry {
		r.findings.PublishTemplate(ctx, key, o, ev)
	}
}

// Flush sends the findings still queued.
func (r *Reconciler) Flush(ctx context.Context) {
	if r.findings != nil {
		r.findings.Flush(ctx)
	}
}

// Rules are the rules the step applies.
func (r *Reconciler) Rules() *guard.Rules { return &r.rules }

// Reconcile runs the step for one repository. It counts each finding of a
// Done or Failed outcome in the finding's metric.
func (r *Reconciler) Reconcile(ctx context.Context, req Request) Outcome {
	rules := r.rules
	rules.DryRun = rules.DryRun || req.DryRun
	o := r.reconcile(ctx, rules, req)
	r.count(o.Status, o.Plan)
	return o
}

// count counts each finding of a Done or Failed outcome in its metric.
func (r *Reconciler) count(status Status, plan guard.Plan) {
	if status == Done || status == Failed {
		for _, f := range plan.Findings {
			r.metrics.Count(metrics.ForKind(f.Kind), string(f.Kind), 1)
		}
	}
}

func (r *Reconciler) reconcile(ctx context.Context, rules guard.Rules, req Request) Outcome {
	repos, err := r.registries.For(ctx, req.Key.Registry, req.Key.Region)
	if err != nil {
		// In an organization: the member role could not be assumed (the
		// member stack is missing or broken), never a silent skip.
		repo := guard.Repository{Name: req.Key.Name, RegistryID: req.Key.Registry}
		if fault.Retryable(err) {
			return Outcome{Status: Retry, Repo: repo, Err: err}
		}
		plan := guard.Plan{DryRun: rules.DryRun}
		plan.Fail(guard.AreaAccess, "could not reach registry "+req.Key.Registry+" in "+req.Key.Region+": "+err.Error())
		return Outcome{Status: Failed, Repo: repo, Plan: plan, Err: err}
	}
	repo, area, err, lifecycleErr := read(ctx, repos, rules, req)
	checks := req.Checks
	if lifecycleErr != nil {
		// Only the lifecycle policy was refused (a repository policy can
		// deny GetLifecyclePolicy): that must not keep the tags mutable.
		// Mutability is decided and fixed without it; the read is FAILED.
		checks.Lifecycle = false
	}
	switch {
	case errors.Is(err, guard.ErrRepositoryNotFound):
		return Outcome{Status: Gone, Repo: repo, Err: err}
	case err != nil && fault.Retryable(err):
		return Outcome{Status: Retry, Repo: repo, Err: err}
	case err != nil:
		plan := guard.Plan{DryRun: rules.DryRun}
		plan.Fail(area, "could not read the repository: "+err.Error())
		// Nothing was read for the notice to describe beyond the failure.
		return Outcome{Status: Failed, Repo: repo, Plan: plan, Err: err}
	}

	plan := rules.Decide(guard.Input{Event: req.Event, Checks: checks, Repo: repo, Now: r.now()})
	o := Outcome{Status: Done, Repo: repo, Read: checks, Plan: plan}
	// The attack window's listing does not wait for the writes.
	pushed := noImages
	if req.Event != nil && plan.MutableWindow() && !plan.Stale {
		pushed = listImages(ctx, repos, repo, req.Event.Time)
	}
	err = write(ctx, repos, repo, &o.Plan)
	o.Pushed = pushed()
	switch {
	case errors.Is(err, guard.ErrRepositoryNotFound):
		return Outcome{Status: Gone, Repo: repo, Err: err}
	case err != nil && o.Plan.Kind() != guard.KindFailed:
		return Outcome{Status: Retry, Repo: repo, Err: err}
	case err != nil:
		o.Status, o.Err = Failed, err
	case o.Plan.Stale && len(o.Plan.Findings) == 0:
		o.Status = Gone
	}
	if lifecycleErr != nil && (o.Status == Done || o.Status == Failed) {
		o.Plan.Fail(guard.AreaLifecycle, "could not read the lifecycle policy: "+lifecycleErr.Error())
		o.Status, o.Err = Failed, cmp.Or(o.Err, lifecycleErr)
	}
	return o
}

// read loads what the rules need, the independent reads at once: the
// repository (unless listed), its tags (the ARN is known from the key) and,
// when a rule needs it, its lifecycle policy. On failure it says which
// rule's read failed (tags decide the exemption, so they are mutability's).
// A repository that does not exist wins over any other failure, then a
// permanent failure (reported now) over a retryable one. A lifecycle read
// refused for good while everything else was read is returned apart, as
// lifecycleErr: the rest of the step can go on without it.
func read(ctx context.Context, repos Repositories, rules guard.Rules, req Request) (repo guard.Repository, area guard.Area, err, lifecycleErr error) {
	// One value the reads fill in, so that running them at once costs one
	// allocation, not one per result.
	r := &struct {
		repo                   guard.Repository
		tags                   []guard.Tag
		lifecycle              guard.Lifecycle
		descErr, tagErr, lcErr error
	}{}
	var reads []func()
	readTags := true
	readLifecycle := rules.NeedsLifecycle(req.Checks)
	if req.Listed != nil {
		r.repo = *req.Listed
		readTags = req.Event != nil || req.ReadTags || !rules.MutabilityCompliant(r.repo.Mutability, r.repo.ExclusionFilters)
		if !readTags {
			// The sweep's usual repository, listed and compliant: at most
			// its lifecycle policy, read here and now.
			repo := *req.Listed
			if readLifecycle {
				lc, err := repos.Lifecycle(ctx, req.Key.Name, req.Key.Registry)
				switch {
				case err != nil && refusedLifecycle(err):
					return repo, "", nil, err
				case err != nil:
					return repo, guard.AreaLifecycle, err, nil
				}
				repo.Lifecycle = lc
			}
			return repo, "", nil, nil
		}
	} else {
		reads = append(reads, func() { r.repo, r.descErr = repos.Describe(ctx, req.Key.Name, req.Key.Registry) })
	}
	if readTags {
		reads = append(reads, func() { r.tags, r.tagErr = repos.Tags(ctx, req.Key.ARN()) })
	}
	if readLifecycle {
		reads = append(reads, func() { r.lifecycle, r.lcErr = repos.Lifecycle(ctx, req.Key.Name, req.Key.Registry) })
	}
	all(reads)
	repo = r.repo
	if r.descErr != nil {
		repo = guard.Repository{Name: req.Key.Name, RegistryID: req.Key.Registry}
	}
	if readTags && r.tagErr == nil {
		repo.Tags = r.tags
		if repo.Tags == nil {
			repo.Tags = []guard.Tag{} // read, and there are none
		}
	}
	if readLifecycle && r.lcErr == nil {
		repo.Lifecycle = r.lifecycle
	}
	descErr, tagErr, lcErr := r.descErr, r.tagErr, r.lcErr
	if lcErr != nil && refusedLifecycle(lcErr) {
		if descErr == nil && tagErr == nil {
			return repo, "", nil, lcErr
		}
		// The mutability side decides: gone, refused, or a retry that
		// reads everything again.
		lcErr = nil
	}
	failures := []struct {
		area guard.Area
		err  error
	}{{guard.AreaMutability, descErr}, {guard.AreaMutability, tagErr}, {guard.AreaLifecycle, lcErr}}
	for _, pick := range []func(error) bool{
		func(err error) bool { return errors.Is(err, guard.ErrRepositoryNotFound) },
		func(err error) bool { return err != nil && !fault.Retryable(err) },
		func(err error) bool { return err != nil },
	} {
		for _, f := range failures {
			if pick(f.err) {
				return repo, f.area, f.err, nil
			}
		}
	}
	return repo, "", nil, nil
}

// refusedLifecycle reports whether a lifecycle read failed for good, the
// repository being there.
func refusedLifecycle(err error) bool {
	return !fault.Retryable(err) && !errors.Is(err, guard.ErrRepositoryNotFound)
}

// listImages starts listing the images pushed since the event, for the
// security team to verify, and returns what waits for the list. A failure
// to list them must not hold back the notice, so it is reported in the
// notice instead.
func listImages(ctx context.Context, repos Repositories, repo guard.Repository, since time.Time) func() *guard.PushedImages {
	var (
		g      group
		pushed *guard.PushedImages
	)
	g.Go(func() {
		images, truncated, err := repos.ImagesPushedSince(ctx, repo.Name, repo.RegistryID, since, MaxListedImages)
		pushed = &guard.PushedImages{Since: since, Images: images, Truncated: truncated}
		if err != nil {
			pushed.Error = err.Error()
		}
	})
	return func() *guard.PushedImages {
		g.Wait()
		return pushed
	}
}

func noImages() *guard.PushedImages { return nil }

// all runs reads at once, or inline when there is only one (the sweep's
// compliant repository: its lifecycle policy).
func all(reads []func()) {
	if len(reads) == 1 {
		reads[0]()
		return
	}
	var g group
	for _, read := range reads {
		g.Go(read)
	}
	g.Wait()
}

// group runs calls at once and waits for them all. A panic in one is raised
// again in the waiting goroutine, where the drivers recover it: a panic in
// a goroutine of its own would end the whole function.
type group struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	panicked any
}

func (g *group) Go(fn func()) {
	g.wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				g.mu.Lock()
				defer g.mu.Unlock()
				if g.panicked == nil {
					g.panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
				}
			}
		}()
		fn()
	})
}

func (g *group) Wait() {
	g.wg.Wait()
	if g.panicked != nil {
		panic(g.panicked)
	}
}
