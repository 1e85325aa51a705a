package reconcile

import (
	"context"
	"errors"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Templates reads and writes a registry's repository creation templates
// (internal/ecrrepo). Errors are classified like Repositories'; a missing
// template is guard.ErrTemplateNotFound, one created meanwhile by someone
// else guard.ErrTemplateExists.
type Templates interface {
	Templates(ctx context.Context) ([]guard.Template, error)
	Template(ctx context.Context, prefix string) (guard.Template, error)
	UpdateTemplate(ctx context.Context, prefix string, c guard.TemplateChange) error
	CreateTemplate(ctx context.Context, t guard.Template) error
}

// TemplateKey names one repository creation template.
type TemplateKey struct {
	Partition string
	Registry  string
	Region    string
	Prefix    string
}

// TemplateRequest is one template to reconcile.
type TemplateRequest struct {
	Key TemplateKey
	// Event is the CloudTrail call that triggered it; nil for a resync.
	Event *guard.Event
	// Listed is the template as the caller already read it (the sweep),
	// so it is not read again; Missing says the caller's listing has none
	// with the key's prefix (the sweep's look at ROOT).
	Listed  *guard.Template
	Missing bool
	DryRun  bool
}

// TemplateOutcome is what one template reconcile did. Status means what it
// means for a repository; Gone: the template does not exist and nothing
// is to be said about it.
type TemplateOutcome struct {
	Status Status
	// Template is the live template before the writes; nil when there was
	// none.
	Template *guard.Template
	Plan     guard.TemplatePlan
	Err      error
}

// ReconcileTemplate runs the step for one repository creation template:
// read it, decide with guard.DecideTemplate, fix it (or create the ROOT
// template) with one write. It counts findings as Reconcile does.
func (r *Reconciler) ReconcileTemplate(ctx context.Context, req TemplateRequest) TemplateOutcome {
	rules := r.rules
	rules.DryRun = rules.DryRun || req.DryRun
	o := r.reconcileTemplate(ctx, rules, req)
	if o.Status == Retry && errors.Is(o.Err, guard.ErrTemplateChanged) && req.Listed != nil {
		// Changed since the sweep listed it: decided again, once, on what
		// is there now.
		req.Listed = nil
		o = r.reconcileTemplate(ctx, rules, req)
	}
	r.count(o.Status, o.Plan.Plan)
	return o
}

func (r *Reconciler) reconcileTemplate(ctx context.Context, rules guard.Rules, req TemplateRequest) TemplateOutcome {
	failed := func(area guard.Area, summary string, err error) TemplateOutcome {
		plan := guard.TemplatePlan{Plan: guard.Plan{DryRun: rules.DryRun}}
		plan.Fail(area, summary+": "+err.Error())
		return TemplateOutcome{Status: Failed, Plan: plan, Err: err}
	}
	repos, err := r.registries.For(ctx, req.Key.Registry, req.Key.Region)
	if err != nil {
		if fault.Retryable(err) {
			return TemplateOutcome{Status: Retry, Err: err}
		}
		return failed(guard.AreaAccess, "could not reach registry "+req.Key.Registry+" in "+req.Key.Region, err)
	}
	live := req.Listed
	if live == nil && !req.Missing {
		t, err := repos.Template(ctx, req.Key.Prefix)
		switch {
		case errors.Is(err, guard.ErrTemplateNotFound):
		case err != nil && fault.Retryable(err):
			return TemplateOutcome{Status: Retry, Err: err}
		case err != nil:
			return failed(guard.AreaMutability, "could not read the template", err)
		default:
			live = &t
		}
	}
	plan := rules.DecideTemplate(guard.TemplateInput{Event: req.Event, Template: live, Prefix: req.Key.Prefix, Now: r.now()})
	o := TemplateOutcome{Status: Done, Template: live, Plan: plan}
	if err := writeTemplate(ctx, repos, rules, req.Key.Prefix, live, &o.Plan); err != nil {
		switch {
		case errors.Is(err, guard.ErrTemplateNotFound):
			return TemplateOutcome{Status: Gone, Template: live, Err: err}
		case o.Plan.Kind() != guard.KindFailed:
			// Retryable, or the ROOT template created meanwhile by someone
			// else: the retry reads what is there now.
			return TemplateOutcome{Status: Retry, Template: live, Err: err}
		}
		o.Status, o.Err = Failed, err
	}
	if live == nil && len(o.Plan.Findings) == 0 {
		o.Status = Gone
	}
	return o
}

// writeTemplate makes the plan's one write: create the ROOT template, or
// update the template's governed fields. A permanent failure turns the
// findings of the areas it would have fixed into FAILED.
func writeTemplate(ctx context.Context, repos Templates, rules guard.Rules, prefix string, basis *guard.Template, plan *guard.TemplatePlan) error {
	if plan.DryRun || !plan.Writes() {
		return nil
	}
	var err error
	var what string
	if plan.Create {
		err = repos.CreateTemplate(ctx, rules.RootTemplate())
		what = "could not create the ROOT template"
	} else {
		change := plan.Change()
		change.Basis = basis
		err = repos.UpdateTemplate(ctx, prefix, change)
		what = "could not update the template"
	}
	if err == nil || fault.Retryable(err) || errors.Is(err, guard.ErrTemplateNotFound) || errors.Is(err, guard.ErrTemplateExists) {
		return err
	}
	if plan.Create || plan.SetMutability != nil || len(plan.AddAppliedFor) > 0 {
		plan.Fail(guard.AreaMutability, what+": "+err.Error())
	}
	if plan.PutLifecycle {
		plan.Fail(guard.AreaLifecycle, what+": "+err.Error())
	}
	return err
}

// Resync is what a resync (the sweep, the audit) reconciles of a registry
// whose templates were listed: each listed template, and ROOT even when the
// listing lacks it, since a missing ROOT template is itself a finding.
// registry's Prefix is ignored.
func Resync(registry TemplateKey, listed []guard.Template, dryRun bool) []TemplateRequest {
	reqs := make([]TemplateRequest, 0, len(listed)+1)
	root := false
	for i := range listed {
		key := registry
		key.Prefix = listed[i].Prefix
		reqs = append(reqs, TemplateRequest{Key: key, Listed: &listed[i], DryRun: dryRun})
		root = root || key.Prefix == guard.RootPrefix
	}
	if !root {
		key := registry
		key.Prefix = guard.RootPrefix
		reqs = append(reqs, TemplateRequest{Key: key, Missing: true, DryRun: dryRun})
	}
	return reqs
}
