package sweep

import (
	"fmt"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// Lifecycle states a seeded repository starts in.
const (
	lcNone     = "none"
	lcBaseline = "baseline"
	lcOther    = "other"
)

// otherPolicy is a valid lifecycle policy that is not the baseline.
const otherPolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1000},"action":{"type":"expire"}}]}`

// repoState is one starting state of a repository and what one sweep must
// leave behind, under testRules (exempt tag environment=dev, expiry tag
// exemption-expires, allowed filter "latest", LIFECYCLE_MODE enforce).
type repoState struct {
	name       string
	mutability string
	filters    []string
	tags       []guard.Tag
	lifecycle  string

	wantMutability string
	wantFilters    []string
	wantLifecycle  string                // lifecycle after the sweep
	want           sweepOutcome          // how the digest counts it
	wantExemption  guard.ExemptionStatus // in the changed list ("" = none)
}

type sweepOutcome struct {
	compliant, remediated, exempt, expired, invalid, lifecycle bool
}

var (
	devTag     = guard.Tag{Key: "environment", Value: "dev"}
	expiredTag = guard.Tag{Key: "exemption-expires", Value: "2020-01-31"}
	futureTag  = guard.Tag{Key: "exemption-expires", Value: "2999-12-31"}
	invalidTag = guard.Tag{Key: "exemption-expires", Value: "next-week"}
)

// repoStates covers every state the sweep distinguishes.
var repoStates = []repoState{
	{name: "compliant", mutability: guard.Immutable, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{compliant: true}},
	{name: "compliant-with-dev-tag", mutability: guard.Immutable, tags: []guard.Tag{devTag}, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{compliant: true}},
	{name: "mutable", mutability: guard.Mutable, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true}},
	{name: "mutable-with-exclusion", mutability: guard.MutableWithExclusion, filters: []string{"latest"}, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true}},
	{name: "immutable-with-exclusion-allowed", mutability: guard.ImmutableWithExclusion, filters: []string{"latest"}, lifecycle: lcBaseline,
		wantMutability: guard.ImmutableWithExclusion, wantFilters: []string{"latest"}, wantLifecycle: lcBaseline, want: sweepOutcome{compliant: true}},
	{name: "immutable-with-exclusion-not-allowed", mutability: guard.ImmutableWithExclusion, filters: []string{"latest", "v*"}, lifecycle: lcBaseline,
		wantMutability: guard.ImmutableWithExclusion, wantFilters: []string{"latest"}, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true}},
	{name: "immutable-with-exclusion-none-allowed", mutability: guard.ImmutableWithExclusion, filters: []string{"release-*"}, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true}},
	{name: "exempt", mutability: guard.Mutable, tags: []guard.Tag{devTag}, lifecycle: lcBaseline,
		wantMutability: guard.Mutable, wantLifecycle: lcBaseline, want: sweepOutcome{exempt: true}},
	{name: "exempt-until-later", mutability: guard.Mutable, tags: []guard.Tag{devTag, futureTag}, lifecycle: lcBaseline,
		wantMutability: guard.Mutable, wantLifecycle: lcBaseline, want: sweepOutcome{exempt: true}},
	{name: "exempt-expired", mutability: guard.Mutable, tags: []guard.Tag{devTag, expiredTag}, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true, expired: true}, wantExemption: guard.ExemptionExpired},
	{name: "exempt-invalid-expiry", mutability: guard.Mutable, tags: []guard.Tag{devTag, invalidTag}, lifecycle: lcBaseline,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true, invalid: true}, wantExemption: guard.ExemptionInvalidExpiry},
	{name: "exempt-missing-lifecycle", mutability: guard.Mutable, tags: []guard.Tag{devTag}, lifecycle: lcNone,
		wantMutability: guard.Mutable, wantLifecycle: lcBaseline, want: sweepOutcome{exempt: true, lifecycle: true}},
	{name: "missing-lifecycle", mutability: guard.Immutable, lifecycle: lcNone,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{lifecycle: true}},
	{name: "different-lifecycle", mutability: guard.Immutable, lifecycle: lcOther,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{lifecycle: true}},
	{name: "mutable-missing-lifecycle", mutability: guard.Mutable, lifecycle: lcNone,
		wantMutability: guard.Immutable, wantLifecycle: lcBaseline, want: sweepOutcome{remediated: true, lifecycle: true}},
}

// seeded is a repository to create: a state and a unique name.
type seeded struct {
	repoState
	repoName string
}

// seedPlan returns n repositories cycling through weights: each state
// appears weight times per round (nil: once).
func seedPlan(n int, weights map[string]int) []seeded {
	var round []repoState
	for _, st := range repoStates {
		w := 1
		if weights != nil {
			w = weights[st.name]
		}
		for range w {
			round = append(round, st)
		}
	}
	out := make([]seeded, n)
	for i := range n {
		st := round[i%len(round)]
		out[i] = seeded{repoState: st, repoName: fmt.Sprintf("sweep/%s-%05d", st.name, i)}
	}
	return out
}

// wantCounts is the digest a first sweep of plan must report.
func wantCounts(plan []seeded) notice.SweepCounts {
	var c notice.SweepCounts
	for _, s := range plan {
		c.Scanned++
		w := s.want
		c.Compliant += b2i(w.compliant)
		c.Remediated += b2i(w.remediated)
		c.Exempt += b2i(w.exempt)
		c.ExpiredExemptions += b2i(w.expired)
		c.InvalidExemptions += b2i(w.invalid)
		c.LifecycleRestored += b2i(w.lifecycle)
	}
	return c
}

// wantSecondCounts is what a second sweep reports: nothing changes, the
// exempt repositories stay exempt.
func wantSecondCounts(plan []seeded) notice.SweepCounts {
	var c notice.SweepCounts
	for _, s := range plan {
		c.Scanned++
		if s.want.exempt {
			c.Exempt++
		} else {
			c.Compliant++
		}
	}
	return c
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func lifecycleText(state string) guard.Lifecycle {
	switch state {
	case lcBaseline:
		return guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
	case lcOther:
		return guard.Lifecycle{Exists: true, Text: otherPolicy}
	}
	return guard.Lifecycle{}
}

// lifecycleState classifies a live policy.
func lifecycleState(t testing.TB, rules guard.Rules, lc guard.Lifecycle) string {
	t.Helper()
	switch {
	case !lc.Exists:
		return lcNone
	case rules.Baseline.Equal(lc.Text):
		return lcBaseline
	}
	return lcOther
}
