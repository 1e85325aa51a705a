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
// the sweep share it. It returns either
//   - a retryable error with the plan unchanged, when nothing was written and
//     nothing failed for good: the whole event should be retried (the retry
//     reads the live state again and reports what it finds); or
//   - the failures, each one's finding turned into FAILED, when a write
//     failed for good or after another write went through: what did happen
//     is reported now, not hidden behind a retry (the sweep has none).
func Apply(ctx context.Context, w Writer, repo guard.Repository, plan *guard.Plan, baseline guard.LifecyclePolicy) error {
	if plan.DryRun {
		return nil
	}
	var failed error
	wrote := false
	if s := plan.SetMutability; s != nil {
		err := w.SetMutability(ctx, repo.Name, repo.RegistryID, *s)
		switch {
		case err == nil:
			wrote = true
		case awsfail.Retryable(err):
			return err
		default:
			plan.Fail(guard.AreaMutability, "could not set image tag mutability to "+guard.DescribeMutability(s.Mutability, s.ExclusionFilters)+": "+err.Error())
			failed = err
		}
	}
	if plan.PutLifecycle {
		if err := w.PutLifecycle(ctx, repo.Name, repo.RegistryID, baseline.Text()); err != nil {
			if awsfail.Retryable(err) && failed == nil && !wrote {
				return err
			}
			plan.Fail(guard.AreaLifecycle, "could not apply the baseline lifecycle policy: "+err.Error())
			failed = errors.Join(failed, err)
		}
	}
	return failed
}
