package deploy

import (
	"fmt"
	"testing"
)

func checkAlarmActions(tmpl map[string]any) []string {
	var problems []string
	alarms, err := ResourcesOfType(tmpl, "AWS::CloudWatch::Alarm")
	if err != nil {
		return []string{err.Error()}
	}
	if len(alarms) == 0 {
		return []string{"template has no AWS::CloudWatch::Alarm"}
	}
	for _, id := range sortedKeys(alarms) {
		p := Properties(alarms[id])
		if e, ok := p["ActionsEnabled"]; ok && e != true {
			problems = append(problems, fmt.Sprintf("%s: ActionsEnabled is %v", id, e))
		}
		actions := valueList(p["AlarmActions"])
		if len(actions) == 0 {
			problems = append(problems, fmt.Sprintf("%s has no AlarmActions", id))
		}
		for _, a := range actions {
			if !equal(a, ref(topicID)) {
				problems = append(problems, fmt.Sprintf("%s AlarmAction %v, want !Ref %s", id, a, topicID))
			}
		}
	}
	return problems
}

func TestEveryAlarmHasAnAction(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkAlarmActions(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}

func checkRequiredAlarms(tmpl map[string]any) []string {
	alarms, err := ResourcesOfType(tmpl, "AWS::CloudWatch::Alarm")
	if err != nil {
		return []string{err.Error()}
	}
	type want struct {
		namespace, metric, dimName string
		dimValue                   any
	}
	wants := []want{
		{"AWS/Lambda", "Errors", "FunctionName", ref(functionID)},
		{"AWS/Lambda", "Throttles", "FunctionName", ref(functionID)},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", getAtt(failureQueue, "QueueName")},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", getAtt(ruleDLQ, "QueueName")},
		{"ecr-guard", "NoticeFailures", "FunctionName", ref(functionID)},
		{"AWS/Lambda", "Errors", "FunctionName", ref(sweepFunctionID)},
		{"ecr-guard", "NoticeFailures", "FunctionName", ref(sweepFunctionID)},
	}
	var problems []string
	for _, w := range wants {
		found := false
		for _, id := range sortedKeys(alarms) {
			p := Properties(alarms[id])
			dims := valueList(p["Dimensions"])
			if p["Namespace"] != w.namespace || p["MetricName"] != w.metric || len(dims) != 1 ||
				!equal(dims[0], map[string]any{"Name": w.dimName, "Value": w.dimValue}) {
				continue
			}
			found = true
			if p["ComparisonOperator"] != "GreaterThanThreshold" || !equal(p["Threshold"], 0) {
				problems = append(problems, fmt.Sprintf("%s: want %s > 0, got %v %v", id, w.metric, p["ComparisonOperator"], p["Threshold"]))
			}
			if p["TreatMissingData"] != "notBreaching" {
				problems = append(problems, fmt.Sprintf("%s: TreatMissingData is %v, want notBreaching", id, p["TreatMissingData"]))
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("no alarm on %s %s with %s=%v", w.namespace, w.metric, w.dimName, w.dimValue))
		}
	}
	return problems
}

func TestRequiredAlarmsExist(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkRequiredAlarms(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}
