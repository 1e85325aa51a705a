package deploy

import (
	"fmt"
	"strings"
	"testing"
)

// The checks of the other files must be able to fail: run each against a
// broken copy.
func TestChecksDetectBrokenTemplates(t *testing.T) {
	set := func(path string, value any) func(map[string]any) {
		return func(tmpl map[string]any) {
			keys := strings.Split(path, "/")
			m := tmpl
			for _, k := range keys[:len(keys)-1] {
				next, ok := m[k].(map[string]any)
				if !ok {
					panic(fmt.Sprintf("path %s: %s is %T", path, k, m[k]))
				}
				m = next
			}
			m[keys[len(keys)-1]] = value
		}
	}
	stmtOf := func(resource string, pick func(map[string]any) any) func(map[string]any) map[string]any {
		return func(tmpl map[string]any) map[string]any {
			r := tmpl["Resources"].(map[string]any)[resource].(map[string]any)
			return pick(Properties(r)).(map[string]any)
		}
	}
	ecrStmt := stmtOf(roleID, func(p map[string]any) any {
		for _, pol := range p["Policies"].([]any) {
			doc := pol.(map[string]any)["PolicyDocument"].(map[string]any)
			for _, s := range valueList(doc["Statement"]) {
				acts, _ := stringList(s.(map[string]any)["Action"])
				for _, a := range acts {
					if strings.HasPrefix(a, "ecr:") {
						return s
					}
				}
			}
		}
		panic("no ecr statement")
	})
	statementWith := func(role, action string) func(map[string]any) map[string]any {
		return stmtOf(role, func(p map[string]any) any {
			for _, pol := range p["Policies"].([]any) {
				doc := pol.(map[string]any)["PolicyDocument"].(map[string]any)
				for _, s := range valueList(doc["Statement"]) {
					acts, _ := stringList(s.(map[string]any)["Action"])
					for _, a := range acts {
						if strings.HasPrefix(a, action) {
							return s
						}
					}
				}
			}
			panic("no " + action + " statement in " + role)
		})
	}
	sweepECRStmt := statementWith(sweepRoleID, "ecr:")
	invokeStmt := statementWith(sweepRoleID, "lambda:")
	publishStmt := stmtOf("RemediateFunctionNoticePolicy", func(p map[string]any) any {
		return valueList(lookup(p, "PolicyDocument", "Statement"))[0]
	})

	cases := []struct {
		name   string
		check  func(map[string]any) []string
		mutate func(map[string]any)
	}{
		{"wildcard action", checkLeastPrivilege, func(m map[string]any) { ecrStmt(m)["Action"] = "ecr:*" }},
		{"star action in topic policy", checkLeastPrivilege, func(m map[string]any) {
			s := valueList(lookup(m, "Resources", "NoticeTopicPolicy", "Properties", "PolicyDocument", "Statement"))
			s[len(s)-1].(map[string]any)["Action"] = "sns:*"
		}},
		{"extra ecr action", checkLeastPrivilege, func(m map[string]any) {
			ecrStmt(m)["Action"] = append(ecrStmt(m)["Action"].([]any), "ecr:BatchDeleteImage")
		}},
		{"missing ecr action", checkLeastPrivilege, func(m map[string]any) {
			ecrStmt(m)["Action"] = ecrStmt(m)["Action"].([]any)[1:]
		}},
		{"ecr on all resources", checkLeastPrivilege, func(m map[string]any) { ecrStmt(m)["Resource"] = "*" }},
		{"publish anywhere", checkLeastPrivilege, func(m map[string]any) {
			publishStmt(m)["Resource"] = sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*")
		}},
		{"sweep ecr extra action", checkLeastPrivilege, func(m map[string]any) {
			sweepECRStmt(m)["Action"] = append(sweepECRStmt(m)["Action"].([]any), "ecr:DescribeImages")
		}},
		{"sweep invokes any function", checkLeastPrivilege, func(m map[string]any) {
			invokeStmt(m)["Resource"] = sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*")
		}},
		{"sweep invokes the remediation function", checkLeastPrivilege, func(m map[string]any) {
			invokeStmt(m)["Resource"] = getAtt(functionID, "Arn")
		}},
		{"sweep may also update functions", checkLeastPrivilege, func(m map[string]any) {
			invokeStmt(m)["Action"] = []any{"lambda:InvokeFunction", "lambda:UpdateFunctionCode"}
		}},
		{"remediation role may invoke", checkLeastPrivilege, func(m map[string]any) {
			s := stmtOf(roleID, func(p map[string]any) any {
				return valueList(lookup(p["Policies"].([]any)[0], "PolicyDocument", "Statement"))[0]
			})(m)
			s["Action"] = []any{"logs:CreateLogStream", "logs:PutLogEvents", "lambda:InvokeFunction"}
		}},
		{"sweep renamed", checkLeastPrivilege, set("Resources/SweepFunction/Properties/FunctionName", "ecr-guard-sweep")},
		{"sweep publish anywhere", checkLeastPrivilege, func(m map[string]any) {
			s := valueList(lookup(m, "Resources", "SweepFunctionNoticePolicy", "Properties", "PolicyDocument", "Statement"))[0]
			s.(map[string]any)["Resource"] = sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*")
		}},
		{"sweep logs elsewhere", checkLeastPrivilege, func(m map[string]any) {
			s := stmtOf(sweepRoleID, func(p map[string]any) any {
				return valueList(lookup(p["Policies"].([]any)[0], "PolicyDocument", "Statement"))[0]
			})(m)
			s["Resource"] = getAtt(logGroupID, "Arn")
		}},
		{"sweep schedule is a dry run", checkSweepFunction, set("Resources/SweepFunction/Properties/Events/Schedule/Properties/Input", `{"dryRun": true}`)},
		{"sweep schedule hard-coded", checkSweepFunction, set("Resources/SweepFunction/Properties/Events/Schedule/Properties/Schedule", "rate(1 day)")},
		{"sweep pacing not wired", checkSweepFunction, set("Resources/SweepFunction/Properties/Environment/Variables/SWEEP_MAX_TPS", "0")},
		{"sweep timeout", checkSweepFunction, set("Resources/SweepFunction/Properties/Timeout", 60)},
		{"sweep errors not alarmed", checkRequiredAlarms, func(m map[string]any) {
			delete(m["Resources"].(map[string]any), "SweepErrorsAlarm")
		}},
		{"sweep cannot use the key", checkNotices, func(m map[string]any) {
			stmts := lookup(m, "Resources", "NoticeTopicKey", "Properties", "KeyPolicy").(map[string]any)
			var kept []any
			for _, s := range valueList(stmts["Statement"]) {
				if s.(map[string]any)["Sid"] != "AllowSweepFunctionToPublish" {
					kept = append(kept, s)
				}
			}
			stmts["Statement"] = kept
		}},
		{"queue unencrypted", checkFailureQueues, func(m map[string]any) {
			delete(Properties(lookup(m, "Resources", ruleDLQ).(map[string]any)), "SqsManagedSseEnabled")
		}},
		{"dlq elsewhere", checkFailureQueues, func(m map[string]any) {
			tg := valueList(lookup(m, "Resources", "EcrApiCallRule", "Properties", "Targets"))[0]
			tg.(map[string]any)["DeadLetterConfig"] = map[string]any{"Arn": "arn:aws:sqs:us-east-1:123456789012:other"}
		}},
		{"dlq policy without source arn", checkRuleDLQPolicy, func(m map[string]any) {
			s := valueList(lookup(m, "Resources", "RuleDeadLetterQueuePolicy", "Properties", "PolicyDocument", "Statement"))[0]
			delete(s.(map[string]any), "Condition")
		}},
		{"alarm without action", checkAlarmActions, set("Resources/RemediateThrottlesAlarm/Properties/AlarmActions", []any{})},
		{"missing alarm", checkRequiredAlarms, func(m map[string]any) {
			delete(m["Resources"].(map[string]any), "NoticeFailuresAlarm")
		}},
		{"event name dropped", checkRulePattern, func(m map[string]any) {
			d := cloudTrailDetail(lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern"))
			d["eventName"] = d["eventName"].([]any)[1:]
		}},
		{"event name duplicated", checkRulePattern, func(m map[string]any) {
			d := cloudTrailDetail(lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern"))
			d["eventName"] = append(d["eventName"].([]any), d["eventName"].([]any)[0])
		}},
		{"event name added", checkRulePattern, func(m map[string]any) {
			d := cloudTrailDetail(lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern"))
			d["eventName"] = append(d["eventName"].([]any), "DeleteRepository")
		}},
		{"failed calls matched", checkRulePattern, func(m map[string]any) {
			cloudTrailDetail(lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern"))["errorCode"] = []any{map[string]any{"exists": true}}
		}},
		{"fixed retry policy", checkRuleTarget, func(m map[string]any) {
			tg := valueList(lookup(m, "Resources", "EcrApiCallRule", "Properties", "Targets"))[0]
			tg.(map[string]any)["RetryPolicy"] = map[string]any{"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
		}},
		{"env var not wired", checkFunction, set("Resources/RemediateFunction/Properties/Environment/Variables/DRY_RUN", "true")},
		{"dry run on by default", checkFunction, set("Parameters/DryRun/Default", "true")},
		{"chat by default", checkFunction, set("Parameters/HttpsNoticeFormat/Default", "chat")},
		{"https notice format not wired to the sweep", checkSweepFunction, set("Resources/SweepFunction/Properties/Environment/Variables/HTTPS_NOTICE_FORMAT", "chat")},
		{"topic policy open", checkNotices, func(m map[string]any) {
			s := valueList(lookup(m, "Resources", "NoticeTopicPolicy", "Properties", "PolicyDocument", "Statement"))[0]
			s.(map[string]any)["Principal"] = map[string]any{"AWS": "*"}
		}},
		{"topic unencrypted", checkNotices, func(m map[string]any) {
			delete(Properties(lookup(m, "Resources", topicID).(map[string]any)), "KmsMasterKeyId")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl := loadTemplate(t)
			if p := c.check(tmpl); len(p) != 0 {
				t.Fatalf("check fails on the unmodified template: %v", p)
			}
			c.mutate(tmpl)
			if p := c.check(tmpl); len(p) == 0 {
				t.Fatal("check accepted the broken template")
			}
		})
	}
}
