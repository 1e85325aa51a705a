package deploy

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	src := `
Parameters:
  Mode: {Type: String, Default: a}
  List: {Type: CommaDelimitedList, Default: ""}
  Num: {Type: Number, Default: 3}
Conditions:
  IsB: !Equals [!Ref Mode, b]
  HasList: !Not [!Equals [!Join ["", !Ref List], ""]]
  FirstIsX: !Equals [!Select [0, !Ref List], x]
  Both: !And [!Condition IsB, !Condition HasList]
  Either: !Or [!Condition IsB, !Equals [!Ref Num, "3"]]
  InRegion: !Equals [!Ref "AWS::Region", eu-west-1]
Resources:
  Always:
    Type: X
    Properties:
      Pick: !If [IsB, b, !Ref Mode]
      Gone: !If [IsB, kept, !Ref AWS::NoValue]
      List:
        - one
        - !If [HasList, two, !Ref AWS::NoValue]
        - !Ref AWS::NoValue
      Nested: !If [Either, !If [Both, both, either], neither]
  OnlyB:
    Type: X
    Condition: IsB
Outputs:
  OnlyB:
    Condition: IsB
    Value: !Ref OnlyB
  Always:
    Value: !If [FirstIsX, x, !Ref List]
`
	tmpl, err := ParseTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		params map[string]string
		want   map[string]any
	}{
		{map[string]string{"AWS::Region": "us-east-1"}, map[string]any{
			"Conditions": map[string]any{"IsB": false, "HasList": false, "FirstIsX": false, "Both": false, "Either": true, "InRegion": false},
			"Resources": map[string]any{"Always": map[string]any{"Type": "X", "Properties": map[string]any{
				"Pick": ref("Mode"), "List": []any{"one"}, "Nested": "either",
			}}},
			"Outputs": map[string]any{"Always": map[string]any{"Value": ref("List")}},
		}},
		{map[string]string{"Mode": "b", "List": "x,y", "Num": "4", "AWS::Region": "eu-west-1"}, map[string]any{
			"Conditions": map[string]any{"IsB": true, "HasList": true, "FirstIsX": true, "Both": true, "Either": true, "InRegion": true},
			"Resources": map[string]any{
				"Always": map[string]any{"Type": "X", "Properties": map[string]any{
					"Pick": "b", "Gone": "kept", "List": []any{"one", "two"}, "Nested": "both",
				}},
				"OnlyB": map[string]any{"Type": "X", "Condition": "IsB"},
			},
			"Outputs": map[string]any{
				"OnlyB":  map[string]any{"Condition": "IsB", "Value": ref("OnlyB")},
				"Always": map[string]any{"Value": "x"},
			},
		}},
	} {
		got, err := Resolve(tmpl, c.params)
		if err != nil {
			t.Fatalf("Resolve(%v): %v", c.params, err)
		}
		for key, want := range c.want {
			if !equal(got[key], want) {
				t.Errorf("Resolve(%v) %s:\n got %v\nwant %v", c.params, key, got[key], want)
			}
		}
		if !equal(got["Parameters"], tmpl["Parameters"]) {
			t.Errorf("Resolve changed Parameters: %v", got["Parameters"])
		}
	}
	// The input is not modified.
	if _, ok := lookup(tmpl, "Resources", "OnlyB").(map[string]any); !ok {
		t.Error("Resolve modified its input")
	}

	for name, c := range map[string]struct {
		src    string
		params map[string]string
	}{
		"unknown parameter":        {src, map[string]string{"Nope": "x", "AWS::Region": "us-east-1"}},
		"pseudo parameter missing": {src, nil},
		"cycle":                    {"Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\nResources: {}\n", nil},
		"no such condition":        {"Conditions: {}\nResources:\n  R: {Type: X, Condition: Missing}\n", nil},
		"bad Fn::If":               {"Conditions:\n  A: !Equals [a, a]\nResources:\n  R: {Type: X, Properties: {P: !If [A, b]}}\n", nil},
		"parameter without value":  {"Parameters:\n  P: {Type: String}\nConditions:\n  A: !Equals [!Ref P, a]\nResources: {}\n", nil},
	} {
		tmpl, err := ParseTemplate([]byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Resolve(tmpl, c.params); err == nil {
			t.Errorf("%s: Resolve returned no error", name)
		}
	}
}

func TestMemberTemplateErrors(t *testing.T) {
	for name, src := range map[string]string{
		"none":     "Resources:\n  Q: {Type: AWS::SQS::Queue}\n",
		"two":      "Resources:\n  A: {Type: AWS::CloudFormation::StackSet, Properties: {TemplateBody: x}}\n  B: {Type: AWS::CloudFormation::StackSet, Properties: {TemplateBody: y}}\n",
		"url":      "Resources:\n  A: {Type: AWS::CloudFormation::StackSet, Properties: {TemplateURL: https://example.com/t.yaml}}\n",
		"not text": "Resources:\n  A: {Type: AWS::CloudFormation::StackSet, Properties: {TemplateBody: {Resources: {}}}}\n",
	} {
		tmpl, err := ParseTemplate([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if body, err := MemberTemplate(tmpl); err == nil {
			t.Errorf("%s: MemberTemplate = %q, no error", name, body)
		}
	}
	tmpl, _ := ParseTemplate([]byte("Resources:\n  A:\n    Type: AWS::CloudFormation::StackSet\n    Properties:\n      TemplateBody: |\n        Resources: {}\n"))
	if body, err := MemberTemplate(tmpl); err != nil || strings.TrimSpace(body) != "Resources: {}" {
		t.Errorf("MemberTemplate = %q, %v", body, err)
	}
}
