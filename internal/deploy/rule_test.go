package deploy

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// checkRulePattern: every rule of the template has the same pattern, which
// matches exactly the handled, successful ECR calls and service events.
func checkRulePattern(tmpl map[string]any) []string {
	patterns, err := RulePatterns(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	if len(patterns) == 0 {
		return []string{"no EventBridge rule with an event pattern"}
	}
	var problems []string
	where := sortedKeys(patterns)
	for _, w := range where {
		for _, p := range checkPattern(patterns[w]) {
			problems = append(problems, w+": "+p)
		}
		if !equal(patterns[w], patterns[where[0]]) {
			problems = append(problems, fmt.Sprintf("%s's pattern %v differs from %s's %v", w, patterns[w], where[0], patterns[where[0]]))
		}
	}
	return problems
}

// cloudTrailDetailType is the detail-type of the ECR API calls CloudTrail
// delivers.
const cloudTrailDetailType = "AWS API Call via CloudTrail"

// serviceEventDetails is what the pattern matches, by detail-type, of the
// events ECR sends itself that ecr-guard handles (internal/cloudtrail says
// why these): only successful actions
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html).
var serviceEventDetails = map[string]map[string]any{
	guard.EventPullThroughCacheAction: {"sync-status": []any{"SUCCESS"}},
	guard.EventReplicationAction:      {"result": []any{"SUCCESS"}},
}

// checkPattern: the pattern matches exactly the handled, successful ECR
// calls and the handled, successful service events: source aws.ecr and one
// "$or" branch per detail-type.
func checkPattern(pattern map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(pattern) != 2 {
		bad("pattern has keys %v, want exactly source and $or", sortedKeys(pattern))
	}
	if !equal(pattern["source"], []any{"aws.ecr"}) {
		bad("source is %v, want [aws.ecr]", pattern["source"])
	}
	branches, ok := pattern["$or"].([]any)
	if !ok {
		return append(problems, fmt.Sprintf("$or is %T, want a list of branches", pattern["$or"]))
	}
	seen := map[string]bool{}
	for i, b := range branches {
		branch, ok := b.(map[string]any)
		if !ok || len(branch) != 2 {
			bad("$or[%d] is %v, want exactly detail-type and detail", i, b)
			continue
		}
		types, ok := stringList(branch["detail-type"])
		if !ok || len(types) != 1 {
			bad("$or[%d] detail-type is %v, want one detail-type", i, branch["detail-type"])
			continue
		}
		dtype := types[0]
		if seen[dtype] {
			bad("$or has two branches for %q", dtype)
		}
		seen[dtype] = true
		detail, ok := branch["detail"].(map[string]any)
		if !ok {
			bad("%s: detail is %T, want a mapping", dtype, branch["detail"])
			continue
		}
		if want, service := serviceEventDetails[dtype]; service {
			if !equal(detail, want) {
				bad("%s: detail is %v, want %v", dtype, detail, want)
			}
		} else if dtype == cloudTrailDetailType {
			problems = append(problems, checkCloudTrailDetail(detail)...)
		} else {
			bad("$or has a branch for %q, which ecr-guard does not handle", dtype)
		}
	}
	for _, dtype := range append([]string{cloudTrailDetailType}, sortedKeys(serviceEventDetails)...) {
		if !seen[dtype] {
			bad("$or has no branch for %q", dtype)
		}
	}
	return problems
}

// checkCloudTrailDetail: the CloudTrail branch matches exactly the handled,
// successful ECR calls.
func checkCloudTrailDetail(detail map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(detail) != 3 {
		bad("detail has keys %v, want exactly eventSource, eventName, errorCode", sortedKeys(detail))
	}
	if !equal(detail["eventSource"], []any{"ecr.amazonaws.com"}) {
		bad("detail.eventSource is %v, want [ecr.amazonaws.com]", detail["eventSource"])
	}
	if !equal(detail["errorCode"], []any{map[string]any{"exists": false}}) {
		bad("detail.errorCode is %v, want [{exists: false}]", detail["errorCode"])
	}

	names, ok := stringList(detail["eventName"])
	if !ok || len(names) == 0 {
		return append(problems, fmt.Sprintf("detail.eventName is %v, want a list of strings", detail["eventName"]))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			bad("detail.eventName lists %q twice", n)
		}
		seen[n] = true
	}
	want := map[string]bool{}
	for _, n := range guard.HandledEventNames {
		want[n] = true
	}
	for _, n := range sortedKeys(want) {
		if !seen[n] {
			bad("detail.eventName lacks %q, which guard.HandledEventNames handles", n)
		}
	}
	for _, n := range sortedKeys(seen) {
		if !want[n] {
			bad("detail.eventName has %q, which is not in guard.HandledEventNames", n)
		}
	}
	return problems
}

// cloudTrailDetail is the detail of the pattern's CloudTrail branch, nil
// when it has none; tests break the pattern through it.
func cloudTrailDetail(pattern any) map[string]any {
	for _, b := range valueList(lookup(pattern, "$or")) {
		if equal(lookup(b, "detail-type"), []any{cloudTrailDetailType}) {
			detail, _ := lookup(b, "detail").(map[string]any)
			return detail
		}
	}
	return nil
}

// serviceBranch is the pattern's branch for a service event's detail-type,
// nil when it has none.
func serviceBranch(pattern any, dtype string) map[string]any {
	for _, b := range valueList(lookup(pattern, "$or")) {
		if equal(lookup(b, "detail-type"), []any{dtype}) {
			branch, _ := b.(map[string]any)
			return branch
		}
	}
	return nil
}

// The pattern check must be able to fail: run it on broken copies of the
// account rule's pattern.
func TestPatternCheckDetectsBrokenPatterns(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(pattern map[string]any)
	}{
		{"pull through cache events dropped", func(p map[string]any) {
			p["$or"] = slices.DeleteFunc(p["$or"].([]any), func(b any) bool { return equal(b, serviceBranch(p, guard.EventPullThroughCacheAction)) })
		}},
		{"failed replications matched", func(p map[string]any) {
			serviceBranch(p, guard.EventReplicationAction)["detail"] = map[string]any{"result": []any{"SUCCESS", "FAILED"}}
		}},
		{"every pull through cache action matched", func(p map[string]any) {
			delete(serviceBranch(p, guard.EventPullThroughCacheAction), "detail")
		}},
		{"image actions matched", func(p map[string]any) {
			p["$or"] = append(p["$or"].([]any), map[string]any{"detail-type": []any{"ECR Image Action"}, "detail": map[string]any{"result": []any{"SUCCESS"}}})
		}},
		{"two detail-types in one branch", func(p map[string]any) {
			serviceBranch(p, guard.EventReplicationAction)["detail-type"] = []any{guard.EventReplicationAction, "ECR Image Action"}
		}},
		{"replication branch twice", func(p map[string]any) {
			p["$or"] = append(p["$or"].([]any), serviceBranch(p, guard.EventReplicationAction))
		}},
		{"template call dropped", func(p map[string]any) {
			d := cloudTrailDetail(p)
			d["eventName"] = slices.DeleteFunc(d["eventName"].([]any), func(n any) bool { return n == guard.EventDeleteRepositoryCreationTemplate })
		}},
		{"failed calls matched", func(p map[string]any) { cloudTrailDetail(p)["errorCode"] = []any{map[string]any{"exists": true}} }},
		{"CloudTrail branch without eventSource", func(p map[string]any) { delete(cloudTrailDetail(p), "eventSource") }},
		{"any source", func(p map[string]any) { delete(p, "source") }},
		{"no $or", func(p map[string]any) {
			p["detail-type"] = []any{cloudTrailDetailType}
			p["detail"] = cloudTrailDetail(p)
			delete(p, "$or")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pattern, err := RulePattern(loadTemplate(t))
			if err != nil {
				t.Fatal(err)
			}
			if p := checkPattern(pattern); len(p) != 0 {
				t.Fatalf("check fails on the unmodified pattern: %v", p)
			}
			tt.mutate(pattern)
			if p := checkPattern(pattern); len(p) == 0 {
				t.Fatal("check accepted the broken pattern")
			}
		})
	}
}

func TestRulePatternMatchesHandledEvents(t *testing.T) {
	if len(guard.HandledEventNames) == 0 {
		t.Fatal("guard.HandledEventNames is empty")
	}
	for _, v := range scopeViews(t) {
		for _, p := range checkRulePattern(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}

// ruleBuses is where the rules must be: EcrApiCallRule on the default bus,
// CentralEcrApiCallRule (Scope=organization) on the central bus.
var ruleBuses = map[string]any{
	"EcrApiCallRule":        nil,
	"CentralEcrApiCallRule": ref("CentralEventBus"),
}

// checkRuleTarget: each rule targets the function with a parameterised retry
// policy, and EventBridge may invoke the function only from these rules.
func checkRuleTarget(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rules, err := ResourcesOfType(tmpl, "AWS::Events::Rule")
	if err != nil || len(rules) == 0 {
		return []string{fmt.Sprintf("want an AWS::Events::Rule, found %v (%v)", sortedKeys(rules), err)}
	}
	for _, ruleID := range sortedKeys(rules) {
		problems = append(problems, checkOneRuleTarget(tmpl, ruleID, rules[ruleID])...)
	}

	perms, _ := ResourcesOfType(tmpl, "AWS::Lambda::Permission")
	permitted := map[string]int{}
	for _, id := range sortedKeys(perms) {
		pp := Properties(perms[id])
		if pp["Principal"] != "events.amazonaws.com" {
			continue
		}
		named := ""
		for _, ruleID := range sortedKeys(rules) {
			if equal(pp["SourceArn"], getAtt(ruleID, "Arn")) {
				named = ruleID
			}
		}
		if named == "" {
			bad("%s: SourceArn is %v, want !GetAtt <rule>.Arn of one of %v", id, pp["SourceArn"], sortedKeys(rules))
		}
		permitted[named]++
		if pp["Action"] != "lambda:InvokeFunction" {
			bad("%s: Action is %v, want lambda:InvokeFunction", id, pp["Action"])
		}
		if !equal(pp["FunctionName"], getAtt(functionID, "Arn")) {
			bad("%s: FunctionName is %v, want !GetAtt %s.Arn", id, pp["FunctionName"], functionID)
		}
	}
	for _, ruleID := range sortedKeys(rules) {
		if permitted[ruleID] != 1 {
			bad("%d AWS::Lambda::Permission let events.amazonaws.com invoke %s from %s, want 1", permitted[ruleID], functionID, ruleID)
		}
	}
	return problems
}

func checkOneRuleTarget(tmpl map[string]any, ruleID string, rule map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	p := Properties(rule)
	wantBus, known := ruleBuses[ruleID]
	if !known {
		bad("unexpected rule %s (known: %v)", ruleID, sortedKeys(ruleBuses))
	}
	if bus, ok := p["EventBusName"]; wantBus == nil && ok && bus != "default" {
		bad("%s EventBusName is %v, want the default bus", ruleID, bus)
	} else if wantBus != nil && !equal(bus, wantBus) {
		bad("%s EventBusName is %v, want %v", ruleID, bus, wantBus)
	}
	if st, ok := p["State"]; ok && st != "ENABLED" {
		bad("%s State is %v, want ENABLED", ruleID, st)
	}
	targets := valueList(p["Targets"])
	if len(targets) != 1 {
		return append(problems, fmt.Sprintf("%s has %d targets, want 1", ruleID, len(targets)))
	}
	tg := targets[0]
	if v := lookup(tg, "Arn"); !equal(v, getAtt(functionID, "Arn")) {
		bad("%s target Arn is %v, want !GetAtt %s.Arn", ruleID, v, functionID)
	}
	params, _ := tmpl["Parameters"].(map[string]any)
	for key, param := range map[string]struct {
		name string
		def  int
	}{
		"MaximumEventAgeInSeconds": {"RuleMaximumEventAgeInSeconds", 3600},
		"MaximumRetryAttempts":     {"RuleMaximumRetryAttempts", 10},
	} {
		if v := lookup(tg, "RetryPolicy", key); !equal(v, ref(param.name)) {
			bad("%s RetryPolicy.%s is %v, want !Ref %s", ruleID, key, v, param.name)
		}
		if d := lookup(params, param.name, "Default"); !equal(d, param.def) {
			bad("parameter %s Default is %v, want %d", param.name, d, param.def)
		}
	}
	if v := lookup(tg, "DeadLetterConfig", "Arn"); !equal(v, getAtt(ruleDLQ, "Arn")) {
		bad("%s DeadLetterConfig.Arn is %v, want !GetAtt %s.Arn", ruleID, v, ruleDLQ)
	}
	return problems
}

func TestRuleTargetsFunction(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkRuleTarget(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}

func TestRulePatternErrors(t *testing.T) {
	two := map[string]any{"Resources": map[string]any{
		"A": map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{"EventPattern": map[string]any{"source": []any{"a"}}}},
		"B": map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{"EventPattern": `{"source":["b"]}`}},
	}}
	if _, err := RulePattern(two); err == nil {
		t.Error("RulePattern accepted a template with two rules")
	}
	delete(two["Resources"].(map[string]any), "A")
	p, err := RulePattern(two)
	if err != nil || !equal(p, map[string]any{"source": []any{"b"}}) {
		t.Errorf("RulePattern(JSON string pattern) = %v, %v", p, err)
	}
	if _, err := RulePattern(map[string]any{"Resources": map[string]any{}}); err == nil {
		t.Error("RulePattern accepted a template without rules")
	}
}
