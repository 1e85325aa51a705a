package deploy

// Scope=organization (issue 9): the parameters, the account stack left as it
// was, the central event bus, the StackSet and the member template it
// carries. The checks shared with Scope=account (functions, IAM, rules,
// queues, alarms) run with both Scopes in their own files.

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// singleAccountResources are the resources of the single-account stack
// (before issue 9); Scope=account must deploy exactly these.
// NoticeEmailSubscription has its own condition (HasNotificationEmail).
var singleAccountResources = []string{
	"EcrApiCallRule", "EcrApiCallRulePermission",
	"NoticeEmailSubscription", "NoticeFailuresAlarm",
	"NoticeTopic", "NoticeTopicKey", "NoticeTopicKeyAlias", "NoticeTopicPolicy",
	"RemediateErrorsAlarm", "RemediateFailureQueue", "RemediateFailureQueueAlarm", "RemediateFailureQueuePolicy",
	"RemediateFunction", "RemediateFunctionNoticePolicy", "RemediateFunctionRole", "RemediateLogGroup", "RemediateThrottlesAlarm",
	"RuleDeadLetterQueue", "RuleDeadLetterQueueAlarm", "RuleDeadLetterQueuePolicy",
	"SweepErrorsAlarm", "SweepFunction", "SweepFunctionNoticePolicy", "SweepFunctionRole", "SweepLogGroup", "SweepNoticeFailuresAlarm",
	// SecurityHubFindings=on only (Condition ImportsFindings).
	"RemediateFindingFailuresAlarm", "RemediateFunctionFindingsPolicy", "SweepFindingFailuresAlarm", "SweepFunctionFindingsPolicy",
}

// findingsResources exist only with SecurityHubFindings=on.
var findingsResources = []string{"RemediateFindingFailuresAlarm", "RemediateFunctionFindingsPolicy", "SweepFindingFailuresAlarm", "SweepFunctionFindingsPolicy"}

// singleAccountOutputs are the outputs of the single-account stack.
var singleAccountOutputs = []string{"NoticeTopicArn", "RemediateFailureQueueUrl", "RemediateFunctionArn", "RuleDeadLetterQueueUrl", "SweepFunctionArn"}

// organizationResources are the resources only Scope=organization adds.
var organizationResources = []string{
	"CentralEcrApiCallRule", "CentralEcrApiCallRulePermission", "CentralEventBus", "CentralEventBusPolicy",
	"MemberStackSet", "RemediateFunctionMemberPolicy", "SweepFunctionOrganizationPolicy",
}

// organizationOutputs are the outputs only Scope=organization adds: what
// the member template needs, for the management account's member stacks.
var organizationOutputs = map[string]any{
	"CentralEventBusArn":       getAtt("CentralEventBus", "Arn"),
	"RemediateFunctionRoleArn": getAtt(roleID, "Arn"),
	"SweepFunctionRoleArn":     getAtt(sweepRoleID, "Arn"),
	"MemberStackSetId":         getAtt("MemberStackSet", "StackSetId"),
}

const (
	memberECRRepositoryARN = "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"
	isOrganizationCond     = "IsOrganization"
)

// orgFixture is template.yaml as written, deployed with each Scope, and the
// member template its StackSet carries; each a fresh copy.
type orgFixture struct {
	raw, account, org, member map[string]any
}

func loadOrgFixture(t *testing.T) orgFixture {
	t.Helper()
	raw := loadRawTemplate(t)
	body, err := MemberTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	member, err := ParseTemplate([]byte(body))
	if err != nil {
		t.Fatalf("the member template does not parse: %v", err)
	}
	return orgFixture{raw: raw, account: loadTemplate(t), org: loadOrganizationTemplate(t), member: member}
}

func resourceIDs(tmpl map[string]any) []string {
	all, _ := Resources(tmpl)
	return sortedKeys(all)
}

func outputIDs(tmpl map[string]any) []string {
	outputs, _ := tmpl["Outputs"].(map[string]any)
	return sortedKeys(outputs)
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, s := range list {
		if !contains(drop, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	out := append(append([]string{}, a...), b...)
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sorted(list []string) []string {
	out := append([]string{}, list...)
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// Scope=account is the single-account stack
// ---------------------------------------------------------------------------

// checkScopes: every resource and output Scope=organization adds carries
// Condition IsOrganization, Scope=account deploys exactly the single-account
// stack, and its new environment variables are empty.
func checkScopes(raw map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	want := map[string]any{"Fn::Equals": []any{ref("Scope"), "organization"}}
	if got := lookup(raw, "Conditions", isOrganizationCond); !equal(got, want) {
		bad("condition IsOrganization is %v, want %v", got, want)
	}

	all, err := Resources(raw)
	if err != nil {
		return []string{err.Error()}
	}
	for _, id := range sortedKeys(all) {
		cond := all[id]["Condition"]
		switch {
		case contains(organizationResources, id) && cond != isOrganizationCond:
			bad("%s is only for Scope=organization but has Condition %v, want IsOrganization", id, cond)
		case cond == isOrganizationCond && !contains(organizationResources, id):
			bad("%s has Condition IsOrganization but is not a known organization resource %v", id, organizationResources)
		case !contains(organizationResources, id) && !contains(singleAccountResources, id):
			bad("%s is a new resource without Condition IsOrganization: Scope=account must stay the single-account stack", id)
		case id == "NoticeEmailSubscription" && cond != "HasNotificationEmail":
			bad("%s has Condition %v, want HasNotificationEmail", id, cond)
		case contains(findingsResources, id) && cond != "ImportsFindings":
			bad("%s has Condition %v, want ImportsFindings", id, cond)
		case contains(singleAccountResources, id) && id != "NoticeEmailSubscription" && !contains(findingsResources, id) && cond != nil:
			bad("%s of the single-account stack has Condition %v", id, cond)
		}
	}
	outputs, _ := raw["Outputs"].(map[string]any)
	for _, id := range sortedKeys(outputs) {
		cond := lookup(outputs[id], "Condition")
		if w, ok := organizationOutputs[id]; ok {
			if cond != isOrganizationCond || !equal(lookup(outputs[id], "Value"), w) {
				bad("output %s is Condition %v Value %v, want Condition IsOrganization Value %v", id, cond, lookup(outputs[id], "Value"), w)
			}
		} else if !contains(singleAccountOutputs, id) {
			bad("output %s is new without Condition IsOrganization", id)
		} else if cond != nil {
			bad("output %s of the single-account stack has Condition %v", id, cond)
		}
	}
	for id := range organizationOutputs {
		if _, ok := outputs[id]; !ok {
			bad("no output %s", id)
		}
	}

	for _, c := range []struct {
		name   string
		params map[string]string
		res    []string
		out    []string
	}{
		{"Scope=account", nil, without(singleAccountResources, append([]string{"NoticeEmailSubscription"}, findingsResources...)...), singleAccountOutputs},
		{"Scope=account with NotificationEmail", map[string]string{"NotificationEmail": "security@example.com"}, without(singleAccountResources, findingsResources...), singleAccountOutputs},
		{"Scope=account with SecurityHubFindings", map[string]string{"SecurityHubFindings": "on"}, without(singleAccountResources, "NoticeEmailSubscription"), singleAccountOutputs},
		{"Scope=organization", organizationParams, union(without(singleAccountResources, append([]string{"NoticeEmailSubscription"}, findingsResources...)...), organizationResources), union(singleAccountOutputs, sortedKeys(organizationOutputs))},
	} {
		view, err := Resolve(raw, c.params)
		if err != nil {
			bad("%s: %v", c.name, err)
			continue
		}
		if got := resourceIDs(view); !reflect.DeepEqual(got, c.res) {
			bad("%s deploys resources %v, want %v", c.name, got, c.res)
		}
		if got := outputIDs(view); !reflect.DeepEqual(got, c.out) {
			bad("%s has outputs %v, want %v", c.name, got, c.out)
		}
	}

	// Scope=account: the new environment variables are empty.
	account, err := Resolve(raw, nil)
	if err != nil {
		return append(problems, err.Error())
	}
	params, _ := raw["Parameters"].(map[string]any)
	for _, fn := range []string{functionID, sweepFunctionID} {
		env, _ := lookup(account, "Resources", fn, "Properties", "Environment", "Variables").(map[string]any)
		names := []string{"MEMBER_ROLE_NAME", "TARGET_REGIONS"}
		if fn == sweepFunctionID {
			names = append(names, "TARGET_ACCOUNTS")
		}
		for _, name := range names {
			v, ok := env[name]
			if !ok {
				bad("%s has no %s", fn, name)
				continue
			}
			if s, err := evalDefault(v, params); err != nil || s != "" {
				bad("%s %s is %v with the default parameters (%q, %v), want empty", fn, name, v, s, err)
			}
		}
	}
	return problems
}

// evalDefault evaluates an environment value with the parameters' defaults:
// a string, !Ref of a String, or !Join of a CommaDelimitedList.
func evalDefault(v any, params map[string]any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if name, ok := x["Ref"].(string); ok {
			return scalarString(lookup(params, name, "Default")), nil
		}
		if args, ok := x["Fn::Join"].([]any); ok && len(args) == 2 {
			name, _ := lookup(args[1], "Ref").(string)
			if lookup(params, name, "Type") == "CommaDelimitedList" {
				delim, _ := args[0].(string)
				return strings.Join(strings.Split(scalarString(lookup(params, name, "Default")), ","), delim), nil
			}
		}
	}
	return "", fmt.Errorf("cannot evaluate %v", v)
}

func TestAccountScopeIsTheSingleAccountStack(t *testing.T) {
	for _, p := range checkScopes(loadRawTemplate(t)) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// parameters
// ---------------------------------------------------------------------------

type paramSpec struct {
	typ, def string
	allowed  []any
	accept   []string // values AllowedPattern accepts (each list item)
	reject   []string
}

var organizationParamSpecs = map[string]paramSpec{
	"Scope":          {typ: "String", def: "account", allowed: []any{"account", "organization"}},
	"OrganizationId": {typ: "String", def: "", accept: []string{"", "o-abcdefghij", "o-exampleorg1"}, reject: []string{"o-short", "O-ABCDEFGHIJ", "r-abcd", "o-abcdefghij,o-klmnopqrst"}},
	"TargetOrganizationalUnits": {typ: "CommaDelimitedList", def: "",
		accept: []string{"", "ou-ab12-abcdefgh", "r-ab12"}, reject: []string{"ou-ab12", "o-abcdefghij", "123456789012", "OU-AB12-ABCDEFGH"}},
	"TargetRegions":  {typ: "CommaDelimitedList", def: "", accept: []string{"", "us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-2", "eusc-de-east-1"}, reject: []string{"EU-WEST-1", "us-east", "*"}},
	"TargetAccounts": {typ: "CommaDelimitedList", def: "", accept: []string{"", "123456789012"}, reject: []string{"12345678901", "1234567890123", "*"}},
	"MemberRoleName": {typ: "String", def: "ecr-guard-member", accept: []string{"ecr-guard-member", "team+sec=1,a.b@c_d"}, reject: []string{"", "a/b", "a b", strings.Repeat("a", 65)}},
	"StackSetCallAs": {typ: "String", def: "SELF", allowed: []any{"SELF", "DELEGATED_ADMIN"}},
	"ExemptTags":     {typ: "String", def: "environment=dev"}, // unchanged, for comparison
	"NotificationEmail": {typ: "String", def: "",
		accept: []string{"", "security@example.com"}, reject: []string{"security"}},
}

func checkOrganizationParameters(raw map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	params, _ := raw["Parameters"].(map[string]any)
	for _, name := range sortedKeys(organizationParamSpecs) {
		spec := organizationParamSpecs[name]
		p, ok := params[name].(map[string]any)
		if !ok {
			bad("no parameter %s", name)
			continue
		}
		if p["Type"] != spec.typ || scalarString(p["Default"]) != spec.def {
			bad("parameter %s is Type %v Default %#v, want Type %s Default %#v", name, p["Type"], p["Default"], spec.typ, spec.def)
		}
		if _, ok := p["Default"]; !ok {
			bad("parameter %s has no Default: Scope=account must need no value for it", name)
		}
		if spec.allowed != nil && !equal(p["AllowedValues"], spec.allowed) {
			bad("parameter %s AllowedValues is %v, want %v", name, p["AllowedValues"], spec.allowed)
		}
		if spec.accept == nil && spec.reject == nil {
			continue
		}
		pattern, _ := p["AllowedPattern"].(string)
		re, err := regexp.Compile(pattern)
		if pattern == "" || err != nil {
			bad("parameter %s AllowedPattern %q: %v", name, pattern, err)
			continue
		}
		for _, v := range spec.accept {
			if !re.MatchString(v) {
				bad("parameter %s AllowedPattern %q refuses %q", name, pattern, v)
			}
		}
		for _, v := range spec.reject {
			if re.MatchString(v) {
				bad("parameter %s AllowedPattern %q accepts %q", name, pattern, v)
			}
		}
	}

	// Scope=organization refuses to deploy without an organization, OUs, or
	// with TargetRegions that leave out the stack's region (the member role
	// is created there).
	rule, _ := lookup(raw, "Rules", "OrganizationScope").(map[string]any)
	if !equal(rule["RuleCondition"], map[string]any{"Fn::Equals": []any{ref("Scope"), "organization"}}) {
		bad("rule OrganizationScope RuleCondition is %v, want Scope = organization", rule["RuleCondition"])
	}
	var asserts []any
	for _, a := range valueList(rule["Assertions"]) {
		asserts = append(asserts, lookup(a, "Assert"))
	}
	notEmpty := func(name string) any {
		return map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref(name), ""}}}}
	}
	for _, w := range []any{
		notEmpty("OrganizationId"),
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Contains": []any{ref("TargetOrganizationalUnits"), ""}}}},
		map[string]any{"Fn::Or": []any{
			map[string]any{"Fn::Contains": []any{ref("TargetRegions"), ""}},
			map[string]any{"Fn::Contains": []any{ref("TargetRegions"), ref("AWS::Region")}},
		}},
	} {
		found := false
		for _, a := range asserts {
			found = found || equal(a, w)
		}
		if !found {
			bad("rule OrganizationScope does not assert %v", w)
		}
	}
	return problems
}

func TestOrganizationParameters(t *testing.T) {
	for _, p := range checkOrganizationParameters(loadRawTemplate(t)) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// central event bus
// ---------------------------------------------------------------------------

// checkCentralBus: the bus accepts events:PutEvents only from principals of
// the organization, and its rule is the handled-events rule (the rule's
// target, retry policy, DLQ and pattern are checked with the default bus's
// rule by checkRuleTarget, checkRuleDLQPolicy and checkRulePattern).
func checkCentralBus(org map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	buses, _ := ResourcesOfType(org, "AWS::Events::EventBus")
	if len(buses) != 1 || buses["CentralEventBus"] == nil {
		return []string{fmt.Sprintf("want one AWS::Events::EventBus CentralEventBus, found %v", sortedKeys(buses))}
	}
	if p, ok := Properties(buses["CentralEventBus"])["Policy"]; ok {
		bad("CentralEventBus has a Policy property %v; its policy is CentralEventBusPolicy", p)
	}
	policies, _ := ResourcesOfType(org, "AWS::Events::EventBusPolicy")
	if len(policies) != 1 {
		return append(problems, fmt.Sprintf("want one AWS::Events::EventBusPolicy, found %v", sortedKeys(policies)))
	}
	for _, id := range sortedKeys(policies) {
		p := Properties(policies[id])
		if !equal(p["EventBusName"], ref("CentralEventBus")) {
			bad("%s EventBusName is %v, want !Ref CentralEventBus", id, p["EventBusName"])
		}
		for _, legacy := range []string{"Action", "Principal", "Condition"} {
			if _, ok := p[legacy]; ok {
				bad("%s uses the legacy %s property; give the whole Statement", id, legacy)
			}
		}
		stmt, _ := p["Statement"].(map[string]any)
		want := map[string]any{
			"Effect":    "Allow",
			"Principal": "*",
			"Action":    "events:PutEvents",
			"Resource":  getAtt("CentralEventBus", "Arn"),
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": ref("OrganizationId")}},
		}
		if sid, ok := stmt["Sid"]; ok {
			want["Sid"] = sid
		}
		if !equal(stmt, want) {
			bad("%s Statement is %v, want %v (events:PutEvents only from the organization)", id, stmt, want)
		}
	}
	return problems
}

func TestCentralEventBusAcceptsOnlyTheOrganization(t *testing.T) {
	for _, p := range checkCentralBus(loadOrganizationTemplate(t)) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// the StackSet
// ---------------------------------------------------------------------------

// memberParameters are the values the StackSet gives the member template.
var memberParameters = map[string]any{
	"CentralEventBusArn":       getAtt("CentralEventBus", "Arn"),
	"CentralAccountId":         ref("AWS::AccountId"),
	"RemediateFunctionRoleArn": getAtt(roleID, "Arn"),
	"SweepFunctionRoleArn":     getAtt(sweepRoleID, "Arn"),
	"MemberRoleName":           ref("MemberRoleName"),
	// IAM is global: the member role is created in this stack's region only.
	"IamRegion": ref("AWS::Region"),
	// The member role may import findings only when the central stack does.
	"SecurityHubFindings": ref("SecurityHubFindings"),
	"RootTemplate":        ref("RootTemplate"),
}

// checkStackSet: one service-managed StackSet with auto-deployment to the
// target OUs and regions, carrying the member template and its parameters.
func checkStackSet(org, member map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	sets, _ := ResourcesOfType(org, "AWS::CloudFormation::StackSet")
	set, ok := sets["MemberStackSet"]
	if len(sets) != 1 || !ok {
		return []string{fmt.Sprintf("want one AWS::CloudFormation::StackSet MemberStackSet, found %v", sortedKeys(sets))}
	}
	p := Properties(set)
	for key, want := range map[string]any{
		"PermissionModel": "SERVICE_MANAGED",
		"AutoDeployment":  map[string]any{"Enabled": true, "RetainStacksOnAccountRemoval": false},
		"Capabilities":    []any{"CAPABILITY_NAMED_IAM"},
		"CallAs":          ref("StackSetCallAs"),
		"StackSetName":    sub("${AWS::StackName}-member"),
	} {
		if !equal(p[key], want) {
			bad("MemberStackSet %s is %v, want %v", key, p[key], want)
		}
	}
	if _, ok := p["TemplateURL"]; ok {
		bad("MemberStackSet has a TemplateURL; the member template is its TemplateBody")
	}
	ops, _ := p["OperationPreferences"].(map[string]any)
	if ops["RegionConcurrencyType"] != "PARALLEL" {
		bad("MemberStackSet OperationPreferences.RegionConcurrencyType is %v, want PARALLEL", ops["RegionConcurrencyType"])
	}
	for _, key := range []string{"FailureTolerancePercentage", "MaxConcurrentPercentage"} {
		if n, ok := ops[key].(int); !ok || n < 1 || n > 100 {
			bad("MemberStackSet OperationPreferences.%s is %v, want a percentage", key, ops[key])
		}
	}

	groups := valueList(p["StackInstancesGroup"])
	if len(groups) != 1 {
		bad("MemberStackSet has %d StackInstancesGroup entries, want 1", len(groups))
	} else {
		g := groups[0]
		if want := map[string]any{"OrganizationalUnitIds": ref("TargetOrganizationalUnits")}; !equal(lookup(g, "DeploymentTargets"), want) {
			bad("MemberStackSet DeploymentTargets is %v, want %v", lookup(g, "DeploymentTargets"), want)
		}
		// TargetRegions, or this stack's region.
		want := any(ref("TargetRegions"))
		if lookup(org, "Conditions", "HasTargetRegions") != true {
			want = []any{ref("AWS::Region")}
		}
		if !equal(lookup(g, "Regions"), want) {
			bad("MemberStackSet Regions is %v, want %v", lookup(g, "Regions"), want)
		}
	}

	given := map[string]any{}
	for _, e := range valueList(p["Parameters"]) {
		key, _ := lookup(e, "ParameterKey").(string)
		if _, dup := given[key]; dup {
			bad("MemberStackSet gives parameter %s twice", key)
		}
		given[key] = lookup(e, "ParameterValue")
	}
	if !equal(given, memberParameters) {
		bad("MemberStackSet Parameters are %v, want %v", given, memberParameters)
	}
	declared, _ := member["Parameters"].(map[string]any)
	if got, want := sortedKeys(declared), sortedKeys(memberParameters); !reflect.DeepEqual(got, want) {
		bad("the member template declares parameters %v, the StackSet gives %v", got, want)
	}
	if d := lookup(declared, "MemberRoleName", "Default"); d != lookup(org, "Parameters", "MemberRoleName", "Default") {
		bad("the member template's MemberRoleName Default is %v, the central stack's %v", d, lookup(org, "Parameters", "MemberRoleName", "Default"))
	}
	return problems
}

func TestMemberStackSet(t *testing.T) {
	f := loadOrgFixture(t)
	for _, p := range checkStackSet(f.org, f.member) {
		t.Error(p)
	}
	// TargetRegions empty: the stack's region.
	params := map[string]string{}
	for k, v := range organizationParams {
		params[k] = v
	}
	params["TargetRegions"] = ""
	for _, p := range checkStackSet(loadTemplateWith(t, params), f.member) {
		t.Error("TargetRegions empty: " + p)
	}
}

// ---------------------------------------------------------------------------
// the member template
// ---------------------------------------------------------------------------

// ecrStatementActions returns the actions of the ECR statement of a role's
// inline policies.
func ecrStatementActions(tmpl map[string]any, roleID string) []string {
	for _, pol := range valueList(lookup(tmpl, "Resources", roleID, "Properties", "Policies")) {
		for _, s := range valueList(lookup(pol, "PolicyDocument", "Statement")) {
			acts, _ := stringList(lookup(s, "Action"))
			if len(acts) > 0 && strings.HasPrefix(acts[0], "ecr:") {
				return sorted(acts)
			}
		}
	}
	return nil
}

// templateStatementActions lists a statement's actions, leaving out the one
// the template grants only with RootTemplate=ensure:
// !If [EnsuresRootTemplate, ecr:CreateRepositoryCreationTemplate, !Ref AWS::NoValue].
// Anything else that is not a string makes it nil.
func templateStatementActions(v any) []string {
	ensure := map[string]any{"Fn::If": []any{"EnsuresRootTemplate", "ecr:CreateRepositoryCreationTemplate", ref("AWS::NoValue")}}
	var out []string
	for _, a := range valueList(v) {
		switch a := a.(type) {
		case string:
			out = append(out, a)
		default:
			if !equal(a, ensure) {
				return nil
			}
		}
	}
	return out
}

// roleStatements returns a role's trust statements and the statements of
// its inline policies.
func roleStatements(role map[string]any) (trust, allowed []map[string]any) {
	p := Properties(role)
	for _, s := range valueList(lookup(p, "AssumeRolePolicyDocument", "Statement")) {
		m, _ := s.(map[string]any)
		trust = append(trust, m)
	}
	for _, pol := range valueList(p["Policies"]) {
		for _, s := range valueList(lookup(pol, "PolicyDocument", "Statement")) {
			m, _ := s.(map[string]any)
			allowed = append(allowed, m)
		}
	}
	return trust, allowed
}

// sameValues compares two lists ignoring order.
func sameValues(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for i, y := range b {
			if !used[i] && equal(x, y) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// checkMemberTemplate: plain CloudFormation (no Transform); a forward rule
// with a role allowed only events:PutEvents on the central bus; the member
// role, in IamRegion only, trusted only by the two function roles, with
// exactly the remediation role's ECR actions on the account's repositories.
func checkMemberTemplate(org, member map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if tr, ok := member["Transform"]; ok {
		bad("the member template has Transform %v; service-managed StackSets refuse it", tr)
	}
	if v := member["AWSTemplateFormatVersion"]; v != "2010-09-09" {
		bad("the member template's AWSTemplateFormatVersion is %v", v)
	}
	if got, want := resourceIDs(member), []string{"ForwardRole", "ForwardRule", "MemberRole"}; !reflect.DeepEqual(got, want) {
		return append(problems, fmt.Sprintf("the member template's resources are %v, want %v", got, want))
	}
	all, _ := Resources(member)
	for id, want := range map[string]string{"ForwardRole": "AWS::IAM::Role", "ForwardRule": "AWS::Events::Rule", "MemberRole": "AWS::IAM::Role"} {
		if all[id]["Type"] != want {
			bad("member %s is %v, want %s", id, all[id]["Type"], want)
		}
	}
	conds := map[string]any{
		"IsIamRegion": map[string]any{"Fn::Equals": []any{ref("AWS::Region"), ref("IamRegion")}},
		// The central stack's own rule watches its account in its region.
		"ForwardsEvents": map[string]any{"Fn::Not": []any{map[string]any{"Fn::And": []any{
			map[string]any{"Fn::Equals": []any{ref("AWS::AccountId"), ref("CentralAccountId")}},
			map[string]any{"Condition": "IsIamRegion"},
		}}}},
	}
	for name, want := range conds {
		if got := lookup(member, "Conditions", name); !equal(got, want) {
			bad("member condition %s is %v, want %v", name, got, want)
		}
	}
	for id, want := range map[string]string{"MemberRole": "IsIamRegion", "ForwardRole": "ForwardsEvents", "ForwardRule": "ForwardsEvents"} {
		if got := all[id]["Condition"]; got != want {
			bad("member %s has Condition %v, want %s", id, got, want)
		}
	}
	for _, id := range []string{"ForwardRole", "MemberRole"} {
		p := Properties(all[id])
		for _, key := range []string{"ManagedPolicyArns", "PermissionsBoundary", "Path"} {
			if v, ok := p[key]; ok {
				bad("member %s has %s %v; its inline policy is all it may do", id, key, v)
			}
		}
	}

	// The member role.
	role := all["MemberRole"]
	if v := Properties(role)["RoleName"]; !equal(v, ref("MemberRoleName")) {
		bad("MemberRole RoleName is %v, want !Ref MemberRoleName", v)
	}
	trust, allowed := roleStatements(role)
	wantTrust := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"AWS": []any{ref("RemediateFunctionRoleArn"), ref("SweepFunctionRoleArn")}},
		"Action":    "sts:AssumeRole",
	}
	if len(trust) != 1 {
		bad("MemberRole has %d trust statements, want 1", len(trust))
	} else {
		got := trust[0]
		principals := valueList(lookup(got, "Principal", "AWS"))
		gotRest, wantRest := map[string]any{}, map[string]any{}
		for k, v := range got {
			if k != "Principal" {
				gotRest[k] = v
			}
		}
		for k, v := range wantTrust {
			if k != "Principal" {
				wantRest[k] = v
			}
		}
		if pm, _ := got["Principal"].(map[string]any); len(pm) != 1 || !sameValues(principals, valueList(lookup(wantTrust, "Principal", "AWS"))) {
			bad("MemberRole is trusted by %v, want exactly AWS %v", got["Principal"], lookup(wantTrust, "Principal", "AWS"))
		}
		if !equal(gotRest, wantRest) {
			bad("MemberRole trust statement is %v, want %v", got, wantTrust)
		}
	}
	remediationECR := ecrStatementActions(org, roleID)
	if !reflect.DeepEqual(remediationECR, wantECRActions) {
		bad("the remediation role's ECR actions are %v, want %v", remediationECR, wantECRActions)
	}
	// The repository statement, the template statement (on "*": templates
	// have no IAM resource type) and what template writes need.
	want := []struct {
		actions  []string
		resource any
	}{
		{remediationECR, sub(memberECRRepositoryARN)},
		{wantTemplateActions, "*"},
		{[]string{templateWriteAction}, sub(memberECRRepositoryARN)},
	}
	if len(allowed) != len(want) {
		bad("MemberRole has %d policy statements, want %d (repositories, templates, template writes)", len(allowed), len(want))
	}
	for i, s := range allowed[:min(len(allowed), len(want))] {
		acts := templateStatementActions(s["Action"])
		if s["Effect"] != "Allow" || !reflect.DeepEqual(sorted(acts), sorted(want[i].actions)) {
			bad("MemberRole statement is %v %v, want Allow exactly %v", s["Effect"], acts, want[i].actions)
		}
		if res := valueList(s["Resource"]); !(len(res) == 1 && equal(res[0], want[i].resource)) {
			bad("MemberRole Resource is %v, want exactly %v", s["Resource"], want[i].resource)
		}
		for _, key := range []string{"NotAction", "NotResource"} {
			if _, ok := s[key]; ok {
				bad("MemberRole statement has %s", key)
			}
		}
	}

	// The forward role: only events:PutEvents on the central bus.
	trust, allowed = roleStatements(all["ForwardRole"])
	wantForwardTrust := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "events.amazonaws.com"},
		"Action":    "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}},
	}
	if len(trust) != 1 || !equal(trust[0], wantForwardTrust) {
		bad("ForwardRole trust is %v, want only %v", trust, wantForwardTrust)
	}
	wantForward := map[string]any{"Effect": "Allow", "Action": "events:PutEvents", "Resource": ref("CentralEventBusArn")}
	if len(allowed) != 1 {
		bad("ForwardRole has %d policy statements, want 1", len(allowed))
	}
	for _, s := range allowed {
		got := map[string]any{}
		for k, v := range s {
			if k != "Sid" {
				got[k] = v
			}
		}
		if !equal(got, wantForward) {
			bad("ForwardRole statement is %v, want %v", s, wantForward)
		}
	}

	// The forward rule: the member's default bus -> the central bus.
	rp := Properties(all["ForwardRule"])
	if bus, ok := rp["EventBusName"]; ok && bus != "default" {
		bad("ForwardRule EventBusName is %v, want the default bus", bus)
	}
	if st, ok := rp["State"]; ok && st != "ENABLED" {
		bad("ForwardRule State is %v, want ENABLED", st)
	}
	targets := valueList(rp["Targets"])
	if len(targets) != 1 {
		bad("ForwardRule has %d targets, want 1", len(targets))
	} else {
		if v := lookup(targets[0], "Arn"); !equal(v, ref("CentralEventBusArn")) {
			bad("ForwardRule target Arn is %v, want !Ref CentralEventBusArn", v)
		}
		if v := lookup(targets[0], "RoleArn"); !equal(v, getAtt("ForwardRole", "Arn")) {
			bad("ForwardRule target RoleArn is %v, want !GetAtt ForwardRole.Arn", v)
		}
	}
	return problems
}

func TestMemberTemplate(t *testing.T) {
	f := loadOrgFixture(t)
	for _, p := range checkMemberTemplate(f.org, f.member) {
		t.Error(p)
	}
}

// checkMemberRegions: where each member stack creates what. The central
// account is 111111111111 in us-east-1 (IamRegion).
func checkMemberRegions(member map[string]any) []string {
	var problems []string
	forward := []string{"ForwardRole", "ForwardRule"}
	for _, c := range []struct {
		account, region, central string
		want                     []string
	}{
		{"222222222222", "us-east-1", "111111111111", union(forward, []string{"MemberRole"})},
		{"222222222222", "eu-west-1", "111111111111", forward},
		// The central stack's own rule watches its account and region.
		{"111111111111", "us-east-1", "111111111111", []string{"MemberRole"}},
		{"111111111111", "eu-west-1", "111111111111", forward},
		// Deployed by hand without CentralAccountId: everything.
		{"111111111111", "us-east-1", "", union(forward, []string{"MemberRole"})},
	} {
		params := map[string]string{"AWS::AccountId": c.account, "AWS::Region": c.region, "IamRegion": "us-east-1", "CentralAccountId": c.central}
		view, err := Resolve(member, params)
		if err != nil {
			problems = append(problems, fmt.Sprintf("member template with %v: %v", params, err))
			continue
		}
		if got := resourceIDs(view); !reflect.DeepEqual(got, c.want) {
			problems = append(problems, fmt.Sprintf("member stack of %s in %s (central %q) creates %v, want %v", c.account, c.region, c.central, got, c.want))
		}
	}
	return problems
}

func TestMemberRoleOnlyInIamRegion(t *testing.T) {
	for _, p := range checkMemberRegions(loadOrgFixture(t).member) {
		t.Error(p)
	}
}

// checkPatternsEqual: the member template's forward rule, the central bus's
// rule and the Scope=account rule have one pattern (checkRulePattern checks
// it matches exactly the handled events).
func checkPatternsEqual(account, org, member map[string]any) []string {
	accountPattern, err := RulePattern(account)
	if err != nil {
		return []string{"Scope=account: " + err.Error()}
	}
	orgPatterns, err := RulePatterns(org)
	if err != nil {
		return []string{"Scope=organization: " + err.Error()}
	}
	memberPatterns, err := RulePatterns(member)
	if err != nil {
		return []string{"member template: " + err.Error()}
	}
	var problems []string
	if got := sortedKeys(orgPatterns); !reflect.DeepEqual(got, []string{"CentralEcrApiCallRule", "EcrApiCallRule"}) {
		problems = append(problems, fmt.Sprintf("Scope=organization rules are %v, want CentralEcrApiCallRule and EcrApiCallRule", got))
	}
	if got := sortedKeys(memberPatterns); !reflect.DeepEqual(got, []string{"ForwardRule"}) {
		problems = append(problems, fmt.Sprintf("member template rules are %v, want ForwardRule", got))
	}
	for where, p := range map[string]map[string]any{
		"Scope=organization CentralEcrApiCallRule": orgPatterns["CentralEcrApiCallRule"],
		"Scope=organization EcrApiCallRule":        orgPatterns["EcrApiCallRule"],
		"member template ForwardRule":              memberPatterns["ForwardRule"],
	} {
		if !equal(p, accountPattern) {
			problems = append(problems, fmt.Sprintf("%s pattern %v differs from the Scope=account rule's %v", where, p, accountPattern))
		}
	}
	return problems
}

func TestRulePatternsAreEqual(t *testing.T) {
	f := loadOrgFixture(t)
	for _, p := range checkPatternsEqual(f.account, f.org, f.member) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// the checks must be able to fail
// ---------------------------------------------------------------------------

func TestOrganizationChecksDetectBrokenTemplates(t *testing.T) {
	res := func(tmpl map[string]any, id string) map[string]any {
		return lookup(tmpl, "Resources", id).(map[string]any)
	}
	props := func(tmpl map[string]any, id string) map[string]any { return Properties(res(tmpl, id)) }
	firstPolicyStatement := func(tmpl map[string]any, id string) map[string]any {
		return valueList(lookup(props(tmpl, id)["Policies"].([]any)[0], "PolicyDocument", "Statement"))[0].(map[string]any)
	}
	trustStatement := func(tmpl map[string]any, id string) map[string]any {
		return valueList(lookup(props(tmpl, id), "AssumeRolePolicyDocument", "Statement"))[0].(map[string]any)
	}
	roleStatement := func(tmpl map[string]any, id string, i int) map[string]any {
		return valueList(lookup(props(tmpl, id), "PolicyDocument", "Statement"))[i].(map[string]any)
	}
	scopes := func(f orgFixture) []string { return checkScopes(f.raw) }
	params := func(f orgFixture) []string { return checkOrganizationParameters(f.raw) }
	bus := func(f orgFixture) []string { return checkCentralBus(f.org) }
	stackSet := func(f orgFixture) []string { return checkStackSet(f.org, f.member) }
	member := func(f orgFixture) []string { return checkMemberTemplate(f.org, f.member) }
	regions := func(f orgFixture) []string { return checkMemberRegions(f.member) }
	patterns := func(f orgFixture) []string { return checkPatternsEqual(f.account, f.org, f.member) }
	iam := func(f orgFixture) []string { return checkLeastPrivilege(f.org) }
	accountIAM := func(f orgFixture) []string { return checkLeastPrivilege(f.account) }
	rules := func(f orgFixture) []string { return append(checkRuleTarget(f.org), checkRuleDLQPolicy(f.org)...) }

	cases := []struct {
		name   string
		check  func(orgFixture) []string
		mutate func(orgFixture)
	}{
		{"bus unconditional", scopes, func(f orgFixture) { delete(res(f.raw, "CentralEventBus"), "Condition") }},
		{"new unconditional resource", scopes, func(f orgFixture) {
			f.raw["Resources"].(map[string]any)["Extra"] = map[string]any{"Type": "AWS::SQS::Queue"}
		}},
		{"member role name set in account scope", scopes, func(f orgFixture) {
			props(f.raw, functionID)["Environment"].(map[string]any)["Variables"].(map[string]any)["MEMBER_ROLE_NAME"] = ref("MemberRoleName")
		}},
		{"output unconditional", scopes, func(f orgFixture) {
			delete(lookup(f.raw, "Outputs", "CentralEventBusArn").(map[string]any), "Condition")
		}},
		{"organization id unchecked", params, func(f orgFixture) {
			lookup(f.raw, "Parameters", "OrganizationId").(map[string]any)["AllowedPattern"] = ".*"
		}},
		{"any scope", params, func(f orgFixture) {
			delete(lookup(f.raw, "Parameters", "Scope").(map[string]any), "AllowedValues")
		}},
		{"no rule on the OUs", params, func(f orgFixture) {
			r := lookup(f.raw, "Rules", "OrganizationScope").(map[string]any)
			r["Assertions"] = r["Assertions"].([]any)[:1]
		}},
		{"bus open to everyone", bus, func(f orgFixture) {
			delete(props(f.org, "CentralEventBusPolicy")["Statement"].(map[string]any), "Condition")
		}},
		{"bus open to an account", bus, func(f orgFixture) {
			props(f.org, "CentralEventBusPolicy")["Statement"].(map[string]any)["Condition"] = map[string]any{"StringEquals": map[string]any{"aws:PrincipalAccount": "123456789012"}}
		}},
		{"bus allows more", bus, func(f orgFixture) {
			props(f.org, "CentralEventBusPolicy")["Statement"].(map[string]any)["Action"] = []any{"events:PutEvents", "events:PutRule"}
		}},
		{"central rule on the default bus", rules, func(f orgFixture) { delete(props(f.org, "CentralEcrApiCallRule"), "EventBusName") }},
		{"central rule without DLQ", rules, func(f orgFixture) {
			delete(valueList(props(f.org, "CentralEcrApiCallRule")["Targets"])[0].(map[string]any), "DeadLetterConfig")
		}},
		{"central rule may not dead-letter", rules, func(f orgFixture) {
			doc := props(f.org, ruleDLQ+"Policy")["PolicyDocument"].(map[string]any)
			doc["Statement"] = valueList(doc["Statement"])[:1]
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": getAtt(ruleDLQ, "Arn")})
		}},
		{"central rule cannot invoke", rules, func(f orgFixture) { delete(f.org["Resources"].(map[string]any), "CentralEcrApiCallRulePermission") }},
		{"self-managed stack set", stackSet, func(f orgFixture) { props(f.org, "MemberStackSet")["PermissionModel"] = "SELF_MANAGED" }},
		{"no auto-deployment", stackSet, func(f orgFixture) {
			props(f.org, "MemberStackSet")["AutoDeployment"] = map[string]any{"Enabled": false}
		}},
		{"stack set regions fixed", stackSet, func(f orgFixture) {
			valueList(props(f.org, "MemberStackSet")["StackInstancesGroup"])[0].(map[string]any)["Regions"] = []any{"us-east-1"}
		}},
		{"member parameter missing", stackSet, func(f orgFixture) {
			p := props(f.org, "MemberStackSet")
			p["Parameters"] = p["Parameters"].([]any)[1:]
		}},
		{"member role in the wrong region", stackSet, func(f orgFixture) {
			for _, e := range props(f.org, "MemberStackSet")["Parameters"].([]any) {
				if e.(map[string]any)["ParameterKey"] == "IamRegion" {
					e.(map[string]any)["ParameterValue"] = "us-east-1"
				}
			}
		}},
		{"member transform", member, func(f orgFixture) { f.member["Transform"] = "AWS::Serverless-2016-10-31" }},
		{"member role trusts everyone", member, func(f orgFixture) {
			trustStatement(f.member, "MemberRole")["Principal"] = map[string]any{"AWS": "*"}
		}},
		{"member role trusts a third role", member, func(f orgFixture) {
			s := trustStatement(f.member, "MemberRole")
			s["Principal"].(map[string]any)["AWS"] = append(s["Principal"].(map[string]any)["AWS"].([]any), "arn:aws:iam::123456789012:role/other")
		}},
		{"member role trusts a service too", member, func(f orgFixture) {
			trustStatement(f.member, "MemberRole")["Principal"].(map[string]any)["Service"] = "lambda.amazonaws.com"
		}},
		{"member role extra action", member, func(f orgFixture) {
			s := firstPolicyStatement(f.member, "MemberRole")
			s["Action"] = append(s["Action"].([]any), "ecr:BatchDeleteImage")
		}},
		{"member role missing action", member, func(f orgFixture) {
			s := firstPolicyStatement(f.member, "MemberRole")
			s["Action"] = s["Action"].([]any)[1:]
		}},
		{"member role on every account", member, func(f orgFixture) {
			firstPolicyStatement(f.member, "MemberRole")["Resource"] = "arn:aws:ecr:*:*:repository/*"
		}},
		{"member role extra statement", member, func(f orgFixture) {
			doc := lookup(props(f.member, "MemberRole")["Policies"].([]any)[0], "PolicyDocument").(map[string]any)
			doc["Statement"] = append(valueList(doc["Statement"]), map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
		}},
		{"member role managed policy", member, func(f orgFixture) {
			props(f.member, "MemberRole")["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/AdministratorAccess"}
		}},
		{"member role everywhere", member, func(f orgFixture) { delete(res(f.member, "MemberRole"), "Condition") }},
		{"forward role puts anywhere", member, func(f orgFixture) { firstPolicyStatement(f.member, "ForwardRole")["Resource"] = "*" }},
		{"forward role does more", member, func(f orgFixture) {
			firstPolicyStatement(f.member, "ForwardRole")["Action"] = []any{"events:PutEvents", "events:PutRule"}
		}},
		{"forward role trusts lambda", member, func(f orgFixture) {
			trustStatement(f.member, "ForwardRole")["Principal"] = map[string]any{"Service": "lambda.amazonaws.com"}
		}},
		{"forward rule elsewhere", member, func(f orgFixture) {
			valueList(props(f.member, "ForwardRule")["Targets"])[0].(map[string]any)["Arn"] = "arn:aws:events:us-east-1:123456789012:event-bus/other"
		}},
		{"member role in every region", regions, func(f orgFixture) {
			lookup(f.member, "Conditions").(map[string]any)["IsIamRegion"] = map[string]any{"Fn::Equals": []any{"a", "a"}}
		}},
		{"central region forwarded twice", regions, func(f orgFixture) {
			delete(res(f.member, "ForwardRule"), "Condition")
			delete(res(f.member, "ForwardRole"), "Condition")
		}},
		{"member pattern differs", patterns, func(f orgFixture) {
			d := cloudTrailDetail(lookup(props(f.member, "ForwardRule"), "EventPattern"))
			d["eventName"] = d["eventName"].([]any)[1:]
		}},
		{"central pattern differs", patterns, func(f orgFixture) {
			lookup(props(f.org, "CentralEcrApiCallRule"), "EventPattern").(map[string]any)["source"] = []any{"aws.s3"}
		}},
		{"assume any role", iam, func(f orgFixture) {
			roleStatement(f.org, "RemediateFunctionMemberPolicy", 0)["Resource"] = "*"
		}},
		{"assume any role of an account", iam, func(f orgFixture) {
			roleStatement(f.org, "SweepFunctionOrganizationPolicy", 0)["Resource"] = sub("arn:${AWS::Partition}:iam::*:role/*")
		}},
		{"remediation cannot assume", iam, func(f orgFixture) { delete(f.org["Resources"].(map[string]any), "RemediateFunctionMemberPolicy") }},
		{"remediation lists accounts", iam, func(f orgFixture) {
			doc := props(f.org, "RemediateFunctionMemberPolicy")["PolicyDocument"].(map[string]any)
			doc["Statement"] = append(valueList(doc["Statement"]), map[string]any{"Effect": "Allow", "Action": "organizations:ListAccounts", "Resource": "*"})
		}},
		{"sweep describes the organization", iam, func(f orgFixture) {
			roleStatement(f.org, "SweepFunctionOrganizationPolicy", 1)["Action"] = []any{"organizations:ListAccounts", "organizations:DescribeOrganization"}
		}},
		{"sweep cannot list accounts", iam, func(f orgFixture) {
			doc := props(f.org, "SweepFunctionOrganizationPolicy")["PolicyDocument"].(map[string]any)
			doc["Statement"] = valueList(doc["Statement"])[:1]
		}},
		{"assume in account scope", accountIAM, func(f orgFixture) {
			f.account["Resources"].(map[string]any)["RemediateFunctionMemberPolicy"] = deepCopy(res(f.org, "RemediateFunctionMemberPolicy"))
		}},
		{"list accounts in account scope", accountIAM, func(f orgFixture) {
			f.account["Resources"].(map[string]any)["SweepFunctionOrganizationPolicy"] = deepCopy(res(f.org, "SweepFunctionOrganizationPolicy"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := loadOrgFixture(t)
			if p := c.check(f); len(p) != 0 {
				t.Fatalf("check fails on the unmodified template: %v", p)
			}
			c.mutate(f)
			if p := c.check(f); len(p) == 0 {
				t.Fatal("check accepted the broken template")
			}
		})
	}
}

// TestMemberRoleImportsFindingsOnlyWhenOn: with SecurityHubFindings=on the
// member role may also securityhub:BatchImportFindings, on its own
// account's default product (any region), and securityhub:GetFindings on
// its hub, and nothing else; off, it may not.
func TestMemberRoleImportsFindingsOnlyWhenOn(t *testing.T) {
	f := loadOrgFixture(t)
	wantECR := map[string]any{"Sid": "RemediateRepositories"}
	wantImport := map[string]any{
		"Sid": "ImportFindings", "Effect": "Allow", "Action": "securityhub:BatchImportFindings",
		"Resource": sub("arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"),
	}
	wantRead := map[string]any{
		"Sid": "ReadFindings", "Effect": "Allow", "Action": "securityhub:GetFindings",
		"Resource": sub("arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default"),
	}
	wantTemplates := map[string]any{"Sid": "GuardCreationTemplates"}
	wantTemplateWrites := map[string]any{"Sid": "TemplateWritesCreateRepositories"}
	for value, want := range map[string][]map[string]any{"off": {wantECR, wantTemplates, wantTemplateWrites}, "on": {wantECR, wantTemplates, wantTemplateWrites, wantImport, wantRead}} {
		view, err := Resolve(f.member, map[string]string{"AWS::AccountId": "222222222222", "AWS::Region": "us-east-1", "IamRegion": "us-east-1", "SecurityHubFindings": value})
		if err != nil {
			t.Fatal(err)
		}
		all, _ := Resources(view)
		_, allowed := roleStatements(all["MemberRole"])
		if len(allowed) != len(want) {
			t.Errorf("SecurityHubFindings=%s: member role statements %v, want %v", value, allowed, want)
			continue
		}
		// The ECR statement is checked exactly by checkMemberTemplate.
		if allowed[0]["Sid"] != "RemediateRepositories" {
			t.Errorf("SecurityHubFindings=%s: member role statement 0 is %v, want the ECR statement", value, allowed[0])
		}
		for i := 3; i < len(want); i++ {
			if !equal(allowed[i], want[i]) {
				t.Errorf("SecurityHubFindings=%s: member role statement %d is %v, want %v", value, i, allowed[i], want[i])
			}
		}
	}
}
