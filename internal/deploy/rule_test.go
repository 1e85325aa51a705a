package deploy

import (
	"fmt"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func checkRulePattern(tmpl map[string]any) []string {
	pattern, err := RulePattern(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(pattern) != 3 {
		bad("pattern has keys %v, want exactly source, detail-type, detail", sortedKeys(pattern))
	}
	if !equal(pattern["source"], []any{"aws.ecr"}) {
		bad("source is %v, want [aws.ecr]", pattern["source"])
	}
	if !equal(pattern["detail-type"], []any{"AWS API Call via CloudTrail"}) {
		bad("detail-type is %v, want [AWS API Call via CloudTrail]", pattern["detail-type"])
	}
	detail, ok := pattern["detail"].(map[string]any)
	if !ok {
		return append(problems, fmt.Sprintf("detail is %T, want a mapping", pattern["detail"]))
	}
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

func TestRulePatternMatchesHandledEvents(t *testing.T) {
	if len(guard.HandledEventNames) == 0 {
		t.Fatal("guard.HandledEventNames is empty")
	}
	tmpl := loadTemplate(t)
	for _, p := range checkRulePattern(tmpl) {
		t.Error(p)
	}
}

// checkRuleTarget: the rule targets the function with a parameterised retry
// policy, and EventBridge may invoke the function only from this rule.
func checkRuleTarget(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rules, err := ResourcesOfType(tmpl, "AWS::Events::Rule")
	if err != nil || len(rules) != 1 {
		return []string{fmt.Sprintf("want exactly one AWS::Events::Rule, found %v (%v)", sortedKeys(rules), err)}
	}
	ruleID := sortedKeys(rules)[0]
	p := Properties(rules[ruleID])
	if bus, ok := p["EventBusName"]; ok && bus != "default" {
		bad("%s EventBusName is %v, want the default bus", ruleID, bus)
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

	perms, _ := ResourcesOfType(tmpl, "AWS::Lambda::Permission")
	ok := false
	for _, id := range sortedKeys(perms) {
		pp := Properties(perms[id])
		if pp["Principal"] != "events.amazonaws.com" {
			continue
		}
		ok = true
		if !equal(pp["SourceArn"], getAtt(ruleID, "Arn")) {
			bad("%s: SourceArn is %v, want !GetAtt %s.Arn", id, pp["SourceArn"], ruleID)
		}
		if pp["Action"] != "lambda:InvokeFunction" {
			bad("%s: Action is %v, want lambda:InvokeFunction", id, pp["Action"])
		}
	}
	if !ok {
		bad("no AWS::Lambda::Permission lets events.amazonaws.com invoke %s", functionID)
	}
	return problems
}

func TestRuleTargetsFunction(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkRuleTarget(tmpl) {
		t.Error(p)
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
