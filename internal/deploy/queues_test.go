package deploy

import (
	"fmt"
	"reflect"
	"testing"
)

func queueEncrypted(q map[string]any) bool {
	p := Properties(q)
	if p["SqsManagedSseEnabled"] == true {
		return true
	}
	if k, ok := p["KmsMasterKeyId"]; ok && k != nil && k != "" {
		return true
	}
	return false
}

func checkFailureQueues(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	queues, err := ResourcesOfType(tmpl, "AWS::SQS::Queue")
	if err != nil {
		return []string{err.Error()}
	}
	for _, id := range []string{failureQueue, ruleDLQ} {
		if _, ok := queues[id]; !ok {
			bad("no AWS::SQS::Queue %s", id)
		}
	}
	for _, id := range sortedKeys(queues) {
		if !queueEncrypted(queues[id]) {
			bad("queue %s is not encrypted (want SqsManagedSseEnabled: true or KmsMasterKeyId)", id)
		}
	}

	all, err := Resources(tmpl)
	if err != nil {
		return append(problems, err.Error())
	}
	// The function's OnFailure destination is the encrypted failure queue.
	dest := Properties(all[functionID])["EventInvokeConfig"]
	onFailure, _ := lookup(dest, "DestinationConfig", "OnFailure").(map[string]any)
	if onFailure["Type"] != "SQS" || !equal(onFailure["Destination"], getAtt(failureQueue, "Arn")) {
		bad("%s OnFailure is %v, want SQS !GetAtt %s.Arn", functionID, onFailure, failureQueue)
	}
	if v := lookup(dest, "MaximumRetryAttempts"); !equal(v, 2) {
		bad("%s EventInvokeConfig MaximumRetryAttempts is %v, want 2", functionID, v)
	}
	// Every rule target dead-letters to the encrypted rule DLQ.
	rules, _ := ResourcesOfType(tmpl, "AWS::Events::Rule")
	for _, id := range sortedKeys(rules) {
		for i, tg := range valueList(Properties(rules[id])["Targets"]) {
			if v := lookup(tg, "DeadLetterConfig", "Arn"); !equal(v, getAtt(ruleDLQ, "Arn")) {
				bad("%s Targets[%d] DeadLetterConfig.Arn is %v, want !GetAtt %s.Arn", id, i, v, ruleDLQ)
			}
		}
	}
	return problems
}

func TestFailureQueuesEncrypted(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkFailureQueues(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}

// checkRuleDLQPolicy: EventBridge may send to the rule DLQ only for our
// rules (one statement per rule: the default bus's, and with
// Scope=organization the central bus's).
func checkRuleDLQPolicy(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rules, err := ResourcesOfType(tmpl, "AWS::Events::Rule")
	if err != nil {
		return []string{err.Error()}
	}
	if len(rules) == 0 {
		return []string{"no AWS::Events::Rule"}
	}
	allowedFor := map[string]int{} // rule -> Allow statements naming it

	policies, _ := ResourcesOfType(tmpl, "AWS::SQS::QueuePolicy")
	allowed := 0
	for _, id := range sortedKeys(policies) {
		p := Properties(policies[id])
		queues := valueList(p["Queues"])
		if !(len(queues) == 1 && equal(queues[0], ref(ruleDLQ))) {
			continue
		}
		stmts, err := statements(policyDoc{id, resourcePolicy, "", p["PolicyDocument"]})
		if err != nil {
			bad("%v", err)
			continue
		}
		for _, s := range stmts {
			if s.effect != "Allow" {
				continue
			}
			allowed++
			if !equal(s.raw["Principal"], map[string]any{"Service": "events.amazonaws.com"}) {
				bad("%s: Allow Principal is %v, want only Service events.amazonaws.com", s.where, s.raw["Principal"])
			}
			if !reflect.DeepEqual(s.actions, []string{"sqs:SendMessage"}) {
				bad("%s: Allow actions are %v, want only sqs:SendMessage", s.where, s.actions)
			}
			if !(len(s.resource) == 1 && equal(s.resource[0], getAtt(ruleDLQ, "Arn"))) {
				bad("%s: Resource is %v, want !GetAtt %s.Arn", s.where, s.resource, ruleDLQ)
			}
			named := ""
			for _, ruleID := range sortedKeys(rules) {
				want := map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": getAtt(ruleID, "Arn")}}
				if equal(s.raw["Condition"], want) {
					named = ruleID
				}
			}
			if named == "" {
				bad("%s: Condition is %v, want ArnEquals aws:SourceArn !GetAtt <rule>.Arn of one of %v", s.where, s.raw["Condition"], sortedKeys(rules))
				continue
			}
			allowedFor[named]++
		}
	}
	if allowed == 0 {
		bad("no AWS::SQS::QueuePolicy allows EventBridge to send to %s", ruleDLQ)
	}
	for _, ruleID := range sortedKeys(rules) {
		if allowedFor[ruleID] != 1 {
			bad("%d Allow statements of the %s policy name rule %s, want 1", allowedFor[ruleID], ruleDLQ, ruleID)
		}
	}
	return problems
}

func TestRuleDeadLetterQueuePolicy(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkRuleDLQPolicy(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}
