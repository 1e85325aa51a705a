// Package deploy loads the SAM/CloudFormation template (template.yaml) so
// tests can assert on its content: least-privilege IAM, encryption, alarms and
// the EventBridge rule pattern. Resolve gives the stack one set of parameter
// values deploys (Scope=account or Scope=organization), and MemberTemplate
// the member template its StackSet carries (internal/membertemplate writes
// it to a file).
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadTemplate reads a CloudFormation/SAM YAML template and returns it as a
// generic map. CloudFormation short-form intrinsic functions are expanded to
// their long (JSON) form: `!Ref X` becomes {"Ref": "X"}, `!GetAtt A.B`
// becomes {"Fn::GetAtt": ["A", "B"]}, `!Sub s` becomes {"Fn::Sub": s},
// `!Condition C` becomes {"Condition": "C"} and any other `!Name v` becomes
// {"Fn::Name": v}.
func LoadTemplate(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(data)
}

// ParseTemplate is LoadTemplate for template bytes already in memory.
func ParseTemplate(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("parse template: expected a single YAML document")
	}
	if err := expandShortForm(doc.Content[0]); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var out map[string]any
	if err := doc.Content[0].Decode(&out); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	if out == nil {
		return nil, errors.New("parse template: empty template")
	}
	return out, nil
}

// expandShortForm rewrites, in place and depth first, every node carrying a
// CloudFormation short-form tag (a local tag such as !Ref) into the
// equivalent single-key mapping.
func expandShortForm(n *yaml.Node) error {
	for _, c := range n.Content {
		if err := expandShortForm(c); err != nil {
			return err
		}
	}
	if n.Alias != nil || !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	if name == "" {
		return fmt.Errorf("line %d: empty tag", n.Line)
	}

	// The value node: the original node without its tag.
	val := *n
	val.Tag = ""
	val.Style &^= yaml.TaggedStyle
	if val.Kind == yaml.ScalarNode {
		val.Tag = "!!str"
	}

	key := "Fn::" + name
	switch name {
	case "Ref", "Condition":
		key = name
	case "GetAtt":
		if val.Kind == yaml.ScalarNode {
			resource, attr, ok := strings.Cut(val.Value, ".")
			if !ok || resource == "" || attr == "" {
				return fmt.Errorf("line %d: !GetAtt %q is not of the form Resource.Attribute", n.Line, val.Value)
			}
			val = yaml.Node{
				Kind: yaml.SequenceNode,
				Tag:  "!!seq",
				Line: n.Line, Column: n.Column,
				Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: resource, Line: n.Line, Column: n.Column},
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: attr, Line: n.Line, Column: n.Column},
				},
			}
		}
	}

	*n = yaml.Node{
		Kind:   yaml.MappingNode,
		Tag:    "!!map",
		Line:   n.Line,
		Column: n.Column,
		Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: n.Line, Column: n.Column},
			&val,
		},
	}
	return nil
}

// Resources returns the template's Resources section.
func Resources(tmpl map[string]any) (map[string]map[string]any, error) {
	raw, ok := tmpl["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("template has no Resources mapping")
	}
	out := make(map[string]map[string]any, len(raw))
	for id, r := range raw {
		res, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is not a mapping", id)
		}
		out[id] = res
	}
	return out, nil
}

// ResourcesOfType returns the resources of the given type (e.g.
// "AWS::SQS::Queue"), keyed by logical ID.
func ResourcesOfType(tmpl map[string]any, typ string) (map[string]map[string]any, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	for id, r := range all {
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out, nil
}

// Properties returns a resource's Properties mapping (empty if absent).
func Properties(resource map[string]any) map[string]any {
	if p, ok := resource["Properties"].(map[string]any); ok {
		return p
	}
	return map[string]any{}
}

// RulePattern returns the event pattern of the template's single EventBridge
// rule (see RulePatterns). It is an error if there is not exactly one rule:
// give a Resolve'd template to look at one Scope.
func RulePattern(tmpl map[string]any) (map[string]any, error) {
	patterns, err := RulePatterns(tmpl)
	if err != nil {
		return nil, err
	}
	if len(patterns) != 1 {
		where := make([]string, 0, len(patterns))
		for w := range patterns {
			where = append(where, w)
		}
		sort.Strings(where)
		return nil, fmt.Errorf("want exactly one EventBridge rule with an event pattern, found %d %v", len(patterns), where)
	}
	for _, p := range patterns {
		return p, nil
	}
	panic("unreachable")
}

// RulePatterns returns the event pattern of every EventBridge rule of the
// template, keyed by where it is: the logical ID of an AWS::Events::Rule
// (its EventPattern), or "<function>.Events.<name>" for a SAM function event
// of Type EventBridgeRule/CloudWatchEvent (its Pattern). A pattern given as
// a JSON string is decoded.
func RulePatterns(tmpl map[string]any) (map[string]map[string]any, error) {
	all, err := Resources(tmpl)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	add := func(where string, pattern any) error {
		switch p := pattern.(type) {
		case map[string]any:
			out[where] = p
		case string:
			var m map[string]any
			if err := json.Unmarshal([]byte(p), &m); err != nil {
				return fmt.Errorf("%s: event pattern is not a JSON object: %w", where, err)
			}
			out[where] = m
		default:
			return fmt.Errorf("%s: event pattern is a %T, not a mapping", where, p)
		}
		return nil
	}
	for id, r := range all {
		props := Properties(r)
		switch r["Type"] {
		case "AWS::Events::Rule":
			if p, ok := props["EventPattern"]; ok {
				if err := add(id, p); err != nil {
					return nil, err
				}
			}
		case "AWS::Serverless::Function":
			events, _ := props["Events"].(map[string]any)
			for name, e := range events {
				ev, _ := e.(map[string]any)
				if t := ev["Type"]; t == "EventBridgeRule" || t == "CloudWatchEvent" {
					if err := add(id+".Events."+name, Properties(ev)["Pattern"]); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return out, nil
}
