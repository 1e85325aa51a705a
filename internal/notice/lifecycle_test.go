package notice

import (
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// A team's rule of its own, and the default baseline's two rules after it.
const (
	teamRule         = `{"rulePriority":1,"description":"Keep 100 prod images","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}`
	teamPolicy       = `{"rules":[` + teamRule + `]}`
	teamWithBaseline = `{"rules":[` + teamRule + `,` +
		`{"rulePriority":2,"description":"Expire untagged images 7 days after push","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
		`{"rulePriority":3,"description":"Keep only the 30 most recent images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`
	// The baseline's rules, other priorities and no descriptions: all of
	// them, but not the baseline.
	baselineRenumbered = `{"rules":[` +
		`{"rulePriority":10,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
		`{"rulePriority":20,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`
)

// TestLifecycleStateEveryMode renders the notice of a MUTABLE repository
// created with each kind of lifecycle policy, under each LIFECYCLE_MODE,
// and checks the words before and after: they say what the policy is next
// to the baseline, so a policy LIFECYCLE_MODE=contains leaves or makes is
// contains-baseline, never "other", and off shows no lifecycle state.
func TestLifecycleStateEveryMode(t *testing.T) {
	none := guard.Lifecycle{}
	policy := func(text string) guard.Lifecycle { return guard.Lifecycle{Exists: true, Text: text} }
	baseline := policy(guard.DefaultLifecyclePolicy)
	reformatted := policy(strings.ReplaceAll(guard.DefaultLifecyclePolicy, ",", ", "))
	tests := []struct {
		name          string
		mode          guard.LifecycleMode
		lifecycle     guard.Lifecycle
		before, after string
	}{
		{"enforce, none", guard.LifecycleEnforce, none, guard.PolicyAbsent, guard.PolicyBaseline},
		{"enforce, the baseline", guard.LifecycleEnforce, baseline, guard.PolicyBaseline, guard.PolicyBaseline},
		{"enforce, the baseline reformatted", guard.LifecycleEnforce, reformatted, guard.PolicyBaseline, guard.PolicyBaseline},
		{"enforce, the baseline renumbered", guard.LifecycleEnforce, policy(baselineRenumbered), guard.PolicyContainsBaseline, guard.PolicyBaseline},
		{"enforce, a team's rules and the baseline's", guard.LifecycleEnforce, policy(teamWithBaseline), guard.PolicyContainsBaseline, guard.PolicyBaseline},
		{"enforce, a team's rules only", guard.LifecycleEnforce, policy(teamPolicy), guard.PolicyOther, guard.PolicyBaseline},
		{"enforce, not a policy", guard.LifecycleEnforce, policy(`{"rules":`), guard.PolicyOther, guard.PolicyBaseline},

		{"contains, none", guard.LifecycleContains, none, guard.PolicyAbsent, guard.PolicyBaseline},
		{"contains, the baseline", guard.LifecycleContains, baseline, guard.PolicyBaseline, guard.PolicyBaseline},
		{"contains, the baseline renumbered", guard.LifecycleContains, policy(baselineRenumbered), guard.PolicyContainsBaseline, guard.PolicyContainsBaseline},
		{"contains, a team's rules and the baseline's", guard.LifecycleContains, policy(teamWithBaseline), guard.PolicyContainsBaseline, guard.PolicyContainsBaseline},
		{"contains, a team's rules only: merged", guard.LifecycleContains, policy(teamPolicy), guard.PolicyOther, guard.PolicyContainsBaseline},
		{"contains, not a policy: replaced", guard.LifecycleContains, policy(`{"rules":`), guard.PolicyOther, guard.PolicyBaseline},

		{"missing, none", guard.LifecycleMissing, none, guard.PolicyAbsent, guard.PolicyBaseline},
		{"missing, a team's rules and the baseline's", guard.LifecycleMissing, policy(teamWithBaseline), guard.PolicyContainsBaseline, guard.PolicyContainsBaseline},
		{"missing, a team's rules only", guard.LifecycleMissing, policy(teamPolicy), guard.PolicyOther, guard.PolicyOther},

		{"off, none", guard.LifecycleOff, none, "", ""},
		{"off, a team's rules only", guard.LifecycleOff, policy(teamPolicy), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules(t)
			r.LifecycleMode = tt.mode
			ev := createEvent()
			checks := guard.ChecksFor(ev.Name)
			repo := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable, Lifecycle: tt.lifecycle}
			plan := r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: repo, Now: ev.Time})
			m := ForEvent(EventInput{Event: &ev, Checks: checks, Before: repo, Plan: plan, Rules: r})
			doc := m.Document.(EventDocument)
			if doc.Before.LifecyclePolicy != tt.before || doc.After.LifecyclePolicy != tt.after {
				t.Fatalf("lifecyclePolicy before %q after %q, want %q and %q (findings %+v)",
					doc.Before.LifecyclePolicy, doc.After.LifecyclePolicy, tt.before, tt.after, plan.Findings)
			}
			now := "Now:          image tag mutability IMMUTABLE\n"
			if tt.after != "" {
				now = "Now:          image tag mutability IMMUTABLE, lifecycle policy " + tt.after + "\n"
			}
			if !strings.Contains(m.Text, now) {
				t.Errorf("text lacks %q:\n%s", now, m.Text)
			}
		})
	}
}
