package guard

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultLifecyclePolicyIsValid(t *testing.T) {
	p, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatalf("the default policy must be valid: %v", err)
	}
	if !p.Equal(DefaultLifecyclePolicy) {
		t.Fatal("a policy must equal its own text")
	}
}

func TestParseLifecyclePolicyRejectsWhatECRRejects(t *testing.T) {
	rule := func(priority int, selection string) string {
		return `{"rulePriority":` + strconv.Itoa(priority) + `,"selection":` + selection + `,"action":{"type":"expire"}}`
	}
	policy := func(rules ...string) string { return `{"rules":[` + strings.Join(rules, ",") + `]}` }
	untagged := `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7}`
	anyCount := `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30}`

	tests := []struct {
		name, policy, wantErr string
	}{
		{"security docs draft: any first", policy(rule(1, anyCount), rule(2, untagged)), `"any" rule (rulePriority 1) must have the highest rulePriority (2)`},
		{"bad JSON", `{"rules":[`, "not valid JSON"},
		{"no rules", `{"rules":[]}`, "at least one rule"},
		{"duplicate priorities", policy(rule(1, untagged), rule(1, anyCount)), "duplicate rulePriority 1"},
		{"missing priority", `{"rules":[{"selection":` + untagged + `,"action":{"type":"expire"}}]}`, "rulePriority must be a positive integer"},
		{"unknown countType", policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountLessThan","countNumber":7}`)), `unknown countType "imageCountLessThan"`},
		{"unknown countUnit", policy(rule(1, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"weeks","countNumber":7}`)), `needs countUnit "days", got "weeks"`},
		{"countUnit with imageCountMoreThan", policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":7}`)), "countUnit is not allowed"},
		{"unknown tagStatus", policy(rule(1, `{"tagStatus":"all","countType":"imageCountMoreThan","countNumber":7}`)), `unknown tagStatus "all"`},
		{"tagged without prefix or pattern list", policy(rule(1, `{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":7}`)), "needs a tagPrefixList or tagPatternList"},
		{"prefix list on untagged", policy(rule(1, `{"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":7}`)), "only allowed with tagStatus"},
		{"zero countNumber", policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0}`)), "countNumber must be a positive integer"},
		{"unknown action", `{"rules":[{"rulePriority":1,"selection":` + untagged + `,"action":{"type":"delete"}}]}`, `unknown action type "delete"`},
		{"two any rules", policy(rule(1, anyCount), rule(2, anyCount)), `only one rule may have tagStatus "any"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLifecyclePolicy(tt.policy)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	valid := policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":100}`), rule(2, untagged), rule(10, anyCount))
	if _, err := ParseLifecyclePolicy(valid); err != nil {
		t.Fatalf("valid policy rejected: %v", err)
	}
}

func TestLifecyclePolicyEqualIsSemantic(t *testing.T) {
	p, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		want       bool
	}{
		{"identical", DefaultLifecyclePolicy, true},
		{"whitespace and key order", strings.ReplaceAll(DefaultLifecyclePolicy, ",", " ,\n "), true},
		{"other count", strings.Replace(DefaultLifecyclePolicy, `"countNumber":30`, `"countNumber":31`, 1), false},
		{"a rule dropped", `{"rules":[{"rulePriority":2,"description":"Keep only the 30 most recent images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`, false},
		{"not JSON", "{", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		if got := p.Equal(tt.text); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestZeroLifecyclePolicyEqualsNothing(t *testing.T) {
	var zero LifecyclePolicy
	if zero.Equal("") || zero.Equal(DefaultLifecyclePolicy) {
		t.Error("a zero LifecyclePolicy must not equal any text")
	}
}

// Duplicate keys: encoding/json keeps the last one silently, so these would
// otherwise validate (or compare equal to the baseline) by their last key.
const (
	untaggedRule = `{"rulePriority":1,"description":"Expire untagged images 7 days after push",` +
		`"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},` +
		`"action":{"type":"expire"}}`
	anyRule = `{"rulePriority":2,"description":"Keep only the 30 most recent images",` +
		`"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},` +
		`"action":{"type":"expire"}}`
	weakRule = `{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1000},"action":{"type":"expire"}}`
)

var duplicateKeyPolicies = []struct {
	name, text, wantErr string
}{
	{"top level, baseline last", `{"rules":[` + weakRule + `],"rules":[` + untaggedRule + `,` + anyRule + `]}`, `duplicate key "rules"`},
	{"top level, baseline first", `{"rules":[` + untaggedRule + `,` + anyRule + `],"rules":[` + weakRule + `]}`, `duplicate key "rules"`},
	{"top level, escaped spelling", `{"rules":[` + weakRule + `],"rul\u0065s":[` + untaggedRule + `,` + anyRule + `]}`, `duplicate key "rules"`},
	{"top level, whitespace around", "{ \"rules\" : [" + weakRule + "] ,\n \"rules\" : [" + untaggedRule + ",\n" + anyRule + "] }", `duplicate key "rules"`},
	{"in a rule", `{"rules":[` + untaggedRule + `,{"rulePriority":2,"rulePriority":2,"description":"Keep only the 30 most recent images",` +
		`"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`, `duplicate key "rulePriority" in rules[1]`},
	{"in a selection", `{"rules":[` + untaggedRule + `,{"rulePriority":2,"description":"Keep only the 30 most recent images",` +
		`"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1000,"countNumber":30},"action":{"type":"expire"}}]}`, `duplicate key "countNumber" in rules[1].selection`},
	{"in an action, same value twice", `{"rules":[{"rulePriority":1,"description":"Expire untagged images 7 days after push",` +
		`"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},` +
		`"action":{"type":"expire","type":"expire"}},` + anyRule + `]}`, `duplicate key "type" in rules[0].action`},
	{"rules reordered and a nested duplicate", `{"rules":[` + anyRule + `,{"rulePriority":1,"description":"Expire untagged images 7 days after push",` +
		`"selection":{"tagStatus":"untagged","tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},` +
		`"action":{"type":"expire"}}]}`, `duplicate key "tagStatus" in rules[1].selection`},
}

func TestParseLifecyclePolicyRejectsDuplicateKeys(t *testing.T) {
	for _, tt := range duplicateKeyPolicies {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLifecyclePolicy(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	// The same key in different objects is no duplicate.
	if _, err := ParseLifecyclePolicy(`{"rules":[` + untaggedRule + `,` + anyRule + `]}`); err != nil {
		t.Fatalf("valid policy rejected: %v", err)
	}
}

func TestLifecyclePolicyEqualRejectsDuplicateKeys(t *testing.T) {
	p, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range duplicateKeyPolicies {
		t.Run(tt.name, func(t *testing.T) {
			if p.Equal(tt.text) {
				t.Fatalf("Equal(%s) = true, want false", tt.text)
			}
		})
	}
	for name, text := range map[string]string{
		"no duplicates":    `{"rules":[` + untaggedRule + `,` + anyRule + `]}`,
		"rules reordered":  `{"rules":[` + anyRule + `,` + untaggedRule + `]}`,
		"escaped spelling": `{"rul\u0065s":[` + untaggedRule + `,` + anyRule + `]}`,
	} {
		if !p.Equal(text) {
			t.Errorf("%s: Equal = false, want true", name)
		}
	}
}

// TestDecideRestoresBaselineWithDuplicateKeys: a live policy whose last
// "rules" is the baseline is not the baseline.
func TestDecideRestoresBaselineWithDuplicateKeys(t *testing.T) {
	p, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{Baseline: p, LifecycleMode: LifecycleEnforce}
	live := duplicateKeyPolicies[0].text
	plan := rules.Decide(Input{
		Checks: Checks{Mutability: true, Lifecycle: true},
		Repo:   Repository{Name: "team-a/web", Mutability: Immutable, Lifecycle: Lifecycle{Exists: true, Text: live}},
		Now:    exemptionNow,
	})
	if !plan.PutLifecycle || plan.Kind() != KindLifecycleRestored {
		t.Fatalf("plan = %+v, want the baseline restored", plan)
	}
	ev := &Event{Name: EventPutLifecyclePolicy, Repository: "team-a/web", Request: Request{LifecyclePolicy: live}}
	plan = rules.Decide(Input{
		Event:  ev,
		Checks: ChecksFor(ev.Name),
		Repo:   Repository{Name: "team-a/web", Mutability: Immutable, Lifecycle: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy}},
		Now:    exemptionNow,
	})
	if plan.Kind() != KindObserved {
		t.Fatalf("PutLifecyclePolicy with a duplicate key, baseline again: plan = %+v, want OBSERVED", plan)
	}
}

func TestCheckDuplicateKeysRejectsInvalidJSON(t *testing.T) {
	for _, text := range []string{"", "{", `{"rules":[]`, `{"rules":[]}}`, `{"rules":[]} {}`, `{"a":1,}`, `{"a" 1}`} {
		if err := checkDuplicateKeys(text); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("checkDuplicateKeys(%q) = %v, want not valid JSON", text, err)
		}
	}
	for _, text := range []string{`{}`, `[]`, `"s"`, `1`, `null`, ` {"a":{"a":{"a":[{"a":1},{"a":2}]}}} `} {
		if err := checkDuplicateKeys(text); err != nil {
			t.Errorf("checkDuplicateKeys(%q) = %v, want nil", text, err)
		}
	}
}

// FuzzDuplicateKeyChecksAgree: Equal's separator count (repeatsKeys) finds
// exactly the duplicates the token walk (checkDuplicateKeys) finds.
func FuzzDuplicateKeyChecksAgree(f *testing.F) {
	for _, tt := range duplicateKeyPolicies {
		f.Add(tt.text)
	}
	for _, s := range []string{
		DefaultLifecyclePolicy,
		`{"a:b":"c:d","a":":"}`,
		`{"a\"":1,"a\"":2}`,
		`{"a\\":1,"b":"\\"}`,
		`{"a\\":1,"a\\":"\\\":"}`,
		`{"\u0061":1,"a":2}`,
		`[{"a":1},{"a":1},[{"b":{"b":1}}]]`,
		`{"a":{"b":1},"b":{"a":1}}`,
		"{\"\xff\":1,\"\xfe\":2}",
		`"::"`,
		`{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var v any
		if json.Unmarshal([]byte(text), &v) != nil {
			return
		}
		walk := checkDuplicateKeys(text)
		if walk != nil && !strings.Contains(walk.Error(), "duplicate key") {
			t.Fatalf("valid JSON %q: checkDuplicateKeys = %v", text, walk)
		}
		if got := repeatsKeys(text, v); got != (walk != nil) {
			t.Fatalf("%q: repeatsKeys = %v, checkDuplicateKeys = %v", text, got, walk)
		}
	})
}

func BenchmarkLifecyclePolicyEqual(b *testing.B) {
	p, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name, text string
		want       bool
	}{
		{"exact", DefaultLifecyclePolicy, true},
		{"reformatted", strings.ReplaceAll(DefaultLifecyclePolicy, ",", ", "), true},
		{"reordered", `{"rules":[` + anyRule + `,` + untaggedRule + `]}`, true},
		{"differs", `{"rules":[` + weakRule + `]}`, false},
		{"duplicate key", duplicateKeyPolicies[0].text, false},
	} {
		b.Run(bb.name, func(b *testing.B) {
			if p.Equal(bb.text) != bb.want {
				b.Fatalf("Equal = %v, want %v", !bb.want, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Equal(bb.text)
			}
		})
	}
}
