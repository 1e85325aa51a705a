package remediate

import (
	"context"
	"errors"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Writer makes the writes a plan calls for.
type Writer interface {
	SetMutability(ctx context.Context, name, registryID string, s guard.MutabilitySetting) error
	PutLifecycle(ctx context.Context, name, registryID, text string) error
}

// Apply makes the plan's writes (none in a dry run); the event handler and
// the sweep share it. A permanent failure turns the finding into FAILED and
// is returned after the other write is tried; a retryable one is returned at
// once, with the plan unchanged.
func Apply(ctx context.Context, w Writer, repo guard.Repository, plan *guard.Plan, baseline guard.LifecyclePolicy) error {
	if plan.DryRun {
		return nil
	}
	var failed error
	if s := plan.SetMutability; s != nil {
		if err := w.SetMutability(ctx, repo.Name, repo.RegistryID, *s); err != nil {
			if awsfail.Retryable(err) {
				return err
			}
			plan.Fail(guard.AreaMutability, "could not set image tag mutability to "+guard.DescribeMutability(s.Mutability, s.ExclusionFilters)+": "+err.Error())
			failed = err
		}
	}
	if plan.PutLifecycle {
		if err := w.PutLifecycle(ctx, repo.Name, repo.RegistryID, baseline.Text()); err != nil {
			if awsfail.Retryable(err) {
				return err
			}
			plan.Fail(guard.AreaLifecycle, "could not apply the baseline lifecycle policy: "+err.Error())
			failed = errors.Join(failed, err)
		}
	}
	return failed
}
