package notice

import "github.com/ecr-guard/ecr-guard/internal/guard"

// The states of a lifecycle policy, as notices (before/after
// lifecyclePolicy), the audit's lifecycle column and the scenarios name
// them. Each says what the policy is next to the baseline, whatever
// LIFECYCLE_MODE makes of it, so a word is true in every mode: a team's
// policy holding every baseline rule is compliant under contains and is
// replaced under enforce, and is contains-baseline either way.
const (
	LifecycleAbsent   = "absent"   // no lifecycle policy
	LifecycleBaseline = "baseline" // semantically the baseline (guard.LifecyclePolicy.Equal)
	// LifecycleContainsBaseline: every baseline rule, with other
	// priorities or descriptions or with rules of its own
	// (guard.LifecyclePolicy.ContainedIn): what LIFECYCLE_MODE=contains
	// leaves or makes.
	LifecycleContainsBaseline = "contains-baseline"
	LifecycleOther            = "other" // lacks a baseline rule, or is no valid policy
)

// LifecycleState names the state of the policy lc next to baseline.
func LifecycleState(baseline guard.LifecyclePolicy, lc guard.Lifecycle) string {
	switch {
	case !lc.Exists:
		return LifecycleAbsent
	case baseline.Equal(lc.Text):
		return LifecycleBaseline
	case baseline.ContainedIn(lc.Text):
		return LifecycleContainsBaseline
	}
	return LifecycleOther
}
