package guard

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// archiveBaseline is a baseline that archives: expire untagged images after
// a week, archive what nothing pulled for 90 days, delete what was archived
// a year ago.
const archiveBaseline = `{"rules":[` +
	`{"rulePriority":1,"description":"Expire untagged images 7 days after push","selection":` + selUntagged7 + `,"action":` + actExpire + `},` +
	`{"rulePriority":2,"description":"Archive images not pulled for 90 days","selection":` + selPulled90 + `,"action":` + actArchive + `},` +
	`{"rulePriority":3,"description":"Delete images archived a year ago","selection":` + selArchived365 + `,"action":` + actExpire + `}]}`

func mustParse(t testing.TB, text string) LifecyclePolicy {
	t.Helper()
	p, err := ParseLifecyclePolicy(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// teamRule is a team's rule with its own description.
func teamRule(priority int, description, selection, action string) string {
	return `{"rulePriority":` + strconv.Itoa(priority) + `,"description":"` + description + `","selection":` + selection + `,"action":` + action + `}`
}

const (
	selProdPrefix100 = `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100}`
	selDevPrefix30   = `{"tagStatus":"tagged","tagPrefixList":["dev"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30}`
	selUntagged14    = `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14}`
	selAny100        = `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100}`
)

func TestMergeBaselineRules(t *testing.T) {
	tests := []struct {
		name, baseline, team string
		wantAdded            []string // name (priority N)
		wantRemoved          []string
		wantRenumbered       bool
		wantText             string // when set, the merged policy exactly
	}{
		{
			name:      "the team's own rule first, the baseline after it",
			baseline:  DefaultLifecyclePolicy,
			team:      policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire)),
			wantAdded: []string{"Expire untagged images 7 days after push (priority 2)", "Keep only the 30 most recent images (priority 3)"},
			wantText: `{"rules":[` +
				`{"rulePriority":1,"description":"Keep 100 prod images","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},` +
				`{"rulePriority":2,"description":"Expire untagged images 7 days after push","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
				`{"rulePriority":3,"description":"Keep only the 30 most recent images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`,
		},
		{
			// The baseline's rules cannot follow at 2^31 and up: ECR's
			// priorities are integers, so the rules are numbered again.
			name:           "a team rule at the largest priority: renumbered, not past ECR's integers",
			baseline:       DefaultLifecyclePolicy,
			team:           policy(teamRule(2147483647, "Keep 100 prod images", selProdPrefix100, actExpire)),
			wantAdded:      []string{"Expire untagged images 7 days after push (priority 2)", "Keep only the 30 most recent images (priority 3)"},
			wantRenumbered: true,
		},
		{
			name:        "the team's any rule gives way to the baseline's",
			baseline:    DefaultLifecyclePolicy,
			team:        policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(5, "Keep 100 images", selAny100, actExpire)),
			wantAdded:   []string{"Expire untagged images 7 days after push (priority 2)", "Keep only the 30 most recent images (priority 3)"},
			wantRemoved: []string{"Keep 100 images (priority 5)"},
		},
		{
			name:     "the team's untagged rule gives way to the baseline's",
			baseline: DefaultLifecyclePolicy,
			team: policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(2, "Untagged for two weeks", selUntagged14, actExpire),
				teamRule(3, "Dev images for 30 days", selDevPrefix30, actExpire)),
			wantAdded:   []string{"Expire untagged images 7 days after push (priority 4)", "Keep only the 30 most recent images (priority 5)"},
			wantRemoved: []string{"Untagged for two weeks (priority 2)"},
		},
		{
			name:      "a missing rule goes before the any rule of its storage class",
			baseline:  DefaultLifecyclePolicy,
			team:      policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(10, "Our copy of the baseline's any rule", selAny30, actExpire)),
			wantAdded: []string{"Expire untagged images 7 days after push (priority 2)"},
		},
		{
			name:           "no room before the any rule: the rules are numbered again, in order",
			baseline:       DefaultLifecyclePolicy,
			team:           policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(2, "Our copy of the baseline's any rule", selAny30, actExpire)),
			wantAdded:      []string{"Expire untagged images 7 days after push (priority 2)"},
			wantRenumbered: true,
			wantText: `{"rules":[` +
				`{"rulePriority":1,"description":"Keep 100 prod images","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},` +
				`{"rulePriority":2,"description":"Expire untagged images 7 days after push","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
				`{"rulePriority":3,"description":"Our copy of the baseline's any rule","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`,
		},
		{
			name:     "a team that archives: its standard any rule gives way, its archive rule stays",
			baseline: DefaultLifecyclePolicy,
			team: policy(teamRule(1, "Archive what nobody pulled", selPulled90, actArchive),
				teamRule(2, "Delete archived after a year", selArchived365, actExpire)),
			wantAdded:   []string{"Expire untagged images 7 days after push (priority 3)", "Keep only the 30 most recent images (priority 4)"},
			wantRemoved: []string{"Archive what nobody pulled (priority 1)"},
		},
		{
			name:     "an archiving baseline after the team's rules",
			baseline: archiveBaseline,
			team:     policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(2, "Dev images for 30 days", selDevPrefix30, actExpire)),
			wantAdded: []string{"Expire untagged images 7 days after push (priority 3)", "Archive images not pulled for 90 days (priority 4)",
				"Delete images archived a year ago (priority 5)"},
		},
		{
			name:     "an archiving baseline: only the missing rule is added",
			baseline: archiveBaseline,
			team: policy(teamRule(3, "Delete archived after a year", selArchived365, actExpire),
				teamRule(1, "Expire untagged images 7 days after push, our words", selUntagged7, actExpire)),
			wantAdded:   []string{"Archive images not pulled for 90 days (priority 4)"},
			wantRemoved: nil, // the team's archive rule is the baseline's, described otherwise
		},
		{
			name:     "a rule without a description is named by what it does",
			baseline: DefaultLifecyclePolicy,
			team: policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire),
				`{"rulePriority":2,"selection":`+selUntagged14+`,"action":{"type":"expire"}}`),
			wantAdded:   []string{"Expire untagged images 7 days after push (priority 2)", "Keep only the 30 most recent images (priority 3)"},
			wantRemoved: []string{"untagged sinceImagePushed 14 days: expire (priority 2)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseline := mustParse(t, tt.baseline)
			team := mustParse(t, tt.team)
			m, err := baseline.merge(team.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(m.added); !slices.Equal(got, tt.wantAdded) {
				t.Errorf("added %q, want %q", got, tt.wantAdded)
			}
			if got := names(m.removed); !slices.Equal(got, tt.wantRemoved) {
				t.Errorf("removed %q, want %q", got, tt.wantRemoved)
			}
			if m.renumbered != tt.wantRenumbered {
				t.Errorf("renumbered = %v, want %v", m.renumbered, tt.wantRenumbered)
			}
			if tt.wantText != "" && m.text != tt.wantText {
				t.Errorf("merged policy\n%s\nwant\n%s", m.text, tt.wantText)
			}
			checkMerge(t, baseline, team.rules, m)
		})
	}
}

func names(rules []lifecycleRule) []string {
	if len(rules) == 0 {
		return nil
	}
	return strings.Split(describeRules(rules), ", ")
}

// checkMerge asserts what every merge promises: a valid policy with every
// baseline rule, the team's rules kept unchanged but for a priority given
// in the same order when renumbered, each rule removed only for a
// conflict, and nothing left to add.
func checkMerge(t testing.TB, baseline LifecyclePolicy, team []lifecycleRule, m lifecycleMerge) {
	t.Helper()
	if len(baseline.missingFrom(team)) == 0 {
		if m.text != "" || m.added != nil {
			t.Fatalf("nothing was missing, yet the merge is %+v", m)
		}
		return
	}
	merged, err := parseLifecycleRules(m.text)
	if err != nil {
		t.Fatalf("the merged policy is not valid: %v\n%s", err, m.text)
	}
	if missing := baseline.missingFrom(merged); len(missing) > 0 {
		t.Fatalf("the merged policy lacks %s\n%s", describeRules(missing), m.text)
	}
	if !baseline.ContainedIn(m.text) {
		t.Fatalf("ContainedIn(merged) = false\n%s", m.text)
	}
	if again, err := baseline.merge(merged); err != nil || len(again.added) > 0 {
		t.Fatalf("merging again: %+v, %v", again, err)
	}
	last := -1
	for _, r := range team {
		if slices.ContainsFunc(m.removed, func(x lifecycleRule) bool { return x.identity() == r.identity() && x.Description == r.Description }) {
			if !slices.ContainsFunc(m.added, func(a lifecycleRule) bool { return conflicts(r, a) }) {
				t.Fatalf("%s was removed without a conflict\n%s", r.name(), m.text)
			}
			continue
		}
		i := slices.IndexFunc(merged, func(x lifecycleRule) bool { return x.identity() == r.identity() && x.Description == r.Description })
		switch {
		case i < 0:
			t.Fatalf("the team's rule %s is gone\n%s", r.name(), m.text)
		case i < last:
			t.Fatalf("the team's rule %s moved before another of theirs\n%s", r.name(), m.text)
		case !m.renumbered && merged[i].RulePriority != r.RulePriority:
			t.Fatalf("the team's rule %s got priority %d without renumbering\n%s", r.name(), merged[i].RulePriority, m.text)
		}
		last = i
	}
}

// mergePalette holds the rules the property tests build team policies
// from: every count type and action, both storage classes, and rules that
// conflict with, or copy, the baselines' rules.
var mergePalette = [][2]string{
	{selProdPrefix100, actExpire},
	{`{"tagStatus":"tagged","tagPatternList":["release-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":365}`, actArchive},
	{selUntagged14, actExpire},
	{selAny100, actExpire},
	{selPulled90, actArchive},
	{strings.Replace(selArchived365, "365", "180", 1), actExpire},
	{`{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}`, actExpire},
	{selDevPrefix30, actExpire},
	{selUntagged7, actExpire}, // the baselines' untagged rule
	{selAny30, actExpire},     // the default baseline's any rule
	{`{"tagStatus":"tagged","tagPatternList":["*-rc*"],"countType":"imageCountMoreThan","countNumber":5}`, actArchive},
	{`{"tagStatus":"tagged","tagPrefixList":["prod"],"storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`, actExpire},
	{selArchived365, actExpire}, // the archive baseline's archive rule
}

// teamPolicy builds a policy from palette picks and priorities.
func teamPolicy(picks, priorities []int) string {
	rules := make([]string, len(picks))
	for i, k := range picks {
		p := mergePalette[k%len(mergePalette)]
		rules[i] = teamRule(priorities[i], "team rule "+strconv.Itoa(i), p[0], p[1])
	}
	return policy(rules...)
}

// checkMergeOf merges the baseline into the team's policy, when that is a
// valid one, and checks the result.
func checkMergeOf(t testing.TB, baseline LifecyclePolicy, text string) {
	t.Helper()
	team, err := parseLifecycleRules(text)
	if err != nil {
		return // not a policy ECR would have stored
	}
	m, err := baseline.merge(team)
	if err != nil {
		t.Fatalf("merging into\n%s\n%v", text, err)
	}
	checkMerge(t, baseline, team, m)
}

// TestMergeKeepsPoliciesValid: every team policy of one or two palette
// rules, in either order, numbered tightly and loosely, and of three, in
// both directions, numbered tightly.
func TestMergeKeepsPoliciesValid(t *testing.T) {
	baselines := []LifecyclePolicy{mustParse(t, DefaultLifecyclePolicy), mustParse(t, archiveBaseline)}
	n := len(mergePalette)
	check := func(picks []int, step int) bool {
		priorities := make([]int, len(picks))
		for i := range picks {
			priorities[i] = (i + 1) * step
		}
		text := teamPolicy(picks, priorities)
		if _, err := parseLifecycleRules(text); err != nil {
			return false
		}
		for _, b := range baselines {
			checkMergeOf(t, b, text)
		}
		return true
	}
	valid := 0
	for a := range n {
		for _, step := range []int{1, 10} {
			if check([]int{a}, step) {
				valid++
			}
			for b := range n {
				if b != a && check([]int{a, b}, step) {
					valid++
				}
			}
		}
		for b := a + 1; b < n; b++ {
			for c := b + 1; c < n; c++ {
				for _, picks := range [][]int{{a, b, c}, {c, b, a}} {
					if check(picks, 1) {
						valid++
					}
				}
			}
		}
	}
	if valid < 300 {
		t.Fatalf("only %d valid team policies: the palette no longer covers the merge", valid)
	}
}

// FuzzMergeKeepsPoliciesValid: team policies from palette picks and
// priorities the fuzzer chooses, two bytes a rule.
func FuzzMergeKeepsPoliciesValid(f *testing.F) {
	f.Add([]byte{0, 1, 9, 2})
	f.Add([]byte{0, 1, 2, 2, 3, 5})
	f.Add([]byte{4, 1, 5, 2, 12, 3})
	f.Add([]byte{8, 3, 0, 1, 9, 2})
	baselines := []LifecyclePolicy{mustParse(f, DefaultLifecyclePolicy), mustParse(f, archiveBaseline)}
	f.Fuzz(func(t *testing.T, b []byte) {
		var picks, priorities []int
		for i := 0; i+1 < len(b) && len(picks) < 8; i += 2 {
			picks = append(picks, int(b[i]))
			priorities = append(priorities, int(b[i+1])+1)
		}
		if len(picks) == 0 {
			return
		}
		text := teamPolicy(picks, priorities)
		for _, baseline := range baselines {
			checkMergeOf(t, baseline, text)
		}
	})
}

func TestContainedIn(t *testing.T) {
	baseline := mustParse(t, DefaultLifecyclePolicy)
	tests := []struct {
		name, text string
		want       bool
	}{
		{"the baseline", DefaultLifecyclePolicy, true},
		{"the baseline's rules among the team's, other priorities and descriptions",
			policy(teamRule(1, "prod", selProdPrefix100, actExpire), teamRule(4, "untagged", selUntagged7, actExpire), teamRule(9, "any", selAny30, actExpire)), true},
		{"storageClass standard spelt out", policy(teamRule(1, "u", strings.Replace(selUntagged7, `"countType"`, `"storageClass":"standard","countType"`, 1), actExpire),
			teamRule(2, "a", selAny30, actExpire)), true},
		{"one baseline rule missing", policy(teamRule(1, "prod", selProdPrefix100, actExpire), teamRule(9, "any", selAny30, actExpire)), false},
		{"a baseline rule weakened", policy(teamRule(1, "u", selUntagged7, actExpire), teamRule(2, "a", selAny100, actExpire)), false},
		{"a baseline rule archiving instead of expiring", policy(teamRule(1, "u", selUntagged7, actExpire), teamRule(2, "a", selAny30, actArchive)), false},
		{"a duplicate key", duplicateKeyPolicies[0].text, false},
		{"not JSON", "{", false},
	}
	for _, tt := range tests {
		if got := baseline.ContainedIn(tt.text); got != tt.want {
			t.Errorf("%s: ContainedIn = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideContains: LIFECYCLE_MODE=contains through Decide.
func TestDecideContains(t *testing.T) {
	team := policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire))
	withBaseline := policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire),
		teamRule(2, "u", selUntagged7, actExpire), teamRule(3, "a", selAny30, actExpire))
	tests := []struct {
		name        string
		dryRun      bool
		event       *Event
		live        Lifecycle
		wantKinds   []Kind
		wantSummary string
		wantText    string // the policy the plan writes; "" for none
	}{
		{name: "the baseline itself", live: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy}},
		{name: "the team's rules and the baseline's", live: Lifecycle{Exists: true, Text: withBaseline}},
		{
			name: "no policy", live: Lifecycle{},
			wantKinds:   []Kind{KindLifecycleRestored},
			wantSummary: "no lifecycle policy; applied the baseline lifecycle policy",
			wantText:    DefaultLifecyclePolicy,
		},
		{
			name: "baseline rules missing", live: Lifecycle{Exists: true, Text: team},
			wantKinds: []Kind{KindLifecycleRestored},
			wantSummary: "lifecycle policy lacks baseline rules; added baseline rules: Expire untagged images 7 days after push (priority 2), " +
				"Keep only the 30 most recent images (priority 3)",
			wantText: withBaselineMerged(t, team),
		},
		{
			name: "baseline rules missing, dry run", dryRun: true, live: Lifecycle{Exists: true, Text: team},
			wantKinds: []Kind{KindWouldRestoreLifecycle},
			wantSummary: "dry run: lifecycle policy lacks baseline rules; would add baseline rules: Expire untagged images 7 days after push (priority 2), " +
				"Keep only the 30 most recent images (priority 3)",
			wantText: withBaselineMerged(t, team),
		},
		{
			name:      "a conflicting rule removed",
			live:      Lifecycle{Exists: true, Text: policy(teamRule(1, "Keep 100 prod images", selProdPrefix100, actExpire), teamRule(5, "Keep 100 images", selAny100, actExpire))},
			wantKinds: []Kind{KindLifecycleRestored},
			wantSummary: "lifecycle policy lacks baseline rules; added baseline rules: Expire untagged images 7 days after push (priority 2), " +
				"Keep only the 30 most recent images (priority 3); removed conflicting rules: Keep 100 images (priority 5)",
		},
		{
			name:        "a policy that is not valid is replaced",
			live:        Lifecycle{Exists: true, Text: duplicateKeyPolicies[0].text},
			wantKinds:   []Kind{KindLifecycleRestored},
			wantSummary: `lifecycle policy is not valid (duplicate key "rules"); applied the baseline lifecycle policy`,
			wantText:    DefaultLifecyclePolicy,
		},
		{
			name:        "merged rules over ECR's length are replaced",
			live:        Lifecycle{Exists: true, Text: policy(teamRule(1, strings.Repeat("x", 30500), selProdPrefix100, actExpire))},
			wantKinds:   []Kind{KindLifecycleRestored},
			wantSummary: "lifecycle policy lacks baseline rules that cannot be merged in (the merged policy would not be valid: the policy is",
			wantText:    DefaultLifecyclePolicy,
		},
		{
			name:        "PutLifecyclePolicy left baseline rules out; they are back",
			event:       event(EventPutLifecyclePolicy, Request{LifecyclePolicy: team}),
			live:        Lifecycle{Exists: true, Text: withBaseline},
			wantKinds:   []Kind{KindObserved},
			wantSummary: "PutLifecyclePolicy left out baseline rules; the baseline rules are in place again",
		},
		{
			name:  "PutLifecyclePolicy kept the baseline rules",
			event: event(EventPutLifecyclePolicy, Request{LifecyclePolicy: withBaseline}),
			live:  Lifecycle{Exists: true, Text: withBaseline},
		},
		{
			name:        "DeleteLifecyclePolicy, and the rules are back",
			event:       event(EventDeleteLifecyclePolicy, Request{}),
			live:        Lifecycle{Exists: true, Text: withBaseline},
			wantKinds:   []Kind{KindObserved},
			wantSummary: "DeleteLifecyclePolicy removed the lifecycle policy; the baseline rules are in place again",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules(t)
			rules.LifecycleMode, rules.DryRun = LifecycleContains, tt.dryRun
			checks := Checks{Lifecycle: true}
			if tt.event != nil {
				checks = ChecksFor(tt.event.Name)
			}
			p := rules.Decide(Input{Event: tt.event, Checks: checks, Repo: withLifecycle(repo(Immutable, nil), tt.live), Now: now})
			if got := kinds(p); !slices.Equal(got, tt.wantKinds) {
				t.Fatalf("kinds = %v, want %v (%+v)", got, tt.wantKinds, p.Findings)
			}
			if tt.wantSummary != "" && !strings.HasPrefix(p.Findings[0].Summary, tt.wantSummary) {
				t.Errorf("summary %q, want it to start with %q", p.Findings[0].Summary, tt.wantSummary)
			}
			wantPut := slices.Contains(tt.wantKinds, KindLifecycleRestored) || slices.Contains(tt.wantKinds, KindWouldRestoreLifecycle)
			if p.PutLifecycle != wantPut || p.PutLifecycle != (p.LifecycleText != "") {
				t.Errorf("PutLifecycle = %v with LifecycleText %q, want a write: %v", p.PutLifecycle, p.LifecycleText, wantPut)
			}
			if tt.wantText != "" && p.LifecycleText != tt.wantText {
				t.Errorf("LifecycleText\n%s\nwant\n%s", p.LifecycleText, tt.wantText)
			}
			if p.PutLifecycle {
				if _, err := ParseLifecyclePolicy(p.LifecycleText); err != nil {
					t.Errorf("the plan writes a policy ECR would refuse: %v", err)
				}
				if !p.DryRun && !rules.Baseline.ContainedIn(p.After(repo(Immutable, nil)).Lifecycle.Text) {
					t.Error("the state after the plan lacks baseline rules")
				}
			}
		})
	}
}

// withBaselineMerged is the default baseline merged into team's policy.
func withBaselineMerged(t *testing.T, team string) string {
	t.Helper()
	m, err := mustParse(t, DefaultLifecyclePolicy).merge(mustParse(t, team).rules)
	if err != nil {
		t.Fatal(err)
	}
	return m.text
}

// TestModesLeaveTheTeamsPolicy: the other modes keep their meaning beside
// contains (enforce replaces a policy that contains the baseline's rules
// among others; missing and off keep it).
func TestModesLeaveTheTeamsPolicy(t *testing.T) {
	live := Lifecycle{Exists: true, Text: policy(teamRule(1, "prod", selProdPrefix100, actExpire))}
	for mode, wantText := range map[LifecycleMode]string{
		LifecycleEnforce:  DefaultLifecyclePolicy,
		LifecycleMissing:  "",
		LifecycleOff:      "",
		LifecycleContains: withBaselineMerged(t, live.Text),
	} {
		rules := testRules(t)
		rules.LifecycleMode = mode
		p := rules.Decide(Input{Checks: Checks{Lifecycle: true}, Repo: withLifecycle(repo(Immutable, nil), live), Now: now})
		if p.LifecycleText != wantText || p.PutLifecycle != (wantText != "") {
			t.Errorf("%s: PutLifecycle %v, LifecycleText %q, want %q", mode, p.PutLifecycle, p.LifecycleText, wantText)
		}
	}
}
