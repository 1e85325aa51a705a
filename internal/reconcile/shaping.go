package reconcile

import (
	"context"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Shaping finds the template ECR applied when it created the repository an
// event names on its own (guard.ServiceCreation), so the notice of a
// repository born non-compliant names the template to fix. nil when the
// event is no such creation or the templates cannot be read: the notice
// then says nothing about it, and the error is returned for the log.
func (r *Reconciler) Shaping(ctx context.Context, key Key, ev guard.Event) (*guard.Shaping, error) {
	appliedFor, ok := guard.ServiceCreation(ev)
	if !ok {
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
