package deploy

// The checks of template.yaml, one file per resource group: functions_test.go
// (both functions' configuration), iam_test.go (roles and policies),
// queues_test.go (failure and dead-letter queues), alarms_test.go,
// rule_test.go (the EventBridge rule's pattern and target), topic_test.go
// (the notice topic), samconfig_test.go and cfnlint_test.go; broken_test.go
// runs each check against a broken template. This file holds what they
// share: the resource names, template loading and value helpers, and the
// template-wide tests (outputs, parsing). organization_test.go checks
// Scope=organization (issue 9): the checks above run with each Scope
// (scopeViews), loadTemplate being the default Scope=account stack.

import (
	"reflect"
	"slices"
	"sort"
	"testing"
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
	// ecrAnyRegionARN is the same account's repositories in every region:
	// with TargetRegions the functions act in several with their own role.
	ecrAnyRegionARN = "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"

	sweepFunctionID = "SweepFunction"
	sweepRoleID     = "SweepFunctionRole"
	sweepLogGroupID = "SweepLogGroup"
	// sweepFunctionName is the sweep's explicit FunctionName, and
	// sweepFunctionARN its ARN: the only function it may invoke (itself).
	sweepFunctionName = "${AWS::StackName}-sweep"
	sweepFunctionARN  = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-sweep"

	// memberRoleARN is the only role the function roles may assume
	// (Scope=organization): the member role, in any account.
	memberRoleARN = "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"
)

// wantTemplateActions are the repository creation template actions both
// function roles (and the member role) hold, alone in a statement on "*":
// templates have no IAM resource type. CreateRepositoryCreationTemplate is
// added only with RootTemplate=ensure (not the default resolved here).
var wantTemplateActions = []string{
	"ecr:DescribeRepositoryCreationTemplates",
	"ecr:UpdateRepositoryCreationTemplate",
}

// templateWriteAction is what writing a template also needs (on the
// repositories it will create), in a statement of its own.
const templateWriteAction = "ecr:CreateRepository"

// withTemplates is a role's repository actions plus the template ones.
func withTemplates(repository []string) []string {
	return sorted(append(append(slices.Clone(repository), wantTemplateActions...), templateWriteAction))
}

// isTemplateStatement: a statement of template actions only.
func isTemplateStatement(actions []string) bool {
	return len(actions) > 0 && !slices.ContainsFunc(actions, func(a string) bool {
		return !slices.Contains(wantTemplateActions, a) && a != "ecr:CreateRepositoryCreationTemplate"
	})
}

// wantECRActions is the complete set of ECR actions the function role's
// repository statement may hold.
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
	listAccounts       bool // may organizations:ListAccounts (Scope=organization)
}

var functionSpecs = []functionSpec{
	{function: functionID, logGroup: logGroupID, ecr: withTemplates(wantECRActions)},
	{function: sweepFunctionID, logGroup: sweepLogGroupID, ecr: withTemplates(wantSweepECRActions), invokeSelf: true, listAccounts: true},
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

// loadTemplate returns template.yaml as deployed with the default
// parameters (Scope=account): the single-account stack.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	return loadTemplateWith(t, nil)
}

// loadRawTemplate returns template.yaml as written: every Scope's resources,
// conditions unevaluated.
func loadRawTemplate(t *testing.T) map[string]any {
	t.Helper()
	tmpl, err := LoadTemplate(templatePath)
	if err != nil {
		t.Fatalf("LoadTemplate(%s): %v", templatePath, err)
	}
	return tmpl
}

// loadTemplateWith returns template.yaml as deployed with these parameter
// values (the others take their defaults).
func loadTemplateWith(t *testing.T, params map[string]string) map[string]any {
	t.Helper()
	tmpl, err := Resolve(loadRawTemplate(t), params)
	if err != nil {
		t.Fatalf("Resolve(%s, %v): %v", templatePath, params, err)
	}
	return tmpl
}

// organizationParams deploy template.yaml with Scope=organization.
var organizationParams = map[string]string{
	"Scope":                     "organization",
	"OrganizationId":            "o-exampleorg1",
	"TargetOrganizationalUnits": "r-ab12,ou-ab12-abcdefgh",
	"TargetRegions":             "us-east-1,eu-west-1",
}

func loadOrganizationTemplate(t *testing.T) map[string]any {
	t.Helper()
	return loadTemplateWith(t, organizationParams)
}

// scopeView is template.yaml as deployed with one Scope.
type scopeView struct {
	name string
	tmpl map[string]any
}

// scopeViews returns template.yaml deployed with each Scope, for the checks
// that hold for both.
func scopeViews(t *testing.T) []scopeView {
	t.Helper()
	return []scopeView{
		{"Scope=account", loadTemplate(t)},
		{"Scope=organization", loadOrganizationTemplate(t)},
	}
}

// isOrganization reports whether a Resolve'd template is the
// Scope=organization stack.
func isOrganization(tmpl map[string]any) bool {
	return lookup(tmpl, "Conditions", "IsOrganization") == true
}

// ownECRResource is the functions' own-account ECR resource in tmpl.
func ownECRResource(tmpl map[string]any) string {
	if lookup(tmpl, "Conditions", "HasTargetRegions") == true {
		return ecrAnyRegionARN
	}
	return ecrRepositoryARN
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

func TestOutputs(t *testing.T) {
	for _, v := range scopeViews(t) {
		outputs, _ := v.tmpl["Outputs"].(map[string]any)
		want := []any{getAtt(functionID, "Arn"), getAtt(sweepFunctionID, "Arn"), ref(topicID), ref(failureQueue), ref(ruleDLQ)}
		for _, w := range want {
			found := false
			for _, o := range outputs {
				if equal(lookup(o, "Value"), w) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no output with Value %v", v.name, w)
			}
		}
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
