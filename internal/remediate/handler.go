// Package remediate is the event path's driver: it decodes one CloudTrail
// ECR event, checks that it is in the function's scope, reconciles the
// repository it names (internal/reconcile) and publishes one notice.
package remediate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/ecr-guard/ecr-guard/internal/cloudtrail"
	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// Handler handles remediation events.
type Handler struct {
	rec     *reconcile.Reconciler
	notices *notify.Notifier
	metrics metrics.Counter
	scope   ScopeSource
	log     *slog.Logger
}

// ScopeSource tells the account and region the function acts in
// (callerid.Resolver, which asks STS once per container).
type ScopeSource interface {
	Scope(ctx context.Context) (guard.Scope, error)
}

// FixedScope is a scope known up front.
type FixedScope guard.Scope

// Scope returns s.
func (s FixedScope) Scope(context.Context) (guard.Scope, error) { return guard.Scope(s), nil }

// New returns a Handler that acts only on repositories in scope (the
// function's own account and region).
func New(rec *reconcile.Reconciler, notices *notify.Notifier, metrics metrics.Counter, scope ScopeSource, log *slog.Logger) *Handler {
	return &Handler{rec: rec, notices: notices, metrics: metrics, scope: scope, log: log}
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
	scope, err := h.scope.Scope(ctx)
	if err != nil {
		h.log.Warn("cannot tell the function's own account: the event will be retried", "event_id", ev.ID, "cloudtrail_event_id", ev.EventID, "error", err.Error())
		return fmt.Errorf("scope: %w", err)
	}
	if reason := scope.OutOfScope(ev); reason != "" {
		h.log.Warn("event rejected", "event_id", ev.ID, "cloudtrail_event_id", ev.EventID, "reason", "out of scope: "+reason)
		h.metrics.Count(metrics.Skipped, skipOutOfScope, 1)
		return nil
	}
	log := h.log.With("event_id", ev.ID, "cloudtrail_event_id", ev.EventID, "event_name", ev.Name, "repository", ev.Repository)
	if len(ev.Warnings) > 0 {
		log.Warn("event members ignored: unexpected types where they do not decide", "warnings", ev.Warnings)
	}

	if guard.IsTemplateEvent(ev.Name) {
		return h.handleTemplate(ctx, log.With("template", ev.Template), scope, ev)
	}
	// In scope, the event's account and region are the function's own, or
	// in an organization the member's it came from.
	key := reconcile.Key{Partition: scope.Partition, Registry: cmp.Or(ev.RegistryID, ev.Account), Region: ev.Region, Name: ev.Repository}
	o := h.rec.Reconcile(ctx, reconcile.Request{Key: key, Checks: guard.ChecksFor(ev.Name), Event: &ev})
	defer h.rec.Flush(ctx)
	defer h.rec.Record(ctx, key, o, &ev) // after the notice
	switch {
	case o.Status == reconcile.Gone && o.Plan.Stale:
		return h.skip(log, skipGone, "skipped: the event is older than the repository, so it was about a deleted repository of the same name", "created_at", o.Repo.CreatedAt)
	case o.Status == reconcile.Gone:
		return h.skip(log, skipGone, "skipped: the repository no longer exists")
	case o.Status == reconcile.Retry:
		return retry(log, ev.Repository, o.Err)
	case len(o.Plan.Findings) > 0:
		return h.report(ctx, log, ev, key, o)
	case h.rec.Rules().IsSelf(ev):
		// The normal echo of ecr-guard's own write: checked, and compliant.
		return h.skip(log, skipSelf, "own call: compliant, nothing to do", "principal", ev.Principal.ARN)
	}
	return h.skip(log, skipCompliant, "compliant: nothing to do", "exemption", o.Plan.Exemption.Status)
}

// retry fails the invocation so that Lambda retries the event. No notice
// now: the retry reads the live state again and reports what it finds.
func retry(log *slog.Logger, what string, err error) error {
	log.Warn("AWS call failed after the SDK's retries: the event will be retried", "error", err.Error(), "error_code", fault.Code(err))
	return fmt.Errorf("reconcile %s: %w", what, err)
}

func (h *Handler) skip(log *slog.Logger, reason, msg string, args ...any) error {
	log.Info(msg, args...)
	h.metrics.Count(metrics.Skipped, reason, 1)
	return nil
}

// report publishes the outcome's notice.
func (h *Handler) report(ctx context.Context, log *slog.Logger, ev guard.Event, key reconcile.Key, o reconcile.Outcome) error {
	shaping, err := h.rec.Shaping(ctx, key, ev, o)
	if err != nil {
		log.Warn("could not read the repository creation templates for the notice", "error", err.Error(), "error_code", fault.Code(err))
	}
	msg := notice.ForEvent(notice.EventInput{Event: &ev, Region: key.Region, Checks: o.Read, Before: o.Repo, Plan: o.Plan, Rules: *h.rec.Rules(), Pushed: o.Pushed, Shaping: shaping})
	if o.Pushed != nil && o.Pushed.Error != "" {
		log.Warn("could not list images pushed while tags were mutable", "error", o.Pushed.Error)
	}
	return h.publish(ctx, log, msg, o.Status, o.Err, ev.Repository)
}

// publish sends a notice. A permanent failure, already a FAILED finding, is
// logged and returned once the notice is out; a notice that cannot be
// published fails the invocation too.
func (h *Handler) publish(ctx context.Context, log *slog.Logger, msg notice.Message, status reconcile.Status, failure error, what string) error {
	if status == reconcile.Failed {
		log.Error("remediation failed", "error", failure.Error(), "error_code", fault.Code(failure), "kind", msg.Attributes["kind"])
	}
	if _, err := h.notices.Send(ctx, log, msg); err != nil {
		return errors.Join(failure, fmt.Errorf("publish notice: %w", err))
	}
	if status == reconcile.Failed {
		return fmt.Errorf("remediate %s: %w", what, failure)
	}
	return nil
}

// handleTemplate reconciles the repository creation template a template
// call names, and publishes one notice as for a repository.
func (h *Handler) handleTemplate(ctx context.Context, log *slog.Logger, scope guard.Scope, ev guard.Event) error {
	key := reconcile.TemplateKey{Partition: scope.Partition, Registry: cmp.Or(ev.RegistryID, ev.Account), Region: ev.Region, Prefix: ev.Template}
	o := h.rec.ReconcileTemplate(ctx, reconcile.TemplateRequest{Key: key, Event: &ev})
	defer h.rec.Flush(ctx)
	defer h.rec.RecordTemplate(ctx, key, o, &ev) // after the notice
	switch {
	case o.Status == reconcile.Gone:
		return h.skip(log, skipGone, "skipped: the template no longer exists")
	case o.Status == reconcile.Retry:
		return retry(log, "template "+ev.Template, o.Err)
	case len(o.Plan.Findings) > 0:
		tmpl := o.Template
		if tmpl == nil {
			tmpl = &guard.Template{Prefix: ev.Template, AppliedFor: ev.Request.AppliedFor}
		}
		msg := notice.ForEvent(notice.EventInput{Event: &ev, Account: key.Registry, Region: key.Region, Checks: guard.ChecksFor(ev.Name), Template: tmpl, Plan: o.Plan.Plan, Rules: *h.rec.Rules()})
		return h.publish(ctx, log, msg, o.Status, o.Err, "template "+ev.Template)
	case o.Plan.Ignored:
		return h.skip(log, skipNotApplicable, "skipped: ROOT_TEMPLATE=off leaves the ROOT template alone")
	case h.rec.Rules().IsSelf(ev):
		return h.skip(log, skipSelf, "own call: compliant, nothing to do", "principal", ev.Principal.ARN)
	}
	return h.skip(log, skipCompliant, "compliant: nothing to do", "exemption", o.Plan.Exemption.Status)
}
