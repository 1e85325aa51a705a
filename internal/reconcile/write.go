package reconcile

import (
	"context"
	"errors"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// write makes the plan's writes (none in a dry run). It returns either
//   - a retryable error with the plan unchanged, when nothing was written and
//     nothing failed for good: the whole step should run again (it reads the
//     live state again and reports what it finds); or
//   - the failures, each one's finding turned into FAILED, when a write
//     failed for good or after another write went through: what did happen
//     is reported now, not hidden behind a retry (the sweep has none).
//
// The lifecycle policy written is the plan's (plan.LifecycleText).
func write(ctx context.Context, repos Repositories, repo guard.Repository, plan *guard.Plan) error {
	if plan.DryRun {
		return nil
	}
	var failed error
	wrote := false
	if s := plan.SetMutability; s != nil {
		err := repos.SetMutability(ctx, repo.Name, repo.RegistryID, *s)
		switch {
		case err == nil:
			wrote = true
		case fault.Retryable(err) || errors.Is(err, guard.ErrRepositoryNotFound):
			return err
		default:
			plan.Fail(guard.AreaMutability, "could not set image tag mutability to "+guard.DescribeMutability(s.Mutability, s.ExclusionFilters)+": "+err.Error())
			failed = err
		}
	}
	if plan.PutLifecycle {
		if err := repos.PutLifecycle(ctx, repo.Name, repo.RegistryID, plan.LifecycleText); err != nil {
			if (fault.Retryable(err) || errors.Is(err, guard.ErrRepositoryNotFound)) && failed == nil && !wrote {
				return err
			}
			plan.Fail(guard.AreaLifecycle, "could not write the lifecycle policy: "+err.Error())
			failed = errors.Join(failed, err)
		}
	}
	return failed
}
