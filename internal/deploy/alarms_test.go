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

// alarmWant is an alarm on a metric of one resource: more than 0 in a
// period, missing data not breaching.
type alarmWant struct {
	namespace, metric, dimName string
	dimValue                   any
}

func (w alarmWant) String() string {
	return fmt.Sprintf("%s %s with %s=%v", w.namespace, w.metric, w.dimName, w.dimValue)
}

// checkAlarm reports whether alarms hold one on w's metric, and what is
// wrong with those that do.
func checkAlarm(alarms map[string]map[string]any, w alarmWant) (found bool, problems []string) {
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
	return found, problems
}

func checkRequiredAlarms(tmpl map[string]any) []string {
	alarms, err := ResourcesOfType(tmpl, "AWS::CloudWatch::Alarm")
	if err != nil {
		return []string{err.Error()}
	}
	wants := []alarmWant{
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
		found, p := checkAlarm(alarms, w)
		problems = append(problems, p...)
		if !found {
			problems = append(problems, "no alarm on "+w.String())
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

// findingFailures are the alarms on findings Security Hub did not import
// (internal/securityhub counts them in FindingFailures, per function).
var findingFailures = []alarmWant{
	{"ecr-guard", "FindingFailures", "FunctionName", ref(functionID)},
	{"ecr-guard", "FindingFailures", "FunctionName", ref(sweepFunctionID)},
}

// checkFindingAlarms: with SecurityHubFindings=on (Condition
// ImportsFindings) each function has an alarm on its FindingFailures;
// without, there is none (the metric is never written).
func checkFindingAlarms(tmpl map[string]any) []string {
	alarms, err := ResourcesOfType(tmpl, "AWS::CloudWatch::Alarm")
	if err != nil {
		return []string{err.Error()}
	}
	imports := lookup(tmpl, "Conditions", "ImportsFindings") == true
	var problems []string
	for _, w := range findingFailures {
		found, p := checkAlarm(alarms, w)
		problems = append(problems, p...)
		switch {
		case imports && !found:
			problems = append(problems, "SecurityHubFindings=on without an alarm on "+w.String())
		case !imports && found:
			problems = append(problems, "SecurityHubFindings=off with an alarm on "+w.String())
		}
	}
	return problems
}

func findingsViews(t *testing.T) []scopeView {
	t.Helper()
	on := map[string]string{"SecurityHubFindings": "on"}
	org := map[string]string{"SecurityHubFindings": "on"}
	for k, v := range organizationParams {
		org[k] = v
	}
	return append(scopeViews(t),
		scopeView{"Scope=account SecurityHubFindings=on", loadTemplateWith(t, on)},
		scopeView{"Scope=organization SecurityHubFindings=on", loadTemplateWith(t, org)})
}

func TestFindingFailuresAlarms(t *testing.T) {
	for _, v := range findingsViews(t) {
		for _, p := range append(checkFindingAlarms(v.tmpl), checkAlarmActions(v.tmpl)...) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
	// The check fails without the alarms, or with one that never fires.
	for name, breakIt := range map[string]func(map[string]any){
		"removed": func(m map[string]any) { delete(m["Resources"].(map[string]any), "SweepFindingFailuresAlarm") },
		"threshold 5": func(m map[string]any) {
			Properties(m["Resources"].(map[string]any)["RemediateFindingFailuresAlarm"].(map[string]any))["Threshold"] = 5
		},
	} {
		broken := loadTemplateWith(t, map[string]string{"SecurityHubFindings": "on"})
		breakIt(broken)
		if len(checkFindingAlarms(broken)) == 0 {
			t.Errorf("%s: checkFindingAlarms found nothing wrong", name)
		}
	}
}
