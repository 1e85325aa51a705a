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
// in the page in the meantime does not shift the position.
type Position struct {
	Target    int    `json:"target,omitempty"` // index in the chain's targets
	PageToken string `json:"pageToken,omitempty"`
	Index     int    `json:"index"`
	After     string `json:"after,omitempty"`
}

// Continuation is the chain's state handed from one link to the next.
type Continuation struct {
	ChainID   string    `json:"chainId"`
	Link      int       `json:"link"` // the link this payload starts: 2, 3, ...
	StartedAt time.Time `json:"startedAt"`
	Position  Position  `json:"position"`
	// Targets are the registries this chain covers, fixed by its first
	// link so that positions stay valid while the organization changes.
	Targets []Target `json:"targets"`
	// PerTarget are the counts of targets where something was not
	// compliant (by index in Targets); FailedTargets the targets that could
	// not be swept.
	PerTarget     map[int]Tally  `json:"perTarget,omitempty"`
	FailedTargets []FailedTarget `json:"failedTargets,omitempty"`
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
	ChainID   string   `json:"chainId"`
	Link      int      `json:"link"`
	Status    string   `json:"status"`
	DryRun    bool     `json:"dryRun"`
	Scanned   int      `json:"scanned"` // by this link
	Start     Position `json:"start"`
	Stop      Position `json:"stop"`
	Counts    Tally    `json:"counts"`              // the chain's so far
	MessageID string   `json:"messageId,omitempty"` // the report's first part published by this link
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
		s.log.Error("sweep rejected its input", "error", err.Error())
		return Result{}, err
	}

	log := s.log.With("chain_id", st.chainID, "link", st.link)
	margin, deadline, hasDeadline := s.margin(ctx, begin)
	log.Info("sweep link started", "dry_run", st.dryRun, "start_page_token", st.pos.PageToken, "start_index", st.pos.Index,
		"start_after", st.pos.After, "margin_seconds", margin.Seconds(), "has_deadline", hasDeadline, "deadline", deadline)
	res = Result{ChainID: st.chainID, Link: st.link, DryRun: st.dryRun, Start: st.pos}

	if st.link > s.opt.MaxLinks {
		return s.finish(ctx, log, st, res, begin, StatusStopped)
	}
	stop := func() bool {
		if ctx.Err() != nil {
			return true
		}
		return hasDeadline && deadline.Sub(s.opt.Now()) < margin
	}

	for st.pos.Target < len(st.targets) {
		t := st.targets[st.pos.Target]
		page, next, err := s.list.ListPage(ctx, t, st.pos.PageToken)
		switch {
		case err != nil && fault.Retryable(err):
			// Lambda retries the link from its payload, at this page.
			log.Error("sweep link failed: could not list repositories", "error", err.Error(), "error_code", fault.Code(err),
				"retryable", true, "account", t.Account, "region", t.Region, "page_token", st.pos.PageToken, "scanned", st.scanned)
			return res, fmt.Errorf("sweep link %d of chain %s: %w", st.link, st.chainID, err)
		case err != nil:
			// Refused for good (the member role cannot be assumed, the
			// listing is denied): named in the digest, and the sweep goes on.
			log.Error("sweep of a target failed", "error", err.Error(), "error_code", fault.Code(err), "account", t.Account, "region", t.Region)
			s.metrics.Count(metrics.Failed, "TARGET", 1)
			st.failedTargets = append(st.failedTargets, FailedTarget{Target: t, Error: err.Error()})
			st.pos = Position{Target: st.pos.Target + 1}
		default:
			from := resumeIndex(page, st.pos)
			end, stopped := s.runPage(ctx, st, st.pos.Target, page, from, stop)
			st.pos = Position{Target: st.pos.Target, PageToken: st.pos.PageToken, Index: end}
			if end > 0 {
				st.pos.After = page[end-1].Name
			}
			if stopped {
				return s.handOff(ctx, log, st, res, begin)
			}
			st.pos = Position{Target: st.pos.Target, PageToken: next}
			if next == "" {
				st.pos = Position{Target: st.pos.Target + 1}
			}
		}
		if st.pos.Target < len(st.targets) && st.scanned > 0 && stop() {
			return s.handOff(ctx, log, st, res, begin)
		}
	}
	return s.finish(ctx, log, st, res, begin, StatusComplete)
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
	pos       Position
	scanned   int // by this link
	targets   []Target

	mu            sync.Mutex
	counts        Tally
	perTarget     map[int]Tally
	failedTargets []FailedTarget
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
	if c.ChainID == "" || c.Link < 2 || c.Position.Index < 0 || c.StartedAt.IsZero() || c.Position.Target < 0 || c.Position.Target > len(c.Targets) {
		return nil, fmt.Errorf("%w: chainId %q, link %d, target %d of %d, index %d, startedAt %v", ErrMalformed, c.ChainID, c.Link,
			c.Position.Target, len(c.Targets), c.Position.Index, c.StartedAt)
	}
	if c.Omitted < 0 || c.PartsSent < 0 {
		return nil, fmt.Errorf("%w: omitted %d, partsSent %d", ErrMalformed, c.Omitted, c.PartsSent)
	}
	st := &state{
		chainID: c.ChainID, link: c.Link, startedAt: c.StartedAt, dryRun: dryRun, pos: c.Position, targets: c.Targets,
		counts: c.Counts, perTarget: c.PerTarget, failedTargets: c.FailedTargets,
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
			"stop_page_token", st.pos.PageToken, "stop_index", st.pos.Index, "payload", payload)
		return res, fmt.Errorf("sweep chain %s: start link %d: %w", st.chainID, st.link+1, err)
	}
	log.Info("sweep link stopped", "status", StatusContinued, "reason", "deadline margin reached",
		"stop_page_token", st.pos.PageToken, "stop_index", st.pos.Index, "stop_after", st.pos.After,
		"scanned", st.scanned, "duration_ms", s.opt.Now().Sub(begin).Milliseconds(), "next_link", st.link+1,
		"carried_changes", len(st.changed), "changed_omitted", st.omitted, "report_parts_sent", st.partsSent)
	return res, nil
}

func (s *Sweeper) payload(st *state) Payload {
	return Payload{DryRun: st.dryRun, Continuation: &Continuation{
		ChainID: st.chainID, Link: st.link + 1, StartedAt: st.startedAt, Position: st.pos, Targets: st.targets,
		PerTarget: st.perTarget, FailedTargets: st.failedTargets,
		Counts: st.counts, Changed: st.changed, Omitted: st.omitted, PartsSent: st.partsSent,
	}}
}

func (s *Sweeper) result(res Result, st *state, status string) Result {
	res.Status, res.Scanned, res.Stop, res.Counts = status, st.scanned, st.pos, st.counts
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
}

// Change is one repository the chain changed (or would have, or failed on),
// carried from link to link; notice.SweepChange is its form in the digest.
type Change struct {
	Account   string                `json:"account,omitempty"`
	Region    string                `json:"region,omitempty"`
	Name      string                `json:"name"`
	Actions   []guard.Kind          `json:"actions"`
	Exemption guard.ExemptionStatus `json:"exemption,omitempty"`
}

// MustName reports whether the digest must name the change (all but
// lifecycle-only ones), as the digest ranks it.
func (c Change) MustName() bool { return notice.SweepChange(c).MustName() }
