package reconcile

import (
	"context"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Shaping finds the template ECR applied when it created the repository an
// event names on its own (guard.ServiceCreation) and o found it
// non-compliant, so the notice names the template to fix for the next one.
// nil otherwise, or when the templates cannot be read: the notice then says
// nothing about it, and the error is returned for the log.
func (r *Reconciler) Shaping(ctx context.Context, key Key, ev guard.Event, o Outcome) (*guard.Shaping, error) {
	appliedFor, ok := guard.ServiceCreation(ev)
	p := o.Plan
	if !ok || !(p.SetMutability != nil || p.PutLifecycle || p.Failed(guard.AreaMutability)) {
		return nil, nil
	}
	repos, err := r.registries.For(ctx, key.Registry, key.Region)
	if err != nil {
		return nil, err
	}
	templates, err := repos.Templates(ctx)
	if err != nil {
		return nil, err
	}
	s := &guard.Shaping{AppliedFor: appliedFor}
	if t, ok := guard.ShapingTemplate(templates, key.Name, appliedFor); ok {
		s.Template = &t
	}
	return s, nil
}
