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

// Where each rule of the grammar comes from. The pages were read through
// the search tool's stored copies (2026); "choice" marks what the
// documentation leaves open and ecr-guard decides.
const (
	docProperties = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html"
	docEvaluation = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html, Lifecycle policy evaluation rules"
	docExamples   = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html"
	docArchive    = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html"
	docPutAPI     = "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutLifecyclePolicy.html"
	docActionAPI  = "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_LifecyclePolicyRuleAction.html"
	docNullIssue  = "https://github.com/cloudposse/terraform-aws-ecr/issues/158 (ECR's answer to a null)"
)

// Selections and actions the grammar tests combine.
const (
	selUntagged7     = `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7}`
	selAny30         = `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30}`
	selPushed30      = `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30}`
	selPulled90      = `{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`
	selArchived365   = `{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`
	selProdPattern14 = `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14}`
	actExpire        = `{"type":"expire"}`
	actArchive       = `{"type":"transition","targetStorageClass":"archive"}`
)

// rule is one rule's JSON.
func rule(priority int, selection, action string) string {
	return `{"rulePriority":` + strconv.Itoa(priority) + `,"description":"rule ` + strconv.Itoa(priority) + `",` +
		`"selection":` + selection + `,"action":` + action + `}`
}

func policy(rules ...string) string { return `{"rules":[` + strings.Join(rules, ",") + `]}` }

// TestLifecycleGrammar: every rule ParseLifecyclePolicy enforces, each case
// citing where ECR says so (wantErr "" is a policy ECR takes).
func TestLifecycleGrammar(t *testing.T) {
	tests := []struct {
		name, source, policy, wantErr string
	}{
		// Policies ECR takes.
		{"the default policy", docExamples + ", Filtering on all images, example B (untagged, then any)", DefaultLifecyclePolicy, ""},
		{"AWS example: filtering on image age", docExamples + ", Filtering on image age", policy(rule(1, selProdPattern14, actExpire)), ""},
		{"AWS example: archive what was not pulled in 90 days", docExamples + ", Filtering on last pulled time", policy(rule(1, selPulled90, actArchive)), ""},
		{"AWS example: expire what was archived 365 days ago", docExamples + ", Filtering on archive transition time", policy(rule(1, selArchived365, actExpire)), ""},
		{"AWS example: archive, then expire; an any rule in each storage class", docExamples + ", Combining archive and expire rules",
			policy(rule(1, selPushed30, actArchive), rule(2, selArchived365, actExpire)), ""},
		{"AWS example: archive tagged images by age", docExamples + ", Archiving images older than a specified number of days",
			policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30}`, actArchive)), ""},
		{"archive by image count", docArchive + " (lifecycle rules archive by the maximum number of images to keep active)",
			policy(rule(1, selAny30, actArchive)), ""},
		{"storageClass standard spelt out", docProperties + ", Storage class: standard is the only value for these count types",
			policy(rule(1, `{"tagStatus":"any","storageClass":"standard","countType":"imageCountMoreThan","countNumber":30}`, actExpire)), ""},
		{"archived for exactly 90 days", docExamples + ", Filtering on archive transition time: a minimum of 90 days",
			policy(rule(1, strings.Replace(selArchived365, "365", "90", 1), actExpire)), ""},
		{"four wildcards in a pattern", docProperties + `, Tag pattern list: ["*test*1*2*3", "test*1*2*3*"] is valid`,
			policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["*test*1*2*3","test*1*2*3*"],"countType":"imageCountMoreThan","countNumber":5}`, actExpire)), ""},
		{"priorities need not be sequential", docProperties + ", Rule priority", policy(rule(1, selUntagged7, actExpire), rule(10, selAny30, actExpire)), ""},
		{"rules listed out of priority order", docProperties + ", Rule priority: the priority, not the listing, orders the rules",
			policy(rule(2, selAny30, actExpire), rule(1, selUntagged7, actExpire)), ""},
		{"an untagged rule for each storage class", docEvaluation + ": one untagged rule per storage class",
			policy(rule(1, selUntagged7, actExpire), rule(2, `{"tagStatus":"untagged","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":90}`, actExpire)), ""},
		{"different tag prefix sets", docEvaluation + ": a unique set of prefixes per storage class",
			policy(rule(1, `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":5}`, actExpire),
				rule(2, `{"tagStatus":"tagged","tagPrefixList":["prod","v1"],"countType":"imageCountMoreThan","countNumber":5}`, actExpire)), ""},

		// The document.
		{"bad JSON", "JSON", `{"rules":[`, "not valid JSON"},
		{"not an object", "JSON", `[` + strings.Repeat(" ", 100) + `]`, "a lifecycle policy is a JSON object"},
		{"no rules", "https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html: one or more rules", `{"rules":[]}`, "at least one rule"},
		{"an unknown top-level key", docExamples + ", Lifecycle policy template (choice: only the template's keys)",
			`{"version":1,"rules":[` + rule(1, selAny30, actExpire) + `]}`, `unknown key "version"`},
		{"too long", docPutAPI + ": lifecyclePolicyText is at most 30,720 characters",
			policy(strings.Replace(rule(1, selAny30, actExpire), `"rule 1"`, `"`+strings.Repeat("x", 30720)+`"`, 1)), "ECR takes at most 30720"},

		// Keys.
		{"rulePriority missing", docProperties + ", Rule priority: required", `{"rules":[{"description":"no priority","selection":` + selAny30 + `,"action":{"type":"expire"}}]}`, `"rulePriority" is missing`},
		{"tagStatus missing", docProperties + ", Tag status: required",
			policy(rule(1, `{"countType":"imageCountMoreThan","countNumber":30}`, actExpire)), `"selection.tagStatus" is missing`},
		{"countNumber missing", docProperties + ", Count number: required",
			policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan"}`, actExpire)), `"selection.countNumber" is missing`},
		{"action type missing", docProperties + ", Action: type is required", policy(rule(1, selAny30, `{"targetStorageClass":"archive"}`)), `"action.type" is missing`},
		{"an unknown selection key", docExamples + ", Lifecycle policy template (choice: only the template's keys)",
			policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30,"imageCount":30}`, actExpire)), `unknown key "selection.imageCount"`},
		{"a key spelt in another case", docExamples + ", Lifecycle policy template (choice: keys are case-sensitive; encoding/json is not)",
			`{"rules":[{"RulePriority":1,"description":"case","selection":` + selAny30 + `,"action":{"type":"expire"}}]}`, `unknown key "RulePriority"`},
		{"a null value", docNullIssue, policy(rule(1, selAny30, `{"type":"expire","targetStorageClass":null}`)), `"action.targetStorageClass" is null`},
		{"an empty value", docProperties + " (choice: every value but a description is one of a few words)",
			policy(rule(1, `{"tagStatus":"any","storageClass":"","countType":"imageCountMoreThan","countNumber":30}`, actExpire)), `"selection.storageClass" is empty`},

		// One rule.
		{"rulePriority zero", docProperties + ", Rule priority: priority 1 is applied first", policy(rule(0, selAny30, actExpire)), "rulePriority must be a positive integer"},
		{"rulePriority beyond ECR's integers", "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_LifecyclePolicyPreviewResult.html, appliedRulePriority: Type Integer",
			policy(rule(2147483648, selAny30, actExpire)), "rulePriority 2147483648 is more than ECR's integers hold"},
		{"countNumber beyond ECR's integers", docProperties + ", Count number: Type: integer",
			policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2147483648}`, actExpire)), "countNumber 2147483648 is more than ECR's integers hold"},
		{"unknown tagStatus", docProperties + ", Tag status", policy(rule(1, `{"tagStatus":"all","countType":"imageCountMoreThan","countNumber":7}`, actExpire)), `unknown tagStatus "all"`},
		{"tagged without prefix or pattern list", docProperties + ", Tag status",
			policy(rule(1, `{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":7}`, actExpire)), "needs a tagPrefixList or tagPatternList"},
		{"prefix list on untagged", docProperties + ", Tag status: untagged must omit both lists",
			policy(rule(1, `{"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":7}`, actExpire)), "only allowed with tagStatus"},
		{"pattern list on any", docEvaluation + ": the lists only with tagStatus tagged",
			policy(rule(1, `{"tagStatus":"any","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":7}`, actExpire)), "only allowed with tagStatus"},
		{"both lists", docEvaluation + ": either tagPatternList or tagPrefixList, but not both",
			policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["v*"],"tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":7}`, actExpire)), "not both"},
		{"five wildcards in a pattern", docProperties + ", Tag pattern list: at most four wildcards per string",
			policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["test*1*2*3*4*5*6"],"countType":"imageCountMoreThan","countNumber":7}`, actExpire)), "more than 4 wildcards"},
		{"unknown countType", docProperties + ", Count type",
			policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountLessThan","countNumber":7}`, actExpire)), `unknown countType "imageCountLessThan"`},
		{"unknown countUnit", docProperties + ", Count unit: days",
			policy(rule(1, `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"weeks","countNumber":7}`, actExpire)), `needs countUnit "days", got "weeks"`},
		{"sinceImagePulled without countUnit", docProperties + ", Count unit: required for sinceImagePulled",
			policy(rule(1, `{"tagStatus":"any","countType":"sinceImagePulled","countNumber":90}`, actArchive)), `countType "sinceImagePulled" needs countUnit "days"`},
		{"countUnit with imageCountMoreThan", docProperties + ", Count unit: an error for any other count type",
			policy(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":7}`, actExpire)), "countUnit is not allowed"},
		{"zero countNumber", docProperties + ", Count number: 0 is not an accepted value",
			policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0}`, actExpire)), "countNumber must be a positive integer"},
		{"unknown storageClass", docProperties + ", Storage class: standard or archive",
			policy(rule(1, `{"tagStatus":"any","storageClass":"glacier","countType":"imageCountMoreThan","countNumber":30}`, actExpire)), `unknown storageClass "glacier"`},
		{"archive storage class counted by images", docProperties + ", Storage class: only standard for imageCountMoreThan",
			policy(rule(1, `{"tagStatus":"any","storageClass":"archive","countType":"imageCountMoreThan","countNumber":30}`, actExpire)), `storageClass "archive" is only allowed with countType "sinceImageTransitioned"`},
		{"archive storage class by last pull", docProperties + ", Storage class: only standard for sinceImagePulled",
			policy(rule(1, `{"tagStatus":"any","storageClass":"archive","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`, actArchive)), `storageClass "archive" is only allowed`},
		{"sinceImageTransitioned without storageClass", docProperties + ", Storage class: required for sinceImageTransitioned",
			policy(rule(1, `{"tagStatus":"any","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`, actExpire)), `needs storageClass "archive"`},
		{"sinceImageTransitioned on standard images", docProperties + ", Storage class: only archive for sinceImageTransitioned",
			policy(rule(1, `{"tagStatus":"any","storageClass":"standard","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365}`, actExpire)), `needs storageClass "archive"`},
		{"archived for 89 days", docArchive + ": no lifecycle policy deletes images archived for less than 90 days",
			policy(rule(1, strings.Replace(selArchived365, "365", "89", 1), actExpire)), "needs countNumber 90 or more"},
		{"expire by last pull", docExamples + ", Filtering on last pulled time: sinceImagePulled must be used with transition",
			policy(rule(1, selPulled90, actExpire)), `"sinceImagePulled" only works with action type "transition"`},
		{"transition archived images", docExamples + ", Filtering on archive transition time: sinceImageTransitioned must be used with expire",
			policy(rule(1, selArchived365, actArchive)), `"sinceImageTransitioned" only works with action type "expire"`},
		{"transition without targetStorageClass", docProperties + ", Action: targetStorageClass required for transition",
			policy(rule(1, selPushed30, `{"type":"transition"}`)), `needs targetStorageClass "archive", got ""`},
		{"transition to standard", docProperties + ", Action: archive is the only targetStorageClass",
			policy(rule(1, selPushed30, `{"type":"transition","targetStorageClass":"standard"}`)), `needs targetStorageClass "archive", got "standard"`},
		{"targetStorageClass on expire", docActionAPI + ": only present when the type is TRANSITION (choice: rejected)",
			policy(rule(1, selAny30, `{"type":"expire","targetStorageClass":"archive"}`)), "targetStorageClass is only allowed"},
		{"unknown action", docProperties + ", Action: expire or transition", policy(rule(1, selUntagged7, `{"type":"delete"}`)), `unknown action type "delete"`},

		// The rules together.
		{"duplicate priorities", docProperties + ", Rule priority: a unique value each",
			policy(rule(1, selUntagged7, actExpire), rule(1, selAny30, actExpire)), "duplicate rulePriority 1"},
		{"security docs draft: any first", docProperties + ", Rule priority: the any rule has the highest rulePriority",
			policy(rule(1, selAny30, actExpire), rule(2, selUntagged7, actExpire)), `"any" rule (rulePriority 1) must have the highest rulePriority of the rules selecting storage class standard, yet 2 is higher`},
		{"two any rules in one storage class", docProperties + ", Rule priority",
			policy(rule(1, selAny30, actExpire), rule(2, selPushed30, actArchive)), `"any" rule (rulePriority 1) must have the highest rulePriority`},
		{"an archiving any rule before a standard rule", docProperties + ", Rule priority; per storage class as in " + docExamples + ", Combining archive and expire rules",
			policy(rule(1, selPulled90, actArchive), rule(2, selUntagged7, actExpire)), `must have the highest rulePriority of the rules selecting storage class standard`},
		{"any rules of both classes, archive first", docProperties + ", Rule priority (per storage class)",
			policy(rule(1, selArchived365, actExpire), rule(2, selUntagged7, actExpire), rule(3, selAny30, actExpire)), ""},
		{"two untagged rules in one storage class", docEvaluation + ": only one rule selecting a storage class may select untagged images",
			policy(rule(1, selUntagged7, actExpire), rule(2, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`, actExpire)), "rules 1 and 2 both select untagged images of storage class standard"},
		{"one prefix set twice, in another order", docEvaluation + ": a unique set of prefixes per storage class",
			policy(rule(1, `{"tagStatus":"tagged","tagPrefixList":["prod","v1"],"countType":"imageCountMoreThan","countNumber":5}`, actExpire),
				rule(2, `{"tagStatus":"tagged","tagPrefixList":["v1","prod"],"countType":"sinceImagePushed","countUnit":"days","countNumber":5}`, actArchive)), "rules 1 and 2 have the same tagPrefixList"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.source == "" {
				t.Fatal("every case cites its source")
			}
			_, err := ParseLifecyclePolicy(tt.policy)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("%s: rejected: %v", tt.source, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("%s: err = %v, want it to contain %q", tt.source, err, tt.wantErr)
			}
		})
	}
}

func TestParseLifecycleMode(t *testing.T) {
	for _, s := range []string{"enforce", "missing", "contains", "off"} {
		if m, err := ParseLifecycleMode(s); err != nil || string(m) != s {
			t.Errorf("ParseLifecycleMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "Contains", "merge"} {
		if _, err := ParseLifecycleMode(s); err == nil {
			t.Errorf("ParseLifecycleMode(%q) succeeded", s)
		}
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
		{"storageClass standard spelt out", strings.ReplaceAll(DefaultLifecyclePolicy, `"countType"`, `"storageClass":"standard","countType"`), true},
		{"storageClass archive", strings.Replace(DefaultLifecyclePolicy, `"countType":"imageCountMoreThan"`, `"storageClass":"archive","countType":"imageCountMoreThan"`, 1), false},
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
		if got := repeatsKeys(text, countKeys(v)); got != (walk != nil) {
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
