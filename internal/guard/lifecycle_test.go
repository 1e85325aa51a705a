package guard

import (
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
