// Package remediate handles one CloudTrail ECR event: it reads the
// repository's live state, lets the guard rules decide, makes the writes and
// publishes the notice.
package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/cloudtrail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// Repositories reads and writes repository settings.
type Repositories interface {
	Describe(ctx context.Context, name, registryID string) (guard.Repository, error)
	Tags(ctx context.Context, arn string) ([]guard.Tag, error)
	Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error)
	ImagesPushedSince(ctx context.Context, name, registryID string, since time.Time, limit int) ([]guard.Image, bool, error)
	Writer
}

// maxListedImages bounds the images listed in a notice.
const maxListedImages = 100

// Publisher publishes a notice and returns its message id.
type Publisher interface {
	Publish(ctx context.Context, m notice.Message) (string, error)
}

// Metrics counts outcomes.
type Metrics interface {
	Count(metric, kind string, value int)
}

// Handler handles remediation events.
type Handler struct {
	repos   Repositories
	notices Publisher
	metrics Metrics
	rules   guard.Rules
	scope   guard.Scope
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Handler that acts only on repositories in scope (the
// function's own account and region); now is the clock (time.Now in production).
func New(repos Repositories, notices Publisher, metrics Metrics, rules guard.Rules, scope guard.Scope, log *slog.Logger, now func() time.Time) *Handler {
	return &Handler{repos: repos, notices: notices, metrics: metrics, rules: rules, scope: scope, log: log, now: now}
}

// Reasons an event is skipped, the Kind of the Skipped metric.
const (
	skipMalformed     = "malformed"
	skipNotApplicable = "not-applicable"
	skipOutOfScope    = "out-of-scope"
	skipSelf          = "self"
	skipGone          = "repository-gone"
	skipCompliant     = "compliant"
)

// ErrPanic marks an invocation that panicked and was recovered.
var ErrPanic = errors.New("handler panicked")

// Handle processes one EventBridge event. It returns an error when the event
// must be retried or kept (Lambda's async retries, then the failure
// destination): retryable AWS failures, permanent failures after their
// FAILED notice, malformed events, and notices that could not be published.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("handler panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()

	ev, err := cloudtrail.Decode(raw)
	if err != nil {
		var rej *cloudtrail.Rejection
		errors.As(err, &rej)
		h.log.Warn("event rejected", "event_id", rej.ID, "cloudtrail_event_id", rej.EventID, "reason", rej.Reason)
		if errors.Is(err, cloudtrail.ErrNotApplicable) {
			h.metrics.Count(metrics.Skipped, skipNotApplicable, 1)
			return nil
		}
		h.metrics.Count(metrics.Skipped, skipMalformed, 1)
		return err
	}
	if reason := h.scope.OutOfScope(ev); reason != "" {
		h.log.Warn("event rejected", "event_id", ev.ID, "cloudtrail_event_id", ev.EventID, "reason", "out of scope: "+reason)
		h.metrics.Count(metrics.Skipped, skipOutOfScope, 1)
		return nil
	}
	log := h.log.With("event_id", ev.ID, "cloudtrail_event_id", ev.EventID, "event_name", ev.Name, "repository", ev.Repository)
	if len(ev.Warnings) > 0 {
		log.Warn("event members ignored: unexpected types where they do not decide", "warnings", ev.Warnings)
	}

	checks := guard.ChecksFor(ev.Name)
	repo, area, err := h.read(ctx, ev, checks)
	if errors.Is(err, guard.ErrRepositoryNotFound) {
		return h.gone(log, "skipped: the repository no longer exists")
	}
	if err != nil {
		if awsfail.Retryable(err) {
			log.Warn("read failed after the SDK's retries: the event will be retried", "error", err.Error(), "error_code", awsfail.Code(err))
			return fmt.Errorf("read repository %s: %w", ev.Repository, err)
		}
		plan := guard.Plan{DryRun: h.rules.DryRun}
		plan.Fail(area, "could not read the repository: "+err.Error())
		// No checks: the notice must not describe a lifecycle policy it
		// never read.
		return h.report(ctx, log, ev, guard.Checks{}, repo, plan, err)
	}

	plan := h.rules.Decide(guard.Input{Event: &ev, Checks: checks, Repo: repo, Now: h.now()})
	writeErr := Apply(ctx, h.repos, repo, &plan, h.rules.Baseline)
	if errors.Is(writeErr, guard.ErrRepositoryNotFound) {
		return h.gone(log, "skipped: the repository was deleted while it was being fixed")
	}
	if writeErr != nil && plan.Kind() != guard.KindFailed {
		// No notice now: the retry reads the live state again and reports
		// what it finds (REMEDIATED, or OBSERVED if this attempt's first
		// write went through).
		log.Warn("write failed after the SDK's retries: the event will be retried", "error", writeErr.Error(), "error_code", awsfail.Code(writeErr))
		return writeErr
	}
	switch {
	case len(plan.Findings) > 0:
	case plan.Stale:
		return h.gone(log, "skipped: the event is older than the repository, so it was about a deleted repository of the same name", "created_at", repo.CreatedAt)
	case h.rules.IsSelf(ev):
		// The normal echo of ecr-guard's own write: checked, and compliant.
		log.Info("own call: compliant, nothing to do", "principal", ev.Principal.ARN)
		h.metrics.Count(metrics.Skipped, skipSelf, 1)
		return nil
	default:
		log.Info("compliant: nothing to do", "exemption", plan.Exemption.Status)
		h.metrics.Count(metrics.Skipped, skipCompliant, 1)
		return nil
	}
	return h.report(ctx, log, ev, checks, repo, plan, writeErr)
}

// pushedWhileMutable lists the images pushed since the event, for the
// security team to verify. A failure to list them must not hold back the
// notice, so it is reported in the notice instead.
func (h *Handler) pushedWhileMutable(ctx context.Context, log *slog.Logger, ev guard.Event, repo guard.Repository) *notice.PushedImages {
	images, truncated, err := h.repos.ImagesPushedSince(ctx, repo.Name, repo.RegistryID, ev.Time, maxListedImages)
	pushed := &notice.PushedImages{Since: ev.Time, Images: images, Truncated: truncated}
	if err != nil {
		log.Warn("could not list images pushed while tags were mutable", "error", err.Error(), "error_code", awsfail.Code(err))
		pushed.Error = err.Error()
	}
	return pushed
}

// gone ends an event whose repository no longer exists: nothing to fix,
// nothing to report.
func (h *Handler) gone(log *slog.Logger, msg string, args ...any) error {
	log.Info(msg, args...)
	h.metrics.Count(metrics.Skipped, skipGone, 1)
	return nil
}

// read loads what the rules need: the repository, its tags and, when the
// event concerns lifecycle, its lifecycle policy. On failure it says which
// rule's read failed (tags decide the exemption, so they are mutability's).
func (h *Handler) read(ctx context.Context, ev guard.Event, checks guard.Checks) (guard.Repository, guard.Area, error) {
	repo, err := h.repos.Describe(ctx, ev.Repository, ev.RegistryID)
	if err != nil {
		return guard.Repository{Name: ev.Repository, RegistryID: ev.RegistryID}, guard.AreaMutability, err
	}
	if repo.Tags, err = h.repos.Tags(ctx, repo.ARN); err != nil {
		return repo, guard.AreaMutability, err
	}
	if h.rules.NeedsLifecycle(checks) {
		if repo.Lifecycle, err = h.repos.Lifecycle(ctx, repo.Name, repo.RegistryID); err != nil {
			return repo, guard.AreaLifecycle, err
		}
	}
	return repo, "", nil
}

// report publishes the notice for plan. failure is a permanent error that
// already became a FAILED finding; it is logged and returned after the
// notice is out. A notice that cannot be published is logged in full.
func (h *Handler) report(ctx context.Context, log *slog.Logger, ev guard.Event, checks guard.Checks, before guard.Repository, plan guard.Plan, failure error) error {
	in := notice.EventInput{Event: &ev, Checks: checks, Before: before, Plan: plan, Rules: h.rules}
	if plan.MutableWindow() && !plan.Stale { // a stale event's time says nothing about this repository's window
		in.Pushed = h.pushedWhileMutable(ctx, log, ev, before)
	}
	msg := notice.ForEvent(in)
	for _, f := range plan.Findings {
		h.metrics.Count(metrics.ForKind(f.Kind), string(f.Kind), 1)
	}
	if failure != nil {
		log.Error("remediation failed", "error", failure.Error(), "error_code", awsfail.Code(failure), "kind", msg.Attributes["kind"])
	}
	id, err := h.notices.Publish(ctx, msg)
	if err != nil {
		h.metrics.Count(metrics.NoticeFailures, msg.Attributes["kind"], 1)
		notice.LogUnpublished(log, msg, err)
		return errors.Join(failure, fmt.Errorf("publish notice: %w", err))
	}
	log.Info("notice published", "kind", msg.Attributes["kind"], "severity", msg.Attributes["severity"], "message_id", id, "dry_run", plan.DryRun)
	if failure != nil {
		return fmt.Errorf("remediate %s: %w", ev.Repository, failure)
	}
	return nil
}
