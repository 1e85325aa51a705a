// Package sweep is the scheduled resync's driver: it reconciles every
// repository in the registry with the event path's step
// (internal/reconcile), so events that were missed (the stack deployed after
// the repositories existed, a delivery failure, an exemption whose expiry
// date passed) are caught up. chain.go holds the chain of links and its
// wire format, page.go the workers over one page, digest.go the report.
//
// One sweep is a chain of invocations ("links"). A link evaluates
// repositories page by page with a pool of workers until the invocation
// deadline comes within a safety margin, then hands the pagination position,
// the counts so far and the list of changed repositories to the next link
// through a Continuer (an asynchronous invocation of the function itself).
// The last link publishes one SWEEP_REPORT digest for the chain, in as many
// parts as it takes to name every repository above LOW severity.
//
// The carried list keeps every change above LOW (failed, reverted or would
// be, exemption no longer valid) and at most Options.MaxChanged
// lifecycle-only ones; the rest of those are counted. When the payload would
// still exceed Options.MaxPayloadBytes, lifecycle-only entries are dropped
// (counted) first, and if the others alone are too many, the link publishes
// them as interim parts of the report before handing off, so that none is
// ever lost.
package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// Target is one registry a sweep covers: an account in a region.
type Target struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Lister says which registries to cover and lists their repositories page
// by page (internal/registries: the function's own account, or an
// organization's accounts through their member role, in each target region).
type Lister interface {
	Targets(ctx context.Context) ([]Target, error)
	// ListPage returns the page of t token points at ("" for the first)
	// and the token of the next page ("" after the last).
	ListPage(ctx context.Context, t Target, token string) ([]guard.Repository, string, error)
	// ListTemplates returns t's repository creation templates.
	ListTemplates(ctx context.Context, t Target) ([]guard.Template, error)
}

// Continuer starts the next link of the chain with payload (in production an
// asynchronous invocation of the function itself).
type Continuer interface {
	Continue(ctx context.Context, payload Payload) error
}

// Defaults for Options.
const (
	DefaultConcurrency    = 8
	DefaultMaxLinks       = 50
	DefaultMinMargin      = 10 * time.Second
	DefaultMarginFraction = 0.10
	DefaultMaxChanged     = 500
	// DefaultMaxPayloadBytes keeps the continuation under 256 KB, the
	// asynchronous Invoke payload limit this design holds to (Lambda now
	// accepts up to 1 MB, billed above 256 KB), with room to spare.
	DefaultMaxPayloadBytes = 240 * 1024
)

// Options tune a Sweeper; zero values take the defaults.
type Options struct {
	// Concurrency is the number of repositories evaluated at once.
	Concurrency int
	// MaxLinks bounds the chain: a sweep that would need more invocations
	// stops, logs an ERROR and publishes an incomplete digest.
	MaxLinks int
	// A link stops starting repositories when less than
	// max(MinMargin, MarginFraction of the invocation's time) remains.
	MinMargin      time.Duration
	MarginFraction float64
	// MaxChanged caps the lifecycle-only (LOW) changes carried from link to
	// link; the rest are only counted. Every other change is carried.
	MaxChanged int
	// MaxPayloadBytes caps the encoded continuation payload: lifecycle-only
	// entries are dropped first, then the others are published as interim
	// parts of the report.
	MaxPayloadBytes int
	// Scope is the registry swept: the account and region the digest names.
	Scope guard.Scope
	// Now is the clock (time.Now in production).
	Now func() time.Time
	// NewID names a new chain in the logs (random by default).
	NewID func() string
}

// Sweeper runs the links of a sweep.
type Sweeper struct {
	list    Lister
	rec     *reconcile.Reconciler
	notices *notify.Notifier
	next    Continuer
	metrics metrics.Counter
	log     *slog.Logger
	opt     Options
}

// New returns a Sweeper that lists with list and reconciles each repository
// with rec, the event path's step.
func New(list Lister, rec *reconcile.Reconciler, notices *notify.Notifier, next Continuer, metrics metrics.Counter, log *slog.Logger, opt Options) *Sweeper {
	if opt.Concurrency < 1 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.MaxLinks < 1 {
		opt.MaxLinks = DefaultMaxLinks
	}
	if opt.MinMargin <= 0 {
		opt.MinMargin = DefaultMinMargin
	}
	if opt.MarginFraction <= 0 {
		opt.MarginFraction = DefaultMarginFraction
	}
	if opt.MaxChanged < 1 {
		opt.MaxChanged = DefaultMaxChanged
	}
	if opt.MaxPayloadBytes < 1 {
		opt.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.NewID == nil {
		opt.NewID = randomID
	}
	return &Sweeper{list: list, rec: rec, notices: notices, next: next, metrics: metrics, log: log, opt: opt}
}

// Payload is the function's input: the schedule's {"dryRun": false}, or a
// continuation from the previous link.
type Payload struct {
	// DryRun makes this sweep decide and report without writing; DRY_RUN
	// applies too. A continuation carries the chain's setting.
	DryRun       bool          `json:"dryRun"`
	Continuation *Continuation `json:"continuation,omitempty"`
}

// Position is where a link resumes: the repository at Index in the page
// PageToken points at ("" for the first page). After names the last
// repository finished before it; when the page still holds that name the
// link resumes right after it, so a repository deleted or created earlier
// in the page in the meantime does not shift the position. When that very
// repository is gone, the link resumes at Next, the first repository not
// started, if the page still holds it; when both are gone, the page is swept
// again from its start (its finished repositories are then counted twice).
type Position struct {
	Target    int    `json:"target,omitempty"` // index in the chain's targets
	PageToken string `json:"pageToken,omitempty"`
	Index     int    `json:"index"`
	After     string `json:"after,omitempty"`
	Next      string `json:"next,omitempty"`
	// TemplatesDone: the target's repository creation templates are swept
	// (they come first: they shape the repositories created meanwhile).
	TemplatesDone bool `json:"templatesDone,omitempty"`
}

// Continuation is the chain's state handed from one link to the next.
type Continuation struct {
	ChainID   string    `json:"chainId"`
	Link      int       `json:"link"` // the link this payload starts: 2, 3, ...
	StartedAt time.Time `json:"startedAt"`
	// Lanes are where the targets being swept stand, several at once in an
	// organization; NextTarget is the first target not started yet.
	Lanes      []Position `json:"lanes"`
	NextTarget int        `json:"nextTarget"`
	// Targets are the registries this chain covers, fixed by its first
	// link so that positions stay valid while the organization changes.
	Targets []Target `json:"targets"`
	// PerTarget are the counts of targets where something was not
	// compliant (by index in Targets); FailedTargets the targets that could
	// not be swept.
	PerTarget     map[int]Tally  `json:"perTarget,omitempty"`
	FailedTargets []FailedTarget `json:"failedTargets,omitempty"`
	// FailedTargetsOmitted counts the failed targets beyond the
	// maxFailedTargets carried: the report counts them, without names.
	FailedTargetsOmitted int `json:"failedTargetsOmitted,omitempty"`
	// RootTemplates are the targets whose ROOT template the digest names.
	RootTemplates []RootTemplate `json:"rootTemplates,omitempty"`
	Counts        Tally          `json:"counts"`
	Changed       []Change       `json:"changed,omitempty"`
	Omitted       int            `json:"omitted,omitempty"`   // lifecycle-only changes not carried
	PartsSent     int            `json:"partsSent,omitempty"` // interim report parts already published
}

// Link outcomes (Result.Status).
const (
	StatusComplete  = "complete"  // the whole registry was swept; the digest was published
	StatusContinued = "continued" // the next link was started
	StatusStopped   = "stopped"   // the chain hit Options.MaxLinks; an incomplete digest was published
)

// Result is what a link returns (the invocation's response).
type Result struct {
	ChainID   string     `json:"chainId"`
	Link      int        `json:"link"`
	Status    string     `json:"status"`
	DryRun    bool       `json:"dryRun"`
	Scanned   int        `json:"scanned"` // by this link
	Start     []Position `json:"start"`   // the lanes
	Stop      []Position `json:"stop"`
	Counts    Tally      `json:"counts"`              // the chain's so far
	MessageID string     `json:"messageId,omitempty"` // the report's first part published by this link
	// MessageIDs are the report parts this link published (interim or final).
	MessageIDs []string `json:"messageIds,omitempty"`
}

// ErrPanic marks an invocation that panicked and was recovered.
var ErrPanic = errors.New("sweep panicked")

// ErrMalformed marks a continuation payload the sweep did not produce.
var ErrMalformed = errors.New("malformed continuation")

// Handle runs one link of a sweep. It returns an error (and Lambda retries
// the link from the same payload, which is safe: every write is idempotent)
// when the listing fails, the next link cannot be started or the digest
// cannot be published. Failures of single repositories never stop it.
func (s *Sweeper) Handle(ctx context.Context, p Payload) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("sweep panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	begin := s.opt.Now()
	st, err := s.state(ctx, p, begin)
	if err != nil {
		// A malformed continuation, or targets that cannot be listed: the
		// link fails (SweepErrorsAlarm); nothing is read or written.
		s.log.Error("sweep link could not start", "error", err.Error(), "error_code", fault.Code(err), "retryable", fault.Retryable(err))
		return Result{}, err
	}

	// Each lane sweeps one target at a time and takes the next when done;
	// lanes share the workers. ECR's quotas are per account and region, so
	// sweeping several targets at once is what lets an organization's sweep
	// go faster than SWEEP_MAX_TPS.
	st.fill(s.lanes(len(st.targets)))
	log := s.log.With("chain_id", st.chainID, "link", st.link)
	margin, deadline, hasDeadline := s.margin(ctx, begin)
	log.Info("sweep link started", "dry_run", st.dryRun, "start_lanes", st.lanes, "next_target", st.nextTarget, "targets", len(st.targets),
		"margin_seconds", margin.Seconds(), "has_deadline", hasDeadline, "deadline", deadline)
	res = Result{ChainID: st.chainID, Link: st.link, DryRun: st.dryRun, Start: slices.Clone(st.lanes)}

	if st.link > s.opt.MaxLinks {
		return s.finish(ctx, log, st, res, begin, StatusStopped)
	}
	stop := func() bool {
		if ctx.Err() != nil {
			return true
		}
		return hasDeadline && deadline.Sub(s.opt.Now()) < margin
	}

	laneCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		stopped bool
	)
	workers := max(1, s.opt.Concurrency/max(1, len(st.lanes)))
	for lane := range st.lanes {
		wg.Go(func() {
			laneStopped, err := s.runLane(laneCtx, log, st, lane, workers, stop)
			mu.Lock()
			defer mu.Unlock()
			stopped = stopped || laneStopped
			if err != nil {
				errs = append(errs, err)
				cancel() // the link fails as a whole; its retry starts from its payload
			}
		})
	}
	wg.Wait()
	s.rec.Flush(ctx)
	st.lanes = slices.DeleteFunc(st.lanes, func(p Position) bool { return p.Target < 0 })
	switch {
	case len(errs) > 0:
		return res, fmt.Errorf("sweep link %d of chain %s: %w", st.link, st.chainID, errors.Join(errs...))
	case stopped || len(st.lanes) > 0:
		return s.handOff(ctx, log, st, res, begin)
	}
	return s.finish(ctx, log, st, res, begin, StatusComplete)
}

// lanes is how many targets a link sweeps at once: one for one registry;
// in an organization, half the workers' number, so each lane keeps two.
func (s *Sweeper) lanes(targets int) int {
	return max(1, min(targets, s.opt.Concurrency/2))
}

// runLane sweeps lane's target page by page, then the next target not yet
// started, until none is left (the lane's target becomes -1) or the
// deadline margin stops it (it reports stopped). A listing that fails,
// even throttled past the SDK's retries, fails only its target: named in
// the digest, the sweep goes on, so one registry (a member that floods its
// own ECR quota, which the member role shares) cannot hold up the others.
// Only a link out of time returns its error: Lambda retries the link.
func (s *Sweeper) runLane(ctx context.Context, log *slog.Logger, st *state, lane, workers int, stop func() bool) (bool, error) {
	for {
		pos := st.lane(lane)
		if pos.Target < 0 {
			return false, nil
		}
		t := st.targets[pos.Target]
		page, next, err := s.list.ListPage(ctx, t, pos.PageToken)
		if err == nil && !pos.TemplatesDone {
			// Listed first, so an unreachable target is one failed target,
			// not a failed template listing too.
			s.sweepTemplates(ctx, log, st, pos.Target)
			pos.TemplatesDone = true
			st.setLane(lane, pos)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			log.Error("sweep link failed: out of time listing repositories", "error", err.Error(), "account", t.Account, "region", t.Region)
			return false, err
		case err != nil:
			// Refused (the member role cannot be assumed, the listing is
			// denied) or throttled past the SDK's retries: named in the
			// digest, and the sweep goes on.
			log.Error("sweep of a target failed", "error", err.Error(), "error_code", fault.Code(err), "retryable", fault.Retryable(err),
				"account", t.Account, "region", t.Region, "page_token", pos.PageToken)
			s.metrics.Count(metrics.Failed, "TARGET", 1)
			st.failTarget(FailedTarget{Target: t, Error: err.Error()})
			st.advance(lane)
		default:
			from := resumeIndex(page, pos)
			end, stopped := s.runPage(ctx, st, pos.Target, page, from, workers, stop)
			pos.Index, pos.After, pos.Next = end, "", ""
			if end > 0 {
				pos.After = page[end-1].Name
			}
			if end < len(page) {
				pos.Next = page[end].Name
			}
			st.setLane(lane, pos)
			if stopped {
				return true, nil
			}
			if next == "" {
				st.advance(lane)
			} else {
				st.setLane(lane, Position{Target: pos.Target, PageToken: next, TemplatesDone: true})
			}
		}
		if st.lane(lane).Target >= 0 && st.started() && stop() {
			return true, nil
		}
	}
}

// validTargets checks what a continuation says of registries: a chain
// covers at least one, each an account id and a region, and the counts and
// failures it carries are of those. The payload comes from the previous
// link, but whoever may invoke the function could write one: it must not
// make a sweep of nothing report itself complete.
func validTargets(c *Continuation) error {
	if len(c.Targets) == 0 {
		return fmt.Errorf("%w: no targets", ErrMalformed)
	}
	if len(c.Lanes) == 0 && c.NextTarget == len(c.Targets) {
		// A chain hands off only with something left to sweep.
		return fmt.Errorf("%w: nothing left to sweep", ErrMalformed)
	}
	for _, t := range c.Targets {
		if !guard.ValidAccount(t.Account) || !guard.ValidRegion(t.Region) {
			return fmt.Errorf("%w: target %q %q", ErrMalformed, t.Account, t.Region)
		}
	}
	for i := range c.PerTarget {
		if i < 0 || i >= len(c.Targets) {
			return fmt.Errorf("%w: counts for target %d of %d", ErrMalformed, i, len(c.Targets))
		}
	}
	for _, f := range c.FailedTargets {
		if !slices.Contains(c.Targets, f.Target) {
			return fmt.Errorf("%w: failed target %q %q is not one of the chain's", ErrMalformed, f.Account, f.Region)
		}
	}
	return nil
}

// FailedTarget is a registry the sweep could not cover, and why.
type FailedTarget struct {
	Target
	Error string `json:"error"`
}

// state is the chain's state while a link runs.
type state struct {
	chainID   string
	link      int
	startedAt time.Time
	dryRun    bool
	scanned   int // by this link
	targets   []Target

	lanesMu    sync.Mutex
	lanes      []Position // a finished lane's Target is -1
	nextTarget int

	mu            sync.Mutex
	counts        Tally
	perTarget     map[int]Tally
	failedTargets []FailedTarget
	failedOmitted int // failed targets beyond maxFailedTargets
	rootTemplates []RootTemplate
	changed       []Change // every change above LOW, lifecycle-only ones up to the cap
	low           int      // lifecycle-only entries in changed
	omitted       int      // lifecycle-only changes not carried
	partsSent     int      // interim report parts published by earlier links
}

func (s *Sweeper) state(ctx context.Context, p Payload, now time.Time) (*state, error) {
	dryRun := p.DryRun || s.rec.Rules().DryRun
	c := p.Continuation
	if c == nil {
		targets, err := s.list.Targets(ctx)
		if err != nil {
			return nil, fmt.Errorf("the registries to sweep: %w", err)
		}
		return &state{chainID: s.opt.NewID(), link: 1, startedAt: now, dryRun: dryRun, targets: targets, perTarget: map[int]Tally{}}, nil
	}
	if c.ChainID == "" || c.Link < 2 || c.StartedAt.IsZero() || c.NextTarget < 0 || c.NextTarget > len(c.Targets) {
		return nil, fmt.Errorf("%w: chainId %q, link %d, next target %d of %d, startedAt %v", ErrMalformed, c.ChainID, c.Link,
			c.NextTarget, len(c.Targets), c.StartedAt)
	}
	for _, l := range c.Lanes {
		if l.Index < 0 || l.Target < 0 || l.Target >= c.NextTarget {
			return nil, fmt.Errorf("%w: lane %+v with next target %d", ErrMalformed, l, c.NextTarget)
		}
	}
	if err := validTargets(c); err != nil {
		return nil, err
	}
	if c.Omitted < 0 || c.PartsSent < 0 || c.FailedTargetsOmitted < 0 {
		return nil, fmt.Errorf("%w: omitted %d, partsSent %d, failedTargetsOmitted %d", ErrMalformed, c.Omitted, c.PartsSent, c.FailedTargetsOmitted)
	}
	st := &state{
		chainID: c.ChainID, link: c.Link, startedAt: c.StartedAt, dryRun: dryRun, lanes: c.Lanes, nextTarget: c.NextTarget, targets: c.Targets,
		counts: c.Counts, perTarget: c.PerTarget, failedTargets: c.FailedTargets, failedOmitted: c.FailedTargetsOmitted, rootTemplates: c.RootTemplates,
		changed: c.Changed, omitted: c.Omitted, partsSent: c.PartsSent,
	}
	if st.perTarget == nil {
		st.perTarget = map[int]Tally{}
	}
	for _, ch := range c.Changed {
		if !ch.MustName() {
			st.low++
		}
	}
	return st, nil
}

// margin is how long before the deadline a link stops starting
// repositories: max(MinMargin, MarginFraction of the invocation's time).
func (s *Sweeper) margin(ctx context.Context, begin time.Time) (time.Duration, time.Time, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, time.Time{}, false
	}
	total := deadline.Sub(begin)
	return max(s.opt.MinMargin, time.Duration(float64(total)*s.opt.MarginFraction)), deadline, true
}

// handOff starts the next link, or ends the chain when it is at MaxLinks.
func (s *Sweeper) handOff(ctx context.Context, log *slog.Logger, st *state, res Result, begin time.Time) (Result, error) {
	if st.link >= s.opt.MaxLinks {
		return s.finish(ctx, log, st, res, begin, StatusStopped)
	}
	res = s.result(res, st, StatusContinued)
	ids, err := s.fitPayload(ctx, log, st)
	res.MessageIDs = ids
	if err != nil {
		// Lambda retries this link from its own payload; the parts that
		// could not be published are logged in full.
		return res, fmt.Errorf("sweep chain %s: publish an interim part of the report: %w", st.chainID, err)
	}
	payload := s.payload(st)
	if err := s.next.Continue(ctx, payload); err != nil {
		// Lambda retries this link from its own payload, and that retry
		// finds what this attempt fixed already compliant: the payload,
		// with this attempt's counts and changes, is logged in full.
		log.Error("sweep link failed: could not start the next link", "error", err.Error(), "error_code", fault.Code(err),
			"stop_lanes", st.lanes, "payload", payload)
		return res, fmt.Errorf("sweep chain %s: start link %d: %w", st.chainID, st.link+1, err)
	}
	log.Info("sweep link stopped", "status", StatusContinued, "reason", "deadline margin reached",
		"stop_lanes", st.lanes, "next_target", st.nextTarget,
		"scanned", st.scanned, "duration_ms", s.opt.Now().Sub(begin).Milliseconds(), "next_link", st.link+1,
		"carried_changes", len(st.changed), "changed_omitted", st.omitted, "report_parts_sent", st.partsSent)
	return res, nil
}

func (s *Sweeper) payload(st *state) Payload {
	return Payload{DryRun: st.dryRun, Continuation: &Continuation{
		ChainID: st.chainID, Link: st.link + 1, StartedAt: st.startedAt, Lanes: st.lanes, NextTarget: st.nextTarget, Targets: st.targets,
		PerTarget: st.perTarget, FailedTargets: st.failedTargets, FailedTargetsOmitted: st.failedOmitted, RootTemplates: st.rootTemplates,
		Counts: st.counts, Changed: st.changed, Omitted: st.omitted, PartsSent: st.partsSent,
	}}
}

func (s *Sweeper) result(res Result, st *state, status string) Result {
	res.Status, res.Scanned, res.Stop, res.Counts = status, st.scanned, slices.Clone(st.lanes), st.counts
	return res
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Tally is the chain's counts so far, carried from link to link. The chain's
// wire format is its own, so the notice's schema (notice.SweepCounts, which
// explains each count) and the continuation payload can change apart.
type Tally struct {
	Scanned           int `json:"scanned"`
	Compliant         int `json:"compliant"`
	Remediated        int `json:"remediated"`
	Exempt            int `json:"exempt"`
	ExpiredExemptions int `json:"expiredExemptions"`
	InvalidExemptions int `json:"invalidExemptions"`
	LifecycleRestored int `json:"lifecycleRestored"`
	Failed            int `json:"failed"`
	Deleted           int `json:"deleted"`
	Templates         int `json:"templates"`
	TemplatesChanged  int `json:"templatesChanged"`
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	t.Scanned += o.Scanned
	t.Compliant += o.Compliant
	t.Remediated += o.Remediated
	t.Exempt += o.Exempt
	t.ExpiredExemptions += o.ExpiredExemptions
	t.InvalidExemptions += o.InvalidExemptions
	t.LifecycleRestored += o.LifecycleRestored
	t.Failed += o.Failed
	t.Deleted += o.Deleted
	t.Templates += o.Templates
	t.TemplatesChanged += o.TemplatesChanged
}

// Change is one repository the chain changed (or would have, or failed on),
// carried from link to link; notice.SweepChange is its form in the digest.
type Change struct {
	Account      string                `json:"account,omitempty"`
	Region       string                `json:"region,omitempty"`
	ResourceType string                `json:"resourceType,omitempty"` // "template", or "" for a repository
	Name         string                `json:"name"`
	Actions      []guard.Kind          `json:"actions"`
	Exemption    guard.ExemptionStatus `json:"exemption,omitempty"`
}

// MustName reports whether the digest must name the change (all but
// lifecycle-only ones), as the digest ranks it.
func (c Change) MustName() bool { return notice.SweepChange(c).MustName() }

// fill starts targets in new lanes until there are n or none is left.
func (st *state) fill(n int) {
	st.lanesMu.Lock()
	defer st.lanesMu.Unlock()
	for len(st.lanes) < n && st.nextTarget < len(st.targets) {
		st.lanes = append(st.lanes, Position{Target: st.nextTarget})
		st.nextTarget++
	}
}

func (st *state) lane(i int) Position {
	st.lanesMu.Lock()
	defer st.lanesMu.Unlock()
	return st.lanes[i]
}

func (st *state) setLane(i int, p Position) {
	st.lanesMu.Lock()
	defer st.lanesMu.Unlock()
	st.lanes[i] = p
}

// advance moves lane i to the next target not started, or ends it.
func (st *state) advance(i int) {
	st.lanesMu.Lock()
	defer st.lanesMu.Unlock()
	st.lanes[i] = Position{Target: -1}
	if st.nextTarget < len(st.targets) {
		st.lanes[i] = Position{Target: st.nextTarget}
		st.nextTarget++
	}
}

// maxFailedTargets and maxFailedTargetError bound what the chain carries
// of the targets it could not sweep, so that an organization where many
// fail (a member stack missing everywhere, a throttling storm) still fits
// the continuation and the report: the report names at most 200 anyway.
const (
	maxFailedTargets     = 200
	maxFailedTargetError = 300
)

func (st *state) failTarget(f FailedTarget) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.failedTargets) >= maxFailedTargets {
		st.failedOmitted++
		return
	}
	if len(f.Error) > maxFailedTargetError {
		f.Error = strings.ToValidUTF8(f.Error[:maxFailedTargetError], "") + "…"
	}
	st.failedTargets = append(st.failedTargets, f)
}

func (st *state) scan() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.scanned++
}

// started reports whether this link has started a repository: its first
// always starts, so every link makes progress.
func (st *state) started() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.scanned > 0
}
