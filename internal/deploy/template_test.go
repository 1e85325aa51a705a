package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

const (
	templatePath  = "../../template.yaml"
	samconfigPath = "../../samconfig.toml"

	functionID   = "RemediateFunction"
	roleID       = "RemediateFunctionRole"
	topicID      = "NoticeTopic"
	logGroupID   = "RemediateLogGroup"
	failureQueue = "RemediateFailureQueue"
	ruleDLQ      = "RuleDeadLetterQueue"

	ecrRepositoryARN = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"

	sweepFunctionID = "SweepFunction"
	sweepRoleID     = "SweepFunctionRole"
	sweepLogGroupID = "SweepLogGroup"
	// sweepFunctionName is the sweep's explicit FunctionName, and
	// sweepFunctionARN its ARN: the only function it may invoke (itself).
	sweepFunctionName = "${AWS::StackName}-sweep"
	sweepFunctionARN  = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-sweep"
)

// wantECRActions is the complete set of ECR actions the function role may hold.
var wantECRActions = []string{
	"ecr:DescribeImages",
	"ecr:DescribeRepositories",
	"ecr:GetLifecyclePolicy",
	"ecr:ListTagsForResource",
	"ecr:PutImageTagMutability",
	"ecr:PutLifecyclePolicy",
}

// wantSweepECRActions is the complete set of ECR actions the sweep role may
// hold: what the rules read and write, no image listing.
var wantSweepECRActions = []string{
	"ecr:DescribeRepositories",
	"ecr:GetLifecyclePolicy",
	"ecr:ListTagsForResource",
	"ecr:PutImageTagMutability",
	"ecr:PutLifecyclePolicy",
}

// functionSpec is what one function's role may do.
type functionSpec struct {
	function, logGroup string
	ecr                []string
	invokeSelf         bool // may lambda:InvokeFunction on sweepFunctionARN
}

var functionSpecs = []functionSpec{
	{function: functionID, logGroup: logGroupID, ecr: wantECRActions},
	{function: sweepFunctionID, logGroup: sweepLogGroupID, ecr: wantSweepECRActions, invokeSelf: true},
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	tmpl, err := LoadTemplate(templatePath)
	if err != nil {
		t.Fatalf("LoadTemplate(%s): %v", templatePath, err)
	}
	return tmpl
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func getAtt(resource, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{resource, attr}}
}

func sub(s string) map[string]any { return map[string]any{"Fn::Sub": s} }

// equal compares two decoded YAML values, treating all integer kinds alike.
func equal(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	default:
		return v
	}
}

// stringList returns a string or a list of strings as a slice.
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	default:
		return nil, false
	}
}

// valueList returns a single value or a list of values as a slice.
func valueList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// policy documents
// ---------------------------------------------------------------------------

type policyKind int

const (
	identityPolicy policyKind = iota // attached to an IAM role
	trustPolicy                      // a role's AssumeRolePolicyDocument
	resourcePolicy                   // SNS topic / SQS queue policy
	keyPolicy                        // KMS key policy
)

type policyDoc struct {
	where string     // human-readable location
	kind  policyKind // what the document is
	role  string     // logical ID of the role an identity policy is attached to
	doc   any
}

// roleOf returns the logical ID of a role referenced as {"Ref": id}.
func roleOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["Ref"].(string); ok {
			return s
		}
	}
	return ""
}

// policyDocuments returns every IAM policy document in the template.
func policyDocuments(tmpl map[string]any) ([]policyDoc, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return nil, err
	}
	var docs []policyDoc
	for _, id := range sortedKeys(all) {
		r := all[id]
		props := Properties(r)
		switch r["Type"] {
		case "AWS::IAM::Role":
			docs = append(docs, policyDoc{id + ".AssumeRolePolicyDocument", trustPolicy, id, props["AssumeRolePolicyDocument"]})
			for i, p := range valueList(props["Policies"]) {
				pm, _ := p.(map[string]any)
				docs = append(docs, policyDoc{fmt.Sprintf("%s.Policies[%d]", id, i), identityPolicy, id, pm["PolicyDocument"]})
			}
		case "AWS::IAM::RolePolicy":
			docs = append(docs, policyDoc{id, identityPolicy, roleOf(props["RoleName"]), props["PolicyDocument"]})
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			roles := valueList(props["Roles"])
			if len(roles) == 0 {
				docs = append(docs, policyDoc{id, identityPolicy, "", props["PolicyDocument"]})
			}
			for _, rl := range roles {
				docs = append(docs, policyDoc{id, identityPolicy, roleOf(rl), props["PolicyDocument"]})
			}
		case "AWS::Serverless::Function":
			// SAM inline policies (only used with a SAM-generated role).
			for i, p := range valueList(props["Policies"]) {
				if pm, ok := p.(map[string]any); ok {
					if _, ok := pm["Statement"]; ok {
						docs = append(docs, policyDoc{fmt.Sprintf("%s.Policies[%d]", id, i), identityPolicy, id + "Role", pm})
					}
				}
			}
		case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			docs = append(docs, policyDoc{id, resourcePolicy, "", props["PolicyDocument"]})
		case "AWS::KMS::Key":
			docs = append(docs, policyDoc{id + ".KeyPolicy", keyPolicy, "", props["KeyPolicy"]})
		}
	}
	return docs, nil
}

type statement struct {
	where    string
	doc      policyDoc
	effect   string
	actions  []string
	resource []any
	raw      map[string]any
}

func statements(d policyDoc) ([]statement, error) {
	dm, ok := d.doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: policy document is %T, not a mapping", d.where, d.doc)
	}
	var out []statement
	for i, s := range valueList(dm["Statement"]) {
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: Statement[%d] is %T, not a mapping", d.where, i, s)
		}
		where := fmt.Sprintf("%s Statement[%d]", d.where, i)
		if sid, ok := sm["Sid"].(string); ok {
			where += " (" + sid + ")"
		}
		actions, ok := stringList(sm["Action"])
		if !ok {
			return nil, fmt.Errorf("%s: Action must be a string or list of strings, got %v", where, sm["Action"])
		}
		effect, _ := sm["Effect"].(string)
		out = append(out, statement{where, d, effect, actions, valueList(sm["Resource"]), sm})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no statements", d.where)
	}
	return out, nil
}

// functionRole returns the logical ID of the role the function runs as
// (from its Role: !GetAtt X.Arn).
func functionRole(tmpl map[string]any, functionID string) (string, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return "", err
	}
	fn, ok := all[functionID]
	if !ok {
		return "", fmt.Errorf("no %s resource", functionID)
	}
	role, ok := Properties(fn)["Role"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s has no explicit Role", functionID)
	}
	ga, ok := role["Fn::GetAtt"].([]any)
	if !ok || len(ga) != 2 || ga[1] != "Arn" {
		return "", fmt.Errorf("%s Role is %v, want !GetAtt <role>.Arn", functionID, role)
	}
	id, _ := ga[0].(string)
	if all[id]["Type"] != "AWS::IAM::Role" {
		return "", fmt.Errorf("%s Role %q is not an AWS::IAM::Role in the template", functionID, id)
	}
	return id, nil
}

// checkLeastPrivilege returns every least-privilege violation in the template.
func checkLeastPrivilege(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	specs := map[string]functionSpec{} // role logical ID -> its function
	for _, f := range functionSpecs {
		role, err := functionRole(tmpl, f.function)
		if err != nil {
			return []string{err.Error()}
		}
		if _, dup := specs[role]; dup {
			bad("%s shares its role %s with another function; each function gets its own", f.function, role)
		}
		specs[role] = f
	}
	docs, err := policyDocuments(tmpl)
	if err != nil {
		return []string{err.Error()}
	}

	ecrActions := map[string]map[string]bool{} // role -> ECR actions allowed
	hasPublish, hasLogs, hasInvoke := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		stmts, err := statements(d)
		if err != nil {
			bad("%v", err)
			continue
		}
		for _, s := range stmts {
			if s.effect != "Allow" && s.effect != "Deny" {
				bad("%s: Effect %q", s.where, s.effect)
			}
			if _, ok := s.raw["NotAction"]; ok {
				bad("%s: NotAction is not allowed", s.where)
			}
			if len(s.actions) == 0 {
				bad("%s: no Action", s.where)
			}
			for _, a := range s.actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					bad("%s: wildcard action %q", s.where, a)
				}
				// Identity policies get no wildcard at all, not even a prefix one.
				if d.kind == identityPolicy && strings.Contains(a, "*") {
					bad("%s: wildcard in action %q", s.where, a)
				}
			}
			if d.kind == identityPolicy && s.effect == "Allow" {
				if _, ok := s.raw["NotResource"]; ok {
					bad("%s: NotResource is not allowed", s.where)
				}
				if len(s.resource) == 0 {
					bad("%s: no Resource", s.where)
				}
				for _, r := range s.resource {
					if r == "*" {
						bad("%s: Resource \"*\" in an identity policy", s.where)
					}
				}
			}
			if d.kind == keyPolicy {
				continue // key policies are excluded from the service-specific checks
			}
			hasECR := false
			for _, a := range s.actions {
				if strings.HasPrefix(strings.ToLower(a), "ecr:") {
					hasECR = true
					if s.effect == "Allow" {
						if ecrActions[d.role] == nil {
							ecrActions[d.role] = map[string]bool{}
						}
						ecrActions[d.role][a] = true
					}
				}
			}
			if hasECR && !(len(s.resource) == 1 && equal(s.resource[0], sub(ecrRepositoryARN))) {
				bad("%s: ECR statement Resource is %v, want exactly !Sub %s", s.where, s.resource, ecrRepositoryARN)
			}
			if d.kind != identityPolicy {
				continue
			}
			spec, isFunctionRole := specs[d.role]
			for _, a := range s.actions {
				switch {
				case strings.HasPrefix(strings.ToLower(a), "lambda:"):
					// Only the sweep may invoke a function, and only itself.
					if !isFunctionRole || !spec.invokeSelf || a != "lambda:InvokeFunction" {
						bad("%s: %s granted to %s; only the sweep role may lambda:InvokeFunction, on itself", s.where, a, d.role)
						continue
					}
					hasInvoke[d.role] = true
					if !(len(s.resource) == 1 && equal(s.resource[0], sub(sweepFunctionARN))) {
						bad("%s: lambda:InvokeFunction Resource is %v, want exactly !Sub %s (the sweep itself)", s.where, s.resource, sweepFunctionARN)
					}
				case !isFunctionRole:
				case a == "sns:Publish":
					hasPublish[d.role] = true
					if !(len(s.resource) == 1 && equal(s.resource[0], ref(topicID))) {
						bad("%s: sns:Publish Resource is %v, want exactly !Ref %s", s.where, s.resource, topicID)
					}
				case strings.HasPrefix(a, "sns:"):
					bad("%s: unexpected SNS action %q for the function role", s.where, a)
				case strings.HasPrefix(a, "logs:"):
					hasLogs[d.role] = true
					if a != "logs:CreateLogStream" && a != "logs:PutLogEvents" {
						bad("%s: unexpected logs action %q", s.where, a)
					}
					if !(len(s.resource) == 1 && equal(s.resource[0], getAtt(spec.logGroup, "Arn"))) {
						bad("%s: logs Resource is %v, want exactly !GetAtt %s.Arn", s.where, s.resource, spec.logGroup)
					}
				}
			}
		}
	}
	for _, role := range sortedKeys(ecrActions) {
		if _, ok := specs[role]; !ok {
			bad("role %q holds ECR actions %v but runs no ecr-guard function", role, sortedKeys(ecrActions[role]))
		}
	}
	all, _ := Resources(tmpl)
	for _, role := range sortedKeys(specs) {
		spec := specs[role]
		if got := sortedKeys(ecrActions[role]); !reflect.DeepEqual(got, spec.ecr) {
			bad("ECR actions granted to %s are %v, want exactly %v", role, got, spec.ecr)
		}
		if !hasPublish[role] {
			bad("function role %s cannot sns:Publish to %s", role, topicID)
		}
		if !hasLogs[role] {
			bad("function role %s cannot write to its log group %s", role, spec.logGroup)
		}
		if spec.invokeSelf && !hasInvoke[role] {
			bad("function role %s cannot invoke its own function to continue the sweep", role)
		}
		// The function roles must not pick up broad AWS-managed policies.
		if mp := Properties(all[role])["ManagedPolicyArns"]; mp != nil {
			bad("%s has ManagedPolicyArns %v; use scoped inline policies", role, mp)
		}
	}
	// The invoke grant names the sweep's ARN, so the sweep must carry that name.
	if name := Properties(all[sweepFunctionID])["FunctionName"]; !equal(name, sub(sweepFunctionName)) {
		bad("%s FunctionName is %v, want !Sub %s (its role may invoke only that name)", sweepFunctionID, name, sweepFunctionName)
	}
	return problems
}

func TestTemplateIAMIsLeastPrivilege(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkLeastPrivilege(tmpl) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// queues
// ---------------------------------------------------------------------------

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

// lookup walks nested mappings; it returns nil when a key is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestFailureQueuesEncrypted(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkFailureQueues(tmpl) {
		t.Error(p)
	}
}

// checkRuleDLQPolicy: EventBridge may send to the rule DLQ only for our rule.
func checkRuleDLQPolicy(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rules, err := ResourcesOfType(tmpl, "AWS::Events::Rule")
	if err != nil {
		return []string{err.Error()}
	}
	if len(rules) != 1 {
		return []string{fmt.Sprintf("want exactly one AWS::Events::Rule, found %v", sortedKeys(rules))}
	}
	ruleID := sortedKeys(rules)[0]

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
			want := map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": getAtt(ruleID, "Arn")}}
			if !equal(s.raw["Condition"], want) {
				bad("%s: Condition is %v, want %v", s.where, s.raw["Condition"], want)
			}
		}
	}
	if allowed == 0 {
		bad("no AWS::SQS::QueuePolicy allows EventBridge to send to %s", ruleDLQ)
	}
	return problems
}

func TestRuleDeadLetterQueuePolicy(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkRuleDLQPolicy(tmpl) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// alarms
// ---------------------------------------------------------------------------

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
	tmpl := loadTemplate(t)
	for _, p := range checkAlarmActions(tmpl) {
		t.Error(p)
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
	tmpl := loadTemplate(t)
	for _, p := range checkRequiredAlarms(tmpl) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// EventBridge rule pattern
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// function configuration
// ---------------------------------------------------------------------------

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

	wantEnv := ruleEnv()
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
		"LifecycleMode":            {"enforce", []any{"enforce", "missing", "off"}},
		"DryRun":                   {"false", []any{"true", "false"}},
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

// ruleEnv is the environment both functions share: the topic and the rule
// settings, each wired from its parameter.
func ruleEnv() map[string]any {
	return map[string]any{
		"SNS_TOPIC_ARN":               ref(topicID),
		"EXEMPT_TAGS":                 ref("ExemptTags"),
		"EXEMPT_REPOSITORY_PATTERNS":  ref("ExemptRepositoryPatterns"),
		"EXEMPTION_EXPIRES_TAG":       ref("ExemptionExpiresTag"),
		"ALLOWED_MUTABLE_TAG_FILTERS": ref("AllowedMutableTagFilters"),
		"LIFECYCLE_POLICY":            ref("LifecyclePolicy"),
		"LIFECYCLE_MODE":              ref("LifecycleMode"),
		"DRY_RUN":                     ref("DryRun"),
		"LOG_LEVEL":                   ref("LogLevel"),
	}
}

func TestFunctionConfiguration(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkFunction(tmpl) {
		t.Error(p)
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
	wantEnv := ruleEnv()
	wantEnv["SWEEP_CONCURRENCY"] = ref("SweepConcurrency")
	wantEnv["SWEEP_MAX_TPS"] = ref("SweepMaxTps")
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
	tmpl := loadTemplate(t)
	for _, p := range checkSweepFunction(tmpl) {
		t.Error(p)
	}
}

// ---------------------------------------------------------------------------
// notices: encrypted topic, topic policy, optional e-mail
// ---------------------------------------------------------------------------

func checkNotices(tmpl map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	all, err := Resources(tmpl)
	if err != nil {
		return []string{err.Error()}
	}
	topic := all[topicID]
	if topic["Type"] != "AWS::SNS::Topic" {
		return []string{fmt.Sprintf("no AWS::SNS::Topic %s", topicID)}
	}
	keyID := ""
	if ga, ok := lookup(topic, "Properties", "KmsMasterKeyId", "Fn::GetAtt").([]any); ok && len(ga) == 2 {
		keyID, _ = ga[0].(string)
	} else if id := roleOf(lookup(topic, "Properties", "KmsMasterKeyId")); id != "" {
		keyID = id
	}
	if all[keyID]["Type"] != "AWS::KMS::Key" {
		bad("%s KmsMasterKeyId does not reference a customer-managed AWS::KMS::Key in the template", topicID)
	} else {
		// The key policy lets CloudWatch and the function role use the key.
		stmts, err := statements(policyDoc{keyID, keyPolicy, "", Properties(all[keyID])["KeyPolicy"]})
		if err != nil {
			bad("%v", err)
		}
		usable := map[string]bool{}
		for _, s := range stmts {
			if s.effect != "Allow" || !contains(s.actions, "kms:Decrypt") || !(contains(s.actions, "kms:GenerateDataKey") || contains(s.actions, "kms:GenerateDataKey*")) {
				continue
			}
			principal, _ := s.raw["Principal"].(map[string]any)
			if principal["Service"] == "cloudwatch.amazonaws.com" {
				usable["cloudwatch"] = true
			}
			if equal(principal["AWS"], getAtt(roleID, "Arn")) {
				usable["role"] = true
			}
			if equal(principal["AWS"], getAtt(sweepRoleID, "Arn")) {
				usable["sweep-role"] = true
			}
		}
		if !usable["cloudwatch"] || !usable["role"] || !usable["sweep-role"] {
			bad("%s key policy must let cloudwatch.amazonaws.com, %s and %s use the key (got %v)", keyID, roleID, sweepRoleID, usable)
		}
	}

	// Topic policy: Allow sns:Publish only to the function role and CloudWatch
	// (same account); deny non-TLS access.
	policies, _ := ResourcesOfType(tmpl, "AWS::SNS::TopicPolicy")
	var allowPrincipals []string
	denyTLS := false
	for _, id := range sortedKeys(policies) {
		p := Properties(policies[id])
		stmts, err := statements(policyDoc{id, resourcePolicy, "", p["PolicyDocument"]})
		if err != nil {
			bad("%v", err)
			continue
		}
		for _, s := range stmts {
			if s.effect == "Deny" {
				if equal(s.raw["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) &&
					contains(s.actions, "sns:Publish") && contains(s.actions, "sns:Subscribe") {
					denyTLS = true
				}
				continue
			}
			if !reflect.DeepEqual(s.actions, []string{"sns:Publish"}) {
				bad("%s: topic policy allows %v, want only sns:Publish", s.where, s.actions)
			}
			principal, _ := s.raw["Principal"].(map[string]any)
			switch {
			case len(principal) == 1 && equal(principal["AWS"], getAtt(roleID, "Arn")):
				allowPrincipals = append(allowPrincipals, "role")
			case len(principal) == 1 && equal(principal["AWS"], getAtt(sweepRoleID, "Arn")):
				allowPrincipals = append(allowPrincipals, "sweep-role")
			case len(principal) == 1 && principal["Service"] == "cloudwatch.amazonaws.com":
				allowPrincipals = append(allowPrincipals, "cloudwatch")
				if !equal(lookup(s.raw, "Condition", "StringEquals", "aws:SourceAccount"), ref("AWS::AccountId")) {
					bad("%s: CloudWatch publish lacks the aws:SourceAccount condition", s.where)
				}
			default:
				bad("%s: topic policy allows principal %v", s.where, s.raw["Principal"])
			}
		}
	}
	sort.Strings(allowPrincipals)
	if !reflect.DeepEqual(allowPrincipals, []string{"cloudwatch", "role", "sweep-role"}) {
		bad("topic policy allows sns:Publish to %v, want exactly the two function roles and cloudwatch", allowPrincipals)
	}
	if !denyTLS {
		bad("topic policy does not deny requests without TLS (aws:SecureTransport false)")
	}

	// Optional e-mail subscription gated by HasNotificationEmail.
	subs, _ := ResourcesOfType(tmpl, "AWS::SNS::Subscription")
	email := false
	for _, id := range sortedKeys(subs) {
		p := Properties(subs[id])
		if p["Protocol"] == "email" {
			email = true
			if subs[id]["Condition"] != "HasNotificationEmail" || !equal(p["Endpoint"], ref("NotificationEmail")) {
				bad("%s: e-mail subscription must be conditional on HasNotificationEmail and use !Ref NotificationEmail", id)
			}
		}
	}
	if !email {
		bad("no e-mail AWS::SNS::Subscription")
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("NotificationEmail"), ""}}}}
	if got := lookup(tmpl, "Conditions", "HasNotificationEmail"); !equal(got, want) {
		bad("condition HasNotificationEmail is %v, want %v", got, want)
	}
	return problems
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestNoticeTopicEncryptedAndRestricted(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, p := range checkNotices(tmpl) {
		t.Error(p)
	}
}

func TestOutputs(t *testing.T) {
	tmpl := loadTemplate(t)
	outputs, _ := tmpl["Outputs"].(map[string]any)
	want := []any{getAtt(functionID, "Arn"), getAtt(sweepFunctionID, "Arn"), ref(topicID), ref(failureQueue), ref(ruleDLQ)}
	for _, w := range want {
		found := false
		for _, o := range outputs {
			if equal(lookup(o, "Value"), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no output with Value %v", w)
		}
	}
}

// ---------------------------------------------------------------------------
// The checks above must be able to fail: run each against a broken copy.
// ---------------------------------------------------------------------------

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
			d := lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern", "detail").(map[string]any)
			d["eventName"] = d["eventName"].([]any)[1:]
		}},
		{"event name duplicated", checkRulePattern, func(m map[string]any) {
			d := lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern", "detail").(map[string]any)
			d["eventName"] = append(d["eventName"].([]any), d["eventName"].([]any)[0])
		}},
		{"event name added", checkRulePattern, func(m map[string]any) {
			d := lookup(m, "Resources", "EcrApiCallRule", "Properties", "EventPattern", "detail").(map[string]any)
			d["eventName"] = append(d["eventName"].([]any), "DeleteRepository")
		}},
		{"failed calls matched", checkRulePattern, set("Resources/EcrApiCallRule/Properties/EventPattern/detail/errorCode", []any{map[string]any{"exists": true}})},
		{"fixed retry policy", checkRuleTarget, func(m map[string]any) {
			tg := valueList(lookup(m, "Resources", "EcrApiCallRule", "Properties", "Targets"))[0]
			tg.(map[string]any)["RetryPolicy"] = map[string]any{"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
		}},
		{"env var not wired", checkFunction, set("Resources/RemediateFunction/Properties/Environment/Variables/DRY_RUN", "true")},
		{"dry run on by default", checkFunction, set("Parameters/DryRun/Default", "true")},
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

// ---------------------------------------------------------------------------
// parsing
// ---------------------------------------------------------------------------

func TestParseTemplateExpandsShortForms(t *testing.T) {
	src := `
Conditions:
  C: !Not [!Equals [!Ref P, ""]]
Resources:
  R:
    Type: X
    Condition: C
    Properties:
      A: !GetAtt Res.Arn
      B: !GetAtt [Res, Name]
      S: !Sub "arn:${AWS::Partition}:x"
      L: !Sub ["${a}", {a: !Ref Q}]
      I: !If [C, !Ref AWS::NoValue, 1]
      J: !Join ["", [a, !Select [0, !Split [",", "x,y"]]]]
      K: !Condition C
      N: !Ref 123
`
	got, err := ParseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Conditions": map[string]any{
			"C": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("P"), ""}}}},
		},
		"Resources": map[string]any{
			"R": map[string]any{
				"Type":      "X",
				"Condition": "C",
				"Properties": map[string]any{
					"A": getAtt("Res", "Arn"),
					"B": getAtt("Res", "Name"),
					"S": sub("arn:${AWS::Partition}:x"),
					"L": map[string]any{"Fn::Sub": []any{"${a}", map[string]any{"a": ref("Q")}}},
					"I": map[string]any{"Fn::If": []any{"C", ref("AWS::NoValue"), 1}},
					"J": map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{",", "x,y"}}}}}}},
					"K": map[string]any{"Condition": "C"},
					"N": ref("123"),
				},
			},
		},
	}
	if !equal(got, want) {
		t.Errorf("ParseTemplate:\n got %#v\nwant %#v", got, want)
	}
	if _, err := ParseTemplate([]byte("A: !GetAtt NoDot\n")); err == nil {
		t.Error("ParseTemplate accepted !GetAtt without an attribute")
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

// ---------------------------------------------------------------------------
// samconfig.toml
// ---------------------------------------------------------------------------

// samOverride mirrors the SAM CLI's "Key=Value" parameter_overrides syntax.
var samOverride = regexp.MustCompile(`(?: )([A-Za-z0-9"']+)=("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)`)

func TestSamconfigParameterOverrides(t *testing.T) {
	f, err := os.Open(samconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	values := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		values[section+strings.TrimSpace(key)] = strings.TrimSpace(val)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"version":                                      "0.1",
		"[default.global.parameters]stack_name":        `"ecr-guard"`,
		"[default.build.parameters]cached":             "true",
		"[default.build.parameters]parallel":           "true",
		"[default.deploy.parameters]capabilities":      `"CAPABILITY_IAM CAPABILITY_NAMED_IAM"`,
		"[default.deploy.parameters]confirm_changeset": "true",
		"[default.deploy.parameters]resolve_s3":        "true",
		"[default.deploy.parameters]region":            `"us-east-1"`,
	} {
		if values[key] != want {
			t.Errorf("samconfig %s = %q, want %q", key, values[key], want)
		}
	}

	raw, err := strconv.Unquote(values["[default.deploy.parameters]parameter_overrides"])
	if err != nil {
		t.Fatalf("parameter_overrides is not a basic string: %v", err)
	}
	tmpl := loadTemplate(t)
	params, _ := tmpl["Parameters"].(map[string]any)
	matches := samOverride.FindAllStringSubmatch(" "+strings.TrimSpace(raw), -1)
	if len(matches) == 0 {
		t.Fatal("parameter_overrides has no Key=Value pairs")
	}
	for _, m := range matches {
		key, val := m[1], m[2]
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		p, ok := params[key].(map[string]any)
		if !ok {
			t.Errorf("parameter_overrides sets %s, which is not a template parameter", key)
			continue
		}
		if def := fmt.Sprint(p["Default"]); def != val {
			t.Errorf("parameter_overrides %s=%q differs from the template default %q", key, val, def)
		}
	}
}

// ---------------------------------------------------------------------------
// cfn-lint
// ---------------------------------------------------------------------------

func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is not on PATH (install it with `pip install cfn-lint`): %v", err)
	}
	dir, err := filepath.Abs(filepath.Dir(templatePath))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, filepath.Base(templatePath))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		t.Fatalf("cfn-lint %s reported findings (exit %d):\n%s", filepath.Base(templatePath), exitErr.ExitCode(), out)
	case err != nil:
		t.Fatalf("running cfn-lint: %v\n%s", err, out)
	case len(strings.TrimSpace(string(out))) != 0:
		t.Fatalf("cfn-lint printed output:\n%s", out)
	}
}
