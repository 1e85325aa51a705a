package deploy

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Resolve returns a copy of a template (from LoadTemplate or ParseTemplate)
// as CloudFormation would deploy it with the given parameter values; a
// parameter not in params takes its Default. Pseudo parameters a condition
// uses (AWS::Region, AWS::AccountId) must be given in params.
//
// Every condition is evaluated and the copy's Conditions section maps each
// name to its value (a bool). Resources and outputs whose Condition is false
// are left out, each Fn::If is replaced by the branch it selects, and
// AWS::NoValue removes the mapping key or list element holding it. Every
// other intrinsic function is kept as it is.
func Resolve(tmpl map[string]any, params map[string]string) (map[string]any, error) {
	r := &resolver{
		values:     map[string]any{},
		conditions: map[string]any{},
		results:    map[string]bool{},
		evaluating: map[string]bool{},
	}
	if c, ok := tmpl["Conditions"]; ok {
		m, ok := c.(map[string]any)
		if !ok {
			return nil, errors.New("resolve: Conditions is not a mapping")
		}
		r.conditions = m
	}
	declared, _ := tmpl["Parameters"].(map[string]any)
	for name := range params {
		if _, ok := declared[name]; !ok && !strings.HasPrefix(name, "AWS::") {
			return nil, fmt.Errorf("resolve: %s is not a parameter of the template", name)
		}
	}
	for name, p := range declared {
		pm, _ := p.(map[string]any)
		raw, given := params[name]
		if !given {
			d, ok := pm["Default"]
			if !ok {
				continue // no value: a condition that uses it is an error
			}
			raw = scalarString(d)
		}
		typ, _ := pm["Type"].(string)
		if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
			r.values[name] = strings.Split(raw, ",")
		} else {
			r.values[name] = raw
		}
	}
	for name, v := range params {
		if strings.HasPrefix(name, "AWS::") {
			r.values[name] = v
		}
	}

	out := make(map[string]any, len(tmpl))
	for key, section := range tmpl {
		switch key {
		case "Conditions":
			resolved := map[string]any{}
			for _, name := range sortedNames(r.conditions) {
				v, err := r.condition(name)
				if err != nil {
					return nil, err
				}
				resolved[name] = v
			}
			out[key] = resolved
		case "Resources", "Outputs":
			m, ok := section.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("resolve: %s is not a mapping", key)
			}
			kept := map[string]any{}
			for _, id := range sortedNames(m) {
				entry, _ := m[id].(map[string]any)
				if name, ok := entry["Condition"].(string); ok {
					v, err := r.condition(name)
					if err != nil {
						return nil, fmt.Errorf("resolve: %s %s: %w", key, id, err)
					}
					if !v {
						continue
					}
				}
				v, keep, err := r.walk(m[id])
				if err != nil {
					return nil, fmt.Errorf("resolve: %s %s: %w", key, id, err)
				}
				if keep {
					kept[id] = v
				}
			}
			out[key] = kept
		case "Parameters", "Rules":
			out[key] = deepCopy(section)
		default:
			v, keep, err := r.walk(section)
			if err != nil {
				return nil, fmt.Errorf("resolve: %s: %w", key, err)
			}
			if keep {
				out[key] = v
			}
		}
	}
	return out, nil
}

type resolver struct {
	values     map[string]any // parameter name -> string or []string
	conditions map[string]any // the template's Conditions section
	results    map[string]bool
	evaluating map[string]bool
}

func (r *resolver) condition(name string) (bool, error) {
	if v, ok := r.results[name]; ok {
		return v, nil
	}
	expr, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	if r.evaluating[name] {
		return false, fmt.Errorf("condition %q depends on itself", name)
	}
	r.evaluating[name] = true
	defer delete(r.evaluating, name)
	v, err := r.boolean(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.results[name] = v
	return v, nil
}

// boolean evaluates a condition function.
func (r *resolver) boolean(expr any) (bool, error) {
	fn, arg, ok := singleKey(expr)
	if !ok {
		return false, fmt.Errorf("%v is not a condition function", expr)
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return false, fmt.Errorf("condition reference: %v is not a name", arg)
		}
		return r.condition(name)
	case "Fn::Equals":
		if len(args) != 2 {
			return false, fmt.Errorf("intrinsic Fn::Equals: needs 2 values, got %v", arg)
		}
		a, err := r.value(args[0])
		if err != nil {
			return false, err
		}
		b, err := r.value(args[1])
		if err != nil {
			return false, err
		}
		return reflect.DeepEqual(a, b), nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, fmt.Errorf("intrinsic Fn::Not: needs 1 condition, got %v", arg)
		}
		v, err := r.boolean(args[0])
		return !v, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 {
			return false, fmt.Errorf("%s needs at least 2 conditions, got %v", fn, arg)
		}
		and := fn == "Fn::And"
		for _, a := range args {
			v, err := r.boolean(a)
			if err != nil {
				return false, err
			}
			if v != and {
				return v, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("%s is not a condition function", fn)
}

// value evaluates what a condition compares: a string, or a list of strings.
func (r *resolver) value(v any) (any, error) {
	fn, arg, ok := singleKey(v)
	if !ok {
		switch x := v.(type) {
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, err := r.value(e)
				if err != nil {
					return nil, err
				}
				str, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("list element %v is not a string", e)
				}
				out = append(out, str)
			}
			return out, nil
		case map[string]any:
			return nil, fmt.Errorf("cannot evaluate %v", v)
		default:
			return scalarString(v), nil
		}
	}
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		val, ok := r.values[name]
		if !ok {
			return nil, fmt.Errorf("no value for %s", name)
		}
		return val, nil
	case "Fn::Join":
		if len(args) != 2 {
			return nil, fmt.Errorf("intrinsic Fn::Join: needs a delimiter and a list, got %v", arg)
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("intrinsic Fn::Join: delimiter %v is not a string", args[0])
		}
		list, err := r.value(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]string)
		if !ok {
			return nil, fmt.Errorf("intrinsic Fn::Join: %v is not a list", args[1])
		}
		return strings.Join(items, delim), nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, fmt.Errorf("intrinsic Fn::Select: needs an index and a list, got %v", arg)
		}
		i, err := strconv.Atoi(scalarString(args[0]))
		if err != nil {
			return nil, fmt.Errorf("intrinsic Fn::Select: index %v: %w", args[0], err)
		}
		list, err := r.value(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]string)
		if !ok || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("intrinsic Fn::Select: no item %d in %v", i, list)
		}
		return items[i], nil
	}
	return nil, fmt.Errorf("cannot evaluate %s in a condition", fn)
}

// walk copies v, resolving Fn::If and dropping AWS::NoValue (keep false).
func (r *resolver) walk(v any) (any, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		if fn, arg, ok := singleKey(x); ok {
			switch {
			case fn == "Ref" && arg == "AWS::NoValue":
				return nil, false, nil
			case fn == "Fn::If":
				args, _ := arg.([]any)
				name, ok := firstString(args)
				if len(args) != 3 || !ok {
					return nil, false, fmt.Errorf("intrinsic Fn::If: %v is not [condition, then, else]", arg)
				}
				c, err := r.condition(name)
				if err != nil {
					return nil, false, err
				}
				if c {
					return r.walk(args[1])
				}
				return r.walk(args[2])
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			w, keep, err := r.walk(e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out[k] = w
			}
		}
		return out, true, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			w, keep, err := r.walk(e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, w)
			}
		}
		return out, true, nil
	default:
		return v, true, nil
	}
}

func singleKey(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

func firstString(l []any) (string, bool) {
	if len(l) == 0 {
		return "", false
	}
	s, ok := l[0].(string)
	return s, ok
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func sortedNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MemberTemplate returns the member template of Scope=organization: the
// TemplateBody of the template's single AWS::CloudFormation::StackSet, as
// the StackSet carries it.
func MemberTemplate(tmpl map[string]any) (string, error) {
	sets, err := ResourcesOfType(tmpl, "AWS::CloudFormation::StackSet")
	if err != nil {
		return "", err
	}
	if len(sets) != 1 {
		ids := make([]string, 0, len(sets))
		for id := range sets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return "", fmt.Errorf("want exactly one AWS::CloudFormation::StackSet, found %d %v", len(sets), ids)
	}
	for id, s := range sets {
		body, ok := Properties(s)["TemplateBody"].(string)
		if !ok || strings.TrimSpace(body) == "" {
			return "", fmt.Errorf("%s: TemplateBody is not a template given inline as a string", id)
		}
		return body, nil
	}
	panic("unreachable")
}
