package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// templateResource is Change.ResourceType for a repository creation template.
const templateResource = "template"

// RootTemplate is what the digest says about a target's ROOT template, in
// the chain's wire format (notice.RootTemplate is its form in the digest).
type RootTemplate struct {
	Target
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// sweepTemplates reconciles a target's repository creation templates
// before its repositories, one at a time (a registry has few), and looks
// at its ROOT template even when it has none. Failures are counted and
// reported, never returned: the repositories are swept all the same.
func (s *Sweeper) sweepTemplates(ctx context.Context, log *slog.Logger, st *state, target int) {
	t := st.targets[target]
	templates, err := s.list.ListTemplates(ctx, t)
	if err != nil {
		log.Error("sweep of the target's repository creation templates failed", "error", err.Error(), "error_code", fault.Code(err),
			"retryable", fault.Retryable(err), "account", t.Account, "region", t.Region)
		s.metrics.Count(metrics.Failed, string(guard.KindFailed), 1)
		st.record(target, outcome{counts: Tally{Failed: 1}, change: &Change{Account: t.Account, Region: t.Region, ResourceType: templateResource,
			Name: "(listing templates)", Actions: []guard.Kind{guard.KindFailed}}}, s.opt.MaxChanged)
		return
	}
	registry := reconcile.TemplateKey{Partition: s.opt.Scope.Partition, Registry: t.Account, Region: t.Region}
	for _, req := range reconcile.Resync(registry, templates, st.dryRun) {
		st.record(target, s.visitTemplate(ctx, st, t, req), s.opt.MaxChanged)
	}
}

// visitTemplate reconciles one template (listed, or a ROOT template the
// listing lacks) and turns the outcome into the digest's terms.
func (s *Sweeper) visitTemplate(ctx context.Context, st *state, t Target, req reconcile.TemplateRequest) (o outcome) {
	prefix, listed := req.Key.Prefix, req.Listed
	log := s.log.With("account", t.Account, "region", t.Region, "template", prefix)
	if listed != nil {
		o.counts.Templates = 1
	}
	failed := func() outcome {
		return outcome{counts: Tally{Templates: o.counts.Templates, Failed: 1, TemplatesChanged: 1},
			change: &Change{Account: t.Account, Region: t.Region, ResourceType: templateResource, Name: prefix, Actions: []guard.Kind{guard.KindFailed}}}
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("sweep of the template panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			o = failed()
		}
	}()
	res := s.rec.ReconcileTemplate(ctx, req)
	defer s.rec.RecordTemplate(ctx, req.Key, res, nil) // after the notice of a failure
	switch res.Status {
	case reconcile.Gone:
		return o
	case reconcile.Retry:
		log.Error("sweep of the template failed", "error", res.Err.Error(), "error_code", fault.Code(res.Err), "retryable", true)
		s.metrics.Count(metrics.Failed, string(guard.KindFailed), 1)
		return failed()
	}
	plan := res.Plan
	if len(plan.Findings) == 0 {
		return o
	}
	if prefix == guard.RootPrefix && s.rec.Rules().RootTemplateMode == guard.RootTemplateReport && res.Status != reconcile.Failed {
		// ROOT_TEMPLATE=report: ecr-guard changes nothing about it, so it
		// is not a change: the digest says it once, in its own section.
		st.noteRootTemplate(RootTemplate{Target: t, Status: rootStatus(res), Detail: plan.Findings[0].Summary})
		return o
	}
	o.counts.TemplatesChanged = 1
	if plan.Failed(guard.AreaMutability) || plan.Failed(guard.AreaLifecycle) || plan.Failed(guard.AreaAccess) {
		o.counts.Failed = 1
	}
	o.change = change(t, prefix, plan.Plan)
	o.change.ResourceType = templateResource
	if prefix == guard.RootPrefix && res.Status != reconcile.Failed {
		st.noteRootTemplate(RootTemplate{Target: t, Status: rootStatus(res), Detail: plan.Findings[0].Summary})
	}
	if res.Status == reconcile.Failed {
		tmpl := res.Template
		if tmpl == nil {
			tmpl = &guard.Template{Prefix: prefix}
		}
		msg := notice.ForEvent(notice.EventInput{Account: t.Account, Region: t.Region, Checks: checks, Template: tmpl, Plan: plan.Plan, Rules: *s.rec.Rules()})
		log.Error("sweep of the template failed", "error", res.Err.Error(), "error_code", fault.Code(res.Err), "retryable", false, "kind", msg.Attributes["kind"])
		_, _ = s.notices.Send(ctx, log, msg) // an unpublished notice is logged in full by Send
		return o
	}
	log.Info("template reconciled", "kind", plan.Kind(), "actions", o.change.Actions, "exemption", plan.Exemption.Status, "dry_run", plan.DryRun)
	return o
}

// rootStatus names what the sweep found, or did, about a ROOT template
// (not failed: a failure is a change of its own).
func rootStatus(res reconcile.TemplateOutcome) string {
	p := res.Plan
	switch {
	case p.DryRun && res.Template == nil:
		return notice.RootTemplateMissing
	case p.DryRun:
		return notice.RootTemplateNonCompliant
	case p.Create:
		return notice.RootTemplateCreated
	}
	return notice.RootTemplateFixed
}

func (st *state) noteRootTemplate(r RootTemplate) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rootTemplates = append(st.rootTemplates, r)
}
