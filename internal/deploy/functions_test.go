package deploy

import (
	"encoding/json"
	"fmt"
	"testing"
)

func checkFunction(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	all, err := Resources(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	fn, ok := all[functionID]
	if !ok || fn["Type"] != "AWS::Serverless::Function" {
		return []string{fmt.Sprintf("no AWS::Serverless::Function %s", functionID)}
	}
	if v := lookup(fn, "Metadata", "BuildMethod"); v != "makefile" {
		bad("Metadata.BuildMethod is %v, want makefile", v)
	}
	p := Properties(fn)
	for key, want := range map[string]any{
		"CodeUri":       ".",
		"Handler":       "bootstrap",
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Timeout":       60,
		"MemorySize":    128,
		"Role":          getAtt(roleID, "Arn"),
		"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": ref(logGroupID)},
		// Parameter wiring.
		"ReservedConcurrentExecutions": ref("ReservedConcurrency"),
	} {
		if !equal(p[key], want) {
			bad("%s.%s is %v, want %v", functionID, key, p[key], want)
		}
	}
	if v := lookup(all[logGroupID], "Properties", "RetentionInDays"); !equal(v, ref("LogRetentionDays")) {
		bad("%s RetentionInDays is %v, want !Ref LogRetentionDays", logGroupID, v)
	}

	wantEnv := ruleEnv(isOrganization(tmpl))
	wantEnv["SELF_ROLE_ARN"] = sub("${" + roleID + ".Arn},${SweepFunctionRole.Arn}")
	gotEnv, _ := lookup(p, "Environment", "Variables").(map[string]any)
	if !equal(gotEnv, wantEnv) {
		bad("%s environment is %v, want %v", functionID, gotEnv, wantEnv)
	}

	params, _ := tmpl["Parameters"].(map[string]any)
	for name, want := range map[string]struct {
		def     any
		allowed []any
	}{
		"ExemptTags":               {"environment=dev", nil},
		"ExemptRepositoryPatterns": {"", nil},
		"ExemptionExpiresTag":      {"exemption-expires", nil},
		"AllowedMutableTagFilters": {"", nil},
		"LifecyclePolicy":          {"", nil},
		"LifecycleMode":            {"enforce", []any{"enforce", "contains", "missing", "off"}},
		"RootTemplate":             {"report", []any{"report", "ensure", "off"}},
		"RootTemplateAppliedFor":   {"REPLICATION,PULL_THROUGH_CACHE", nil},
		"DryRun":                   {"false", []any{"true", "false"}},
		"HttpsNoticeFormat":        {"json", []any{"json", "chat"}},
		"SecurityHubFindings":      {"off", []any{"on", "off"}},
		"LogLevel":                 {"INFO", []any{"DEBUG", "INFO", "WARN", "ERROR"}},
		"LogRetentionDays":         {90, nil},
		"ReservedConcurrency":      {10, nil},
		"NotificationEmail":        {"", nil},
	} {
		pm, ok := params[name].(map[string]any)
		if !ok {
			bad("no parameter %s", name)
			continue
		}
		if !equal(pm["Default"], want.def) {
			bad("parameter %s Default is %#v, want %#v", name, pm["Default"], want.def)
		}
		if want.allowed != nil && !equal(pm["AllowedValues"], want.allowed) {
			bad("parameter %s AllowedValues is %v, want %v", name, pm["AllowedValues"], want.allowed)
		}
	}
	return problems
}

// ruleEnv is the environment both functions share in a Resolve'd template:
// the topic, the rule settings, each wired from its parameter, and where to
// act: MEMBER_ROLE_NAME (empty with Scope=account) and TARGET_REGIONS (empty,
// the function's region, unless TargetRegions is set).
func ruleEnv(organization bool) map[string]any {
	memberRole := any("")
	if organization {
		memberRole = ref("MemberRoleName")
	}
	return map[string]any{
		"MEMBER_ROLE_NAME":            memberRole,
		"TARGET_REGIONS":              map[string]any{"Fn::Join": []any{",", ref("TargetRegions")}},
		"SNS_TOPIC_ARN":               ref(topicID),
		"EXEMPT_TAGS":                 ref("ExemptTags"),
		"EXEMPT_REPOSITORY_PATTERNS":  ref("ExemptRepositoryPatterns"),
		"EXEMPTION_EXPIRES_TAG":       ref("ExemptionExpiresTag"),
		"ALLOWED_MUTABLE_TAG_FILTERS": ref("AllowedMutableTagFilters"),
		"LIFECYCLE_POLICY":            ref("LifecyclePolicy"),
		"LIFECYCLE_MODE":              ref("LifecycleMode"),
		"ROOT_TEMPLATE":               ref("RootTemplate"),
		"ROOT_TEMPLATE_APPLIED_FOR":   ref("RootTemplateAppliedFor"),
		"DRY_RUN":                     ref("DryRun"),
		"HTTPS_NOTICE_FORMAT":         ref("HttpsNoticeFormat"),
		"SECURITY_HUB":                ref("SecurityHubFindings"),
		"LOG_LEVEL":                   ref("LogLevel"),
	}
}

func TestFunctionConfiguration(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkFunction(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}

// checkSweepFunction: the sweep runs like the remediation function, with
// the same rule settings, its own role and log group, a 15-minute timeout,
// one link at a time, and the schedule.
func checkSweepFunction(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	all, err := Resources(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	fn, ok := all[sweepFunctionID]
	if !ok || fn["Type"] != "AWS::Serverless::Function" {
		return []string{fmt.Sprintf("no AWS::Serverless::Function %s", sweepFunctionID)}
	}
	if v := lookup(fn, "Metadata", "BuildMethod"); v != "makefile" {
		bad("%s Metadata.BuildMethod is %v, want makefile", sweepFunctionID, v)
	}
	p := Properties(fn)
	for key, want := range map[string]any{
		"FunctionName":                 sub(sweepFunctionName),
		"CodeUri":                      ".",
		"Handler":                      "bootstrap",
		"Runtime":                      "provided.al2023",
		"Architectures":                []any{"arm64"},
		"Timeout":                      900,
		"Role":                         getAtt(sweepRoleID, "Arn"),
		"LoggingConfig":                map[string]any{"LogFormat": "JSON", "LogGroup": ref(sweepLogGroupID)},
		"ReservedConcurrentExecutions": 1,
	} {
		if !equal(p[key], want) {
			bad("%s.%s is %v, want %v", sweepFunctionID, key, p[key], want)
		}
	}
	if v := lookup(all[sweepLogGroupID], "Properties", "RetentionInDays"); !equal(v, ref("LogRetentionDays")) {
		bad("%s RetentionInDays is %v, want !Ref LogRetentionDays", sweepLogGroupID, v)
	}
	onFailure, _ := lookup(p, "EventInvokeConfig", "DestinationConfig", "OnFailure").(map[string]any)
	if onFailure["Type"] != "SQS" || !equal(onFailure["Destination"], getAtt(failureQueue, "Arn")) {
		bad("%s OnFailure is %v, want SQS !GetAtt %s.Arn", sweepFunctionID, onFailure, failureQueue)
	}

	// The same rule settings as the event path, plus the sweep's pacing.
	wantEnv := ruleEnv(isOrganization(tmpl))
	wantEnv["SWEEP_CONCURRENCY"] = ref("SweepConcurrency")
	wantEnv["SWEEP_MAX_TPS"] = ref("SweepMaxTps")
	// Empty: every ACTIVE account of the organization.
	wantEnv["TARGET_ACCOUNTS"] = map[string]any{"Fn::Join": []any{",", ref("TargetAccounts")}}
	gotEnv, _ := lookup(p, "Environment", "Variables").(map[string]any)
	if !equal(gotEnv, wantEnv) {
		bad("%s environment is %v, want %v", sweepFunctionID, gotEnv, wantEnv)
	}

	// Exactly one schedule, from the parameter, with the documented input.
	events, _ := p["Events"].(map[string]any)
	schedules := 0
	for name, e := range events {
		if lookup(e, "Type") != "Schedule" {
			bad("%s event %s has Type %v, want only a Schedule", sweepFunctionID, name, lookup(e, "Type"))
			continue
		}
		schedules++
		if v := lookup(e, "Properties", "Schedule"); !equal(v, ref("SweepSchedule")) {
			bad("%s schedule is %v, want !Ref SweepSchedule", sweepFunctionID, v)
		}
		input, _ := lookup(e, "Properties", "Input").(string)
		var decoded map[string]any
		if err := json.Unmarshal([]byte(input), &decoded); err != nil || !equal(decoded, map[string]any{"dryRun": false}) {
			bad("%s schedule Input is %q, want {\"dryRun\": false}", sweepFunctionID, input)
		}
		if v := lookup(e, "Properties", "Enabled"); v != nil && v != true {
			bad("%s schedule Enabled is %v", sweepFunctionID, v)
		}
	}
	if schedules != 1 {
		bad("%s has %d schedules, want 1", sweepFunctionID, schedules)
	}

	params, _ := tmpl["Parameters"].(map[string]any)
	for name, want := range map[string]map[string]any{
		"SweepSchedule":    {"Type": "String", "Default": "rate(12 hours)"},
		"SweepConcurrency": {"Type": "Number", "Default": 8, "MinValue": 1, "MaxValue": 64},
		"SweepMaxTps":      {"Type": "Number", "Default": 20, "MinValue": 0},
	} {
		for key, w := range want {
			if got := lookup(params, name, key); !equal(got, w) {
				bad("parameter %s %s is %v, want %v", name, key, got, w)
			}
		}
	}
	return problems
}

func TestSweepFunctionConfiguration(t *testing.T) {
	for _, v := range scopeViews(t) {
		for _, p := range checkSweepFunction(v.tmpl) {
			t.Errorf("%s: %s", v.name, p)
		}
	}
}
