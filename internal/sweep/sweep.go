// Package sweep reconciles every repository in the registry on a schedule,
// with the same rules (guard.Rules.Decide) and the same writes
// (remediate.Apply) as the event path, so events that were missed (the stack
// deployed after the repositories existed, a delivery failure, an exemption
// whose expiry date passed) are caught up.
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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
)

// Repositories lists the registry's repositories page by page, reads what
// the rules need and makes the writes.
type Repositories interface {
	// ListPage returns the page token points at ("" for the first) and the
	// token of the next page ("" after the last).
	ListPage(ctx context.Context, token string) ([]guard.Repository, string, error)
	Tags(ctx context.Context, arn string) ([]guard.Tag, error)
	Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error)
	remediate.Writer
}

// Publisher publishes a notice and returns its message id.
type Publisher interface {
	Publish(ctx context.Context, m notice.Message) (string, error)
}

// Metrics counts outcomes (CloudWatch EMF in production).
type Metrics interface {
	Count(metric, kind string, value int)
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
	// Account and Region name the registry in the digest.
	Account string
	Region  string
	// Now is the clock (time.Now in production).
	Now func() time.Time
	// NewID names a new chain in the logs (random by default).
	NewID func() string
}

// Sweeper runs the links of a sweep.
type Sweeper struct {
	repos   Repositories
	notices Publisher
	next    Continuer
	metrics Metrics
	rules   guard.Rules
	log     *slog.Logger
	opt     Options
}

// New returns a Sweeper.
func New(repos Repositories, notices Publisher, next Continuer, metrics Metrics, rules guard.Rules, log *slog.Logger, opt Options) *Sweeper {
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
	return &Sweeper{repos: repos, notices: notices, next: next, metrics: metrics, rules: rules, log: log, opt: opt}
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
	PageToken string `json:"pageToken,omitempty"`
	Index     int    `json:"index"`
	After     string `json:"after,omitempty"`
}

// Continuation is the chain's state handed from one link to the next.
type Continuation struct {
	ChainID   string               `json:"chainId"`
	Link      int                  `json:"link"` // the link this payload starts: 2, 3, ...
	StartedAt time.Time            `json:"startedAt"`
	Position  Position             `json:"position"`
	Counts    notice.SweepCounts   `json:"counts"`
	Changed   []notice.SweepChange `json:"changed,omitempty"`
	Omitted   int                  `json:"omitted,omitempty"`   // lifecycle-only changes not carried
	PartsSent int                  `json:"partsSent,omitempty"` // interim report parts already published
}

// Link outcomes (Result.Status).
const (
	StatusComplete  = "complete"  // the whole registry was swept; the digest was published
	StatusContinued = "continued" // the next link was started
	StatusStopped   = "stopped"   // the chain hit Options.MaxLinks; an incomplete digest was published
)

// Result is what a link returns (the invocation's response).
type Result struct {
	ChainID   string             `json:"chainId"`
	Link      int                `json:"link"`
	Status    string             `json:"status"`
	DryRun    bool               `json:"dryRun"`
	Scanned   int                `json:"scanned"` // by this link
	Start     Position           `json:"start"`
	Stop      Position           `json:"stop"`
	Counts    notice.SweepCounts `json:"counts"`              // the chain's so far
	MessageID string             `json:"messageId,omitempty"` // the report's first part published by this link
	// MessageIDs are the report parts this link published (interim or final).
	MessageIDs []string `json:"messageIds,omitempty"`
}

// ErrPanic marks an invocation that panicked and was recovered.
var ErrPanic = errors.New("sweep panicked")

// ErrMalformed marks a continuation payload the sweep did not produce.
var ErrMalformed = errors.New("malformed continuation")

// checks: the sweep evaluates every rule, as for a new repository.
var checks = guard.Checks{Mutability: true, Lifecycle: true}

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
	st, err := s.state(p, begin)
	if err != nil {
		s.log.Error("sweep rejected its input", "error", err.Error())
		return Result{}, err
	}
	rules := s.rules
	rules.DryRun = st.dryRun

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

	for {
		page, next, err := s.repos.ListPage(ctx, st.pos.PageToken)
		if err != nil {
			log.Error("sweep link failed: could not list repositories", "error", err.Error(), "error_code", awsfail.Code(err),
				"retryable", awsfail.Retryable(err), "page_token", st.pos.PageToken, "scanned", st.scanned)
			return res, fmt.Errorf("sweep link %d of chain %s: %w", st.link, st.chainID, err)
		}
		from := resumeIndex(page, st.pos)
		end, stopped := s.runPage(ctx, rules, st, page, from, stop)
		st.pos = Position{PageToken: st.pos.PageToken, Index: end}
		if end > 0 {
			st.pos.After = page[end-1].Name
		}
		if !stopped && next == "" {
			return s.finish(ctx, log, st, res, begin, StatusComplete)
		}
		if !stopped {
			st.pos = Position{PageToken: next}
			if !stop() || st.scanned == 0 {
				continue
			}
		}
		return s.handOff(ctx, log, st, res, begin)
	}
}

// state is the chain's state while a link runs.
type state struct {
	chainID   string
	link      int
	startedAt time.Time
	dryRun    bool
	pos       Position
	scanned   int // by this link

	mu        sync.Mutex
	counts    notice.SweepCounts
	changed   []notice.SweepChange // every change above LOW, lifecycle-only ones up to the cap
	low       int                  // lifecycle-only entries in changed
	omitted   int                  // lifecycle-only changes not carried
	partsSent int                  // interim report parts published by earlier links
}

func (s *Sweeper) state(p Payload, now time.Time) (*state, error) {
	dryRun := p.DryRun || s.rules.DryRun
	c := p.Continuation
	if c == nil {
		return &state{chainID: s.opt.NewID(), link: 1, startedAt: now, dryRun: dryRun}, nil
	}
	if c.ChainID == "" || c.Link < 2 || c.Position.Index < 0 || c.StartedAt.IsZero() {
		return nil, fmt.Errorf("%w: chainId %q, link %d, index %d, startedAt %v", ErrMalformed, c.ChainID, c.Link, c.Position.Index, c.StartedAt)
	}
	if c.Omitted < 0 || c.PartsSent < 0 {
		return nil, fmt.Errorf("%w: omitted %d, partsSent %d", ErrMalformed, c.Omitted, c.PartsSent)
	}
	st := &state{
		chainID: c.ChainID, link: c.Link, startedAt: c.StartedAt, dryRun: dryRun, pos: c.Position,
		counts: c.Counts, changed: c.Changed, omitted: c.Omitted, partsSent: c.PartsSent,
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

// resumeIndex is where to start in page: right after pos.After when the
// page still holds it, else pos.Index (clamped to the page).
func resumeIndex(page []guard.Repository, pos Position) int {
	if pos.After != "" {
		if i := slices.IndexFunc(page, func(r guard.Repository) bool { return r.Name == pos.After }); i >= 0 {
			return i + 1
		}
	}
	return min(max(pos.Index, 0), len(page))
}

// runPage evaluates page[from:] with the worker pool. A worker about to
// start a repository first asks stop (the deadline margin), except for the
// link's very first repository, so every link makes progress. It returns
// the index of the first repository not started; all before it are
// finished when it returns.
func (s *Sweeper) runPage(ctx context.Context, rules guard.Rules, st *state, page []guard.Repository, from int, stop func() bool) (int, bool) {
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
		if st.scanned > 0 && stop() {
			stopped = true
			return guard.Repository{}, false
		}
		repo := page[next]
		next++
		st.scanned++
		return repo, true
	}
	var wg sync.WaitGroup
	for range min(s.opt.Concurrency, len(page)-from) {
		wg.Go(func() {
			for repo, ok := take(); ok; repo, ok = take() {
				st.record(s.reconcile(ctx, rules, repo), s.opt.MaxChanged)
			}
		})
	}
	wg.Wait()
	return next, stopped
}

// outcome is one repository's contribution to the digest.
type outcome struct {
	counts notice.SweepCounts
	change *notice.SweepChange
}

func (st *state) record(o outcome, maxChanged int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.counts.Add(o.counts)
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

// reconcile evaluates one listed repository with exactly the event path's
// rules and writes: tags are read only when its mutability is not compliant
// (only then can an exemption matter), the lifecycle policy unless
// LIFECYCLE_MODE is off. Failures are counted and reported, never returned.
func (s *Sweeper) reconcile(ctx context.Context, rules guard.Rules, repo guard.Repository) (o outcome) {
	o.counts.Scanned = 1
	log := s.log.With("repository", repo.Name)
	defer func() {
		if r := recover(); r != nil {
			log.Error("sweep of the repository panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			o = outcome{counts: notice.SweepCounts{Scanned: 1, Failed: 1}, change: &notice.SweepChange{Name: repo.Name, Actions: []guard.Kind{guard.KindFailed}}}
		}
	}()

	if !rules.MutabilityCompliant(repo.Mutability, repo.ExclusionFilters) {
		tags, err := s.repos.Tags(ctx, repo.ARN)
		if err != nil {
			return s.failed(ctx, log, rules, repo, guard.AreaMutability, "could not read the repository's tags: ", err)
		}
		repo.Tags = nonNil(tags)
	}
	if rules.NeedsLifecycle(checks) {
		lc, err := s.repos.Lifecycle(ctx, repo.Name, repo.RegistryID)
		if err != nil {
			return s.failed(ctx, log, rules, repo, guard.AreaLifecycle, "could not read the lifecycle policy: ", err)
		}
		repo.Lifecycle = lc
	}

	plan := rules.Decide(guard.Input{Event: nil, Checks: checks, Repo: repo, Now: s.opt.Now()})
	writeErr := remediate.Apply(ctx, s.repos, repo, &plan, rules.Baseline)
	switch {
	case errors.Is(writeErr, guard.ErrRepositoryNotFound):
		log.Info("skipped: the repository was deleted during the sweep")
		o.counts.Deleted = 1
		return o
	case writeErr != nil && plan.Kind() != guard.KindFailed:
		// Retryable, and the SDK's retries are spent (remediate.Apply left
		// the plan unchanged); the next sweep tries again. Counted
		// and listed in the digest, no notice of its own.
		log.Error("sweep of the repository failed", "error", writeErr.Error(), "error_code", awsfail.Code(writeErr), "retryable", true)
		s.metrics.Count(metrics.Failed, string(guard.KindFailed), 1)
		o.counts.Failed = 1
		o.change = &notice.SweepChange{Name: repo.Name, Actions: []guard.Kind{guard.KindFailed}}
		return o
	}

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
		log.Debug("compliant: nothing to do", "exemption", plan.Exemption.Status)
		return o
	}
	o.change = change(repo.Name, plan)
	for _, f := range plan.Findings {
		s.metrics.Count(metrics.ForKind(f.Kind), string(f.Kind), 1)
	}
	if writeErr != nil {
		s.notifyFailed(ctx, log, rules, checks, repo, plan, writeErr)
		return o
	}
	log.Info("repository reconciled", "kind", plan.Kind(), "actions", o.change.Actions, "exemption", plan.Exemption.Status, "dry_run", plan.DryRun)
	return o
}

// failed handles a read that failed: a deleted repository is skipped, a
// retryable failure is counted, a permanent one also gets a FAILED notice.
func (s *Sweeper) failed(ctx context.Context, log *slog.Logger, rules guard.Rules, repo guard.Repository, area guard.Area, what string, err error) outcome {
	if errors.Is(err, guard.ErrRepositoryNotFound) {
		log.Info("skipped: the repository was deleted during the sweep")
		return outcome{counts: notice.SweepCounts{Scanned: 1, Deleted: 1}}
	}
	o := outcome{counts: notice.SweepCounts{Scanned: 1, Failed: 1}, change: &notice.SweepChange{Name: repo.Name, Actions: []guard.Kind{guard.KindFailed}}}
	s.metrics.Count(metrics.Failed, string(guard.KindFailed), 1)
	if awsfail.Retryable(err) {
		log.Error("sweep of the repository failed", "error", err.Error(), "error_code", awsfail.Code(err), "retryable", true)
		return o
	}
	plan := guard.Plan{DryRun: rules.DryRun}
	plan.Fail(area, what+err.Error())
	s.notifyFailed(ctx, log, rules, guard.Checks{}, repo, plan, err) // nothing (more) was read
	return o
}

// notifyFailed publishes the repository's FAILED notice, as the event path
// does; one that cannot be published is logged in full.
func (s *Sweeper) notifyFailed(ctx context.Context, log *slog.Logger, rules guard.Rules, read guard.Checks, repo guard.Repository, plan guard.Plan, failure error) {
	msg := notice.ForEvent(notice.EventInput{Event: nil, Checks: read, Before: repo, Plan: plan, Rules: rules})
	log.Error("sweep of the repository failed", "error", failure.Error(), "error_code", awsfail.Code(failure), "retryable", false, "kind", msg.Attributes["kind"])
	id, err := s.notices.Publish(ctx, msg)
	if err != nil {
		s.metrics.Count(metrics.NoticeFailures, msg.Attributes["kind"], 1)
		notice.LogUnpublished(log, msg, err)
		return
	}
	log.Info("notice published", "kind", msg.Attributes["kind"], "severity", msg.Attributes["severity"], "message_id", id, "dry_run", plan.DryRun)
}

func change(name string, plan guard.Plan) *notice.SweepChange {
	c := &notice.SweepChange{Name: name, Actions: make([]guard.Kind, 0, len(plan.Findings))}
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
		log.Error("sweep link failed: could not start the next link", "error", err.Error(), "error_code", awsfail.Code(err),
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
		ChainID: st.chainID, Link: st.link + 1, StartedAt: st.startedAt, Position: st.pos,
		Counts: st.counts, Changed: st.changed, Omitted: st.omitted, PartsSent: st.partsSent,
	}}
}

// fitPayload keeps the continuation payload within Options.MaxPayloadBytes
// without losing a change above LOW: when the changes above LOW alone do
// not fit, it publishes them as interim parts of the report and carries
// only their number; then it drops lifecycle-only entries (counted in
// omitted) until the payload fits. It returns the ids of the parts
// published, and an error when a part could not be (logged in full, like
// every unpublished notice): the link then fails before continuing.
func (s *Sweeper) fitPayload(ctx context.Context, log *slog.Logger, st *state) ([]string, error) {
	size := func() int {
		b, err := json.Marshal(s.payload(st))
		if err != nil {
			return math.MaxInt
		}
		return len(b)
	}
	if size() <= s.opt.MaxPayloadBytes {
		return nil, nil
	}
	var must, low []notice.SweepChange
	for _, c := range st.changed {
		if c.MustName() {
			must = append(must, c)
		} else {
			low = append(low, c)
		}
	}
	var ids []string
	omitted := st.omitted
	st.changed, st.omitted = must, omitted+len(low) // with no lifecycle-only entry
	if size() > s.opt.MaxPayloadBytes {
		msgs := notice.ForSweep(notice.SweepInput{
			Account: s.opt.Account, Region: s.opt.Region, ChainID: st.chainID, DryRun: st.dryRun,
			StartedAt: st.startedAt, Duration: s.opt.Now().Sub(st.startedAt), Invocations: st.link,
			Counts: st.counts, Changed: must, PartsSent: st.partsSent, Interim: true,
		})
		var err error
		ids, err = s.publishParts(ctx, log, msgs)
		if err != nil {
			st.changed, st.omitted = append(must, low...), omitted
			return ids, err
		}
		st.partsSent += len(msgs)
		st.changed = nil
		log.Warn("sweep report: interim parts published to keep the continuation payload under its limit",
			"parts", len(msgs), "listed", len(must), "report_parts_sent", st.partsSent, "max_payload_bytes", s.opt.MaxPayloadBytes)
	}
	// Lifecycle-only entries, as many as fit: an estimate from their sizes,
	// then checked (the "changed" key and the omitted count grow too).
	room := s.opt.MaxPayloadBytes - size()
	kept := 0
	for _, c := range low {
		b, _ := json.Marshal(c)
		if room -= len(b) + 1; room < 0 {
			break
		}
		kept++
	}
	base := len(st.changed)
	for {
		st.changed = append(st.changed[:base], low[:kept]...)
		st.low, st.omitted = kept, omitted+len(low)-kept
		if kept == 0 || size() <= s.opt.MaxPayloadBytes {
			break
		}
		kept--
	}
	return ids, nil
}

// publishParts publishes every part of a report, even after one fails;
// each that cannot be published is logged in full and counted.
func (s *Sweeper) publishParts(ctx context.Context, log *slog.Logger, msgs []notice.Message) ([]string, error) {
	var ids []string
	var errs []error
	for i, msg := range msgs {
		id, err := s.notices.Publish(ctx, msg)
		if err != nil {
			s.metrics.Count(metrics.NoticeFailures, msg.Attributes["kind"], 1)
			notice.LogUnpublished(log, msg, err)
			errs = append(errs, fmt.Errorf("part %d of %d: %w", i+1, len(msgs), err))
			continue
		}
		ids = append(ids, id)
		log.Info("notice published", "kind", msg.Attributes["kind"], "severity", msg.Attributes["severity"], "message_id", id,
			"subject", msg.Subject)
	}
	return ids, errors.Join(errs...)
}

// finish publishes the chain's digest.
func (s *Sweeper) finish(ctx context.Context, log *slog.Logger, st *state, res Result, begin time.Time, status string) (Result, error) {
	res = s.result(res, st, status)
	complete := status == StatusComplete
	if !complete {
		log.Error("sweep chain stopped before covering every repository: it reached the maximum number of links",
			"max_links", s.opt.MaxLinks, "stop_page_token", st.pos.PageToken, "stop_index", st.pos.Index, "stop_after", st.pos.After)
	}
	msgs := notice.ForSweep(notice.SweepInput{
		Account: s.opt.Account, Region: s.opt.Region, ChainID: st.chainID, DryRun: st.dryRun, Complete: complete,
		StartedAt: st.startedAt, Duration: s.opt.Now().Sub(st.startedAt), Invocations: st.link,
		Counts: st.counts, Changed: st.changed, Omitted: st.omitted, PartsSent: st.partsSent,
	})
	ids, err := s.publishParts(ctx, log, msgs)
	res.MessageIDs = ids
	if len(ids) > 0 {
		res.MessageID = ids[0]
	}
	if err != nil {
		return res, fmt.Errorf("sweep chain %s: publish the report: %w", st.chainID, err)
	}
	msg := msgs[0]
	id := res.MessageID
	log.Info("sweep link stopped", "status", status, "reason", status, "stop_page_token", st.pos.PageToken, "stop_index", st.pos.Index,
		"scanned", st.scanned, "duration_ms", s.opt.Now().Sub(begin).Milliseconds())
	log.Info("sweep finished", "status", status, "dry_run", st.dryRun, "invocations", st.link,
		"duration_seconds", s.opt.Now().Sub(st.startedAt).Seconds(), "counts", st.counts,
		"changed_omitted", st.omitted, "severity", msg.Attributes["severity"], "message_id", id,
		"report_parts", st.partsSent+len(msgs))
	return res, nil
}

func (s *Sweeper) result(res Result, st *state, status string) Result {
	res.Status, res.Scanned, res.Stop, res.Counts = status, st.scanned, st.pos, st.counts
	return res
}

func nonNil(tags []guard.Tag) []guard.Tag {
	if tags == nil {
		return []guard.Tag{}
	}
	return tags
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
