package cloudtrail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// object is a JSON object whose members are decoded one at a time, so that
// a member of an unexpected type can be ignored without losing the rest.
type object map[string]json.RawMessage

// member returns the value of key, or nil when o has none. Like
// encoding/json, it prefers an exact match and then accepts any casing
// (the lexically first such key, so the result does not depend on map order).
func (o object) member(key string) json.RawMessage {
	if v, ok := o[key]; ok {
		return v
	}
	var keys []string
	for k := range o {
		if strings.EqualFold(k, key) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	return o[keys[0]]
}

// JSON kinds, as named in warnings and rejection reasons.
const (
	kindAbsent  = "absent"
	kindNull    = "null"
	kindString  = "a string"
	kindNumber  = "a number"
	kindBool    = "a boolean"
	kindObject  = "an object"
	kindArray   = "a list"
	kindInvalid = "not JSON"
)

// kindOf names the JSON kind of raw (a value encoding/json already checked).
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return kindAbsent
	}
	switch raw[0] {
	case 'n':
		return kindNull
	case '"':
		return kindString
	case 't', 'f':
		return kindBool
	case '{':
		return kindObject
	case '[':
		return kindArray
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return kindNumber
	}
	return kindInvalid
}

func isNone(kind string) bool { return kind == kindAbsent || kind == kindNull }

// decoder reads a CloudTrail record strictly where it decides and
// tolerantly elsewhere, collecting a warning for every member it ignored.
type decoder struct {
	warnings []string
}

func (d *decoder) ignore(path, want, got string) {
	d.warnings = append(d.warnings, fmt.Sprintf("%s is %s, not %s: ignored", path, got, want))
}

// text reads an informational string: a number is taken as written, and any
// other type is ignored with a warning.
func (d *decoder) text(o object, path string) string {
	raw := o.member(lastKey(path))
	switch kind := kindOf(raw); kind {
	case kindString:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		d.ignore(path, kindString, kindInvalid)
	case kindNumber:
		return string(bytes.TrimSpace(raw))
	case kindAbsent, kindNull:
	default:
		d.ignore(path, kindString, kind)
	}
	return ""
}

// boolean reads an informational flag that CloudTrail writes as "true" or
// "false"; a JSON boolean is accepted too. nil means not given.
func (d *decoder) boolean(o object, path string) *bool {
	raw := o.member(lastKey(path))
	var b bool
	switch kind := kindOf(raw); kind {
	case kindAbsent, kindNull:
		return nil
	case kindBool:
		if json.Unmarshal(raw, &b) == nil {
			return &b
		}
	case kindString:
		var s string
		_ = json.Unmarshal(raw, &s)
		switch strings.ToLower(s) {
		case "true":
			b = true
			return &b
		case "false":
			return &b
		}
		d.ignore(path, `"true" or "false"`, fmt.Sprintf("%q", s))
		return nil
	default:
		d.ignore(path, `"true" or "false"`, kind)
		return nil
	}
	return nil
}

// object reads an informational object; any other type is ignored with a
// warning. The result may be nil (no members).
func (d *decoder) object(o object, path string) object {
	raw := o.member(lastKey(path))
	kind := kindOf(raw)
	if isNone(kind) {
		return nil
	}
	var out object
	if kind != kindObject || json.Unmarshal(raw, &out) != nil {
		d.ignore(path, kindObject, kind)
		return nil
	}
	return out
}

// list reads an informational list; any other type is ignored with a warning.
func (d *decoder) list(o object, path string) []json.RawMessage {
	raw := o.member(lastKey(path))
	kind := kindOf(raw)
	if isNone(kind) {
		return nil
	}
	var out []json.RawMessage
	if kind != kindArray || json.Unmarshal(raw, &out) != nil {
		d.ignore(path, kindArray, kind)
		return nil
	}
	return out
}

// strings reads an informational list of strings; a list of another kind
// is ignored with a warning.
func (d *decoder) strings(o object, path string) []string {
	list, err := strictStrings(o, path)
	if err != nil {
		d.warnings = append(d.warnings, err.Error()+": ignored")
	}
	return list
}

// strictText reads a string that decides: null or absent is "", any other
// type is an error.
func strictText(o object, path string) (string, error) {
	raw := o.member(lastKey(path))
	switch kind := kindOf(raw); kind {
	case kindAbsent, kindNull:
		return "", nil
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s is not a valid string", path)
		}
		return s, nil
	default:
		return "", fmt.Errorf("%s is %s, not a string", path, kind)
	}
}

// strictObject reads an object that holds deciding members: null or absent
// is nil, any other type is an error.
func strictObject(o object, path string) (object, error) {
	raw := o.member(lastKey(path))
	kind := kindOf(raw)
	if isNone(kind) {
		return nil, nil
	}
	var out object
	if kind != kindObject || json.Unmarshal(raw, &out) != nil {
		return nil, fmt.Errorf("%s is %s, not an object", path, kind)
	}
	return out, nil
}

// strictStrings reads a list of strings that decides.
func strictStrings(o object, path string) ([]string, error) {
	return strictList[string](o, path, kindString)
}

// strictObjects reads a list of objects that decides.
func strictObjects(o object, path string) ([]object, error) {
	return strictList[object](o, path, kindObject)
}

// strictList reads a list that decides, whose every item must be of kind.
func strictList[T any](o object, path, kind string) ([]T, error) {
	raw := o.member(lastKey(path))
	got := kindOf(raw)
	if isNone(got) {
		return nil, nil
	}
	var items []json.RawMessage
	if got != kindArray || json.Unmarshal(raw, &items) != nil {
		return nil, fmt.Errorf("%s is %s, not a list", path, got)
	}
	out := make([]T, 0, len(items))
	for i, item := range items {
		var v T
		if k := kindOf(item); k != kind || json.Unmarshal(item, &v) != nil {
			return nil, fmt.Errorf("%s[%d] is %s, not %s", path, i, k, kind)
		}
		out = append(out, v)
	}
	return out, nil
}

// accountID reads an account or registry id, which decides. A JSON number
// is accepted when it is a whole number of at most 12 digits, and taken as
// the 12-digit id it stands for (leading zeros restored): a number cannot
// carry them.
func accountID(o object, path string) (string, error) {
	raw := o.member(lastKey(path))
	if kindOf(raw) != kindNumber {
		return strictText(o, path)
	}
	digits := string(bytes.TrimSpace(raw))
	if len(digits) > 12 || strings.Trim(digits, "0123456789") != "" {
		return "", fmt.Errorf("%s is the number %.40s, not a 12-digit account id", path, digits)
	}
	return strings.Repeat("0", 12-len(digits)) + digits, nil
}

// lastKey is the member name at the end of a path like "detail.userIdentity.arn".
func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}
