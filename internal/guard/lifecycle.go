package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// DefaultLifecyclePolicy is the organisation's standard: expire untagged
// images 7 days after push and keep only the 30 most recent images. ECR
// requires the tagStatus "any" rule to carry the highest rulePriority, so it
// comes last (the first draft in the security docs had it first; ECR rejects that).
const DefaultLifecyclePolicy = `{"rules":[` +
	`{"rulePriority":1,"description":"Expire untagged images 7 days after push",` +
	`"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},` +
	`"action":{"type":"expire"}},` +
	`{"rulePriority":2,"description":"Keep only the 30 most recent images",` +
	`"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},` +
	`"action":{"type":"expire"}}]}`

// LifecyclePolicy is a validated lifecycle policy with its canonical form,
// so comparing it with a live policy is semantic, not textual.
type LifecyclePolicy struct {
	text      string
	compact   string // text without insignificant whitespace
	canonical any
}

// Text is the policy as written to ECR.
func (p LifecyclePolicy) Text() string { return p.text }

// Equal reports whether text is semantically the same policy: same JSON
// values, rules compared by rulePriority whatever their order. Unparseable
// text is never equal, and neither is text with a key repeated in one of
// its objects: encoding/json keeps the last of them silently, so
// {"rules":[weak],"rules":[baseline]} would otherwise pass for the baseline
// while whoever reads the policy next may take the first.
func (p LifecyclePolicy) Equal(text string) bool {
	// The two fast paths need no duplicate-key check. p.text passed
	// checkDuplicateKeys in ParseLifecyclePolicy (a zero policy, canonical
	// nil, takes neither path). json.Compact only drops whitespace outside
	// strings and keeps every string's bytes, escapes included, so text
	// whose compact form is byte for byte p.compact has exactly p.text's
	// tokens: the same keys in the same objects, none of them twice.
	if p.canonical != nil && text == p.text {
		// The usual case, the policy ecr-guard wrote itself: no need to
		// parse it (the sweep compares one policy per repository).
		return true
	}
	if p.canonical != nil && compactJSON(text) == p.compact {
		// The same policy reformatted (by a person, or by ECR on storage)
		// costs a scan, not a parse.
		return true
	}
	c, err := canonicalPolicy(text)
	// Duplicates are only looked for in text that would otherwise be equal,
	// so a policy that differs costs no more than before.
	return err == nil && reflect.DeepEqual(p.canonical, c) && !repeatsKeys(text, c)
}

// repeatsKeys reports whether valid JSON text repeats a key in one of its
// objects, given decoded, the text decoded into plain values (arrays may be
// reordered, but no key dropped). It answers what checkDuplicateKeys
// answers without a token walk, which costs more than the parse itself:
// every ':' outside a string in valid JSON separates one object member from
// its value, and decoding keeps one map entry per distinct key, so there
// are more separators than decoded keys exactly when some object repeats a
// key. '"', '\\' and ':' are ASCII, never part of a multi-byte character,
// so a byte scan finds them.
func repeatsKeys(text string, decoded any) bool {
	members, inString, escaped := 0, false, false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = inString
		case c == '"':
			inString = !inString
		case c == ':' && !inString:
			members++
		}
	}
	return members > countKeys(decoded)
}

// countKeys counts the keys of every object in a decoded JSON value.
func countKeys(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, e := range v {
			n += countKeys(e)
		}
	case []any:
		for _, e := range v {
			n += countKeys(e)
		}
	}
	return n
}

type lifecycleDocument struct {
	Rules []lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority *int   `json:"rulePriority"`
	Description  string `json:"description"`
	Selection    struct {
		TagStatus      string   `json:"tagStatus"`
		TagPrefixList  []string `json:"tagPrefixList"`
		TagPatternList []string `json:"tagPatternList"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit"`
		CountNumber    *int     `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

// ParseLifecyclePolicy validates text against the rules ECR enforces and
// returns the policy. It rejects what ECR would reject on PutLifecyclePolicy,
// so a bad configuration fails at cold start instead of on every repository.
//
// A key repeated in any object, at any depth, is rejected: encoding/json
// would validate the last one and ECR might apply the first.
func ParseLifecyclePolicy(text string) (LifecyclePolicy, error) {
	if err := checkDuplicateKeys(text); err != nil {
		return LifecyclePolicy{}, err
	}
	var doc lifecycleDocument
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return LifecyclePolicy{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if len(doc.Rules) == 0 {
		return LifecyclePolicy{}, errors.New(`"rules" must list at least one rule`)
	}
	priorities := map[int]bool{}
	highest, anyPriority := 0, 0
	for i, r := range doc.Rules {
		if err := validateRule(r); err != nil {
			return LifecyclePolicy{}, fmt.Errorf("rule %d: %w", i+1, err)
		}
		p := *r.RulePriority
		if priorities[p] {
			return LifecyclePolicy{}, fmt.Errorf("rule %d: duplicate rulePriority %d", i+1, p)
		}
		priorities[p] = true
		highest = max(highest, p)
		if r.Selection.TagStatus == "any" {
			if anyPriority != 0 {
				return LifecyclePolicy{}, errors.New(`only one rule may have tagStatus "any"`)
			}
			anyPriority = p
		}
	}
	if anyPriority != 0 && anyPriority != highest {
		return LifecyclePolicy{}, fmt.Errorf(`the tagStatus "any" rule (rulePriority %d) must have the highest rulePriority (%d)`, anyPriority, highest)
	}
	canonical, err := canonicalPolicy(text)
	if err != nil {
		return LifecyclePolicy{}, err
	}
	return LifecyclePolicy{text: text, compact: compactJSON(text), canonical: canonical}, nil
}

func validateRule(r lifecycleRule) error {
	s := r.Selection
	switch {
	case r.RulePriority == nil || *r.RulePriority < 1:
		return errors.New("rulePriority must be a positive integer")
	case s.TagStatus != "tagged" && s.TagStatus != "untagged" && s.TagStatus != "any":
		return fmt.Errorf(`unknown tagStatus %q (want tagged, untagged or any)`, s.TagStatus)
	case s.TagStatus == "tagged" && len(s.TagPrefixList) == 0 && len(s.TagPatternList) == 0:
		return errors.New(`tagStatus "tagged" needs a tagPrefixList or tagPatternList`)
	case s.TagStatus != "tagged" && (len(s.TagPrefixList) > 0 || len(s.TagPatternList) > 0):
		return errors.New(`tagPrefixList and tagPatternList are only allowed with tagStatus "tagged"`)
	case s.CountNumber == nil || *s.CountNumber < 1:
		return errors.New("countNumber must be a positive integer")
	case r.Action.Type != "expire":
		return fmt.Errorf(`unknown action type %q (want expire)`, r.Action.Type)
	}
	switch s.CountType {
	case "imageCountMoreThan":
		if s.CountUnit != "" {
			return errors.New(`countUnit is not allowed with countType "imageCountMoreThan"`)
		}
	case "sinceImagePushed":
		if s.CountUnit != "days" {
			return fmt.Errorf(`countType "sinceImagePushed" needs countUnit "days", got %q`, s.CountUnit)
		}
	default:
		return fmt.Errorf(`unknown countType %q (want imageCountMoreThan or sinceImagePushed)`, s.CountType)
	}
	return nil
}

// canonicalPolicy decodes text into plain JSON values (numbers compare
// numerically) with the rules sorted by rulePriority. It keeps every key:
// repeatsKeys counts them.
func canonicalPolicy(text string) (any, error) {
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if rules, ok := v["rules"].([]any); ok {
		sort.SliceStable(rules, func(i, j int) bool {
			return rulePriority(rules[i]) < rulePriority(rules[j])
		})
	}
	return v, nil
}

func rulePriority(rule any) float64 {
	m, _ := rule.(map[string]any)
	n, _ := m["rulePriority"].(float64)
	return n
}

// compactJSON removes insignificant whitespace ("" for invalid JSON).
func compactJSON(text string) string {
	var b bytes.Buffer
	b.Grow(len(text))
	if json.Compact(&b, []byte(text)) != nil {
		return ""
	}
	return b.String()
}

// checkDuplicateKeys walks the JSON text's tokens and fails on invalid JSON
// or on a key that appears twice in one object, at any depth; the error
// names the key and where it is ("rules[1].selection"). Keys are compared
// after unescaping: "rules" and "rul\u0065s" are the same key.
func checkDuplicateKeys(text string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	if err := checkValueKeys(dec); err != nil {
		var dup *duplicateKeyError
		if errors.As(err, &dup) {
			return dup
		}
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("not valid JSON: data after the top-level value")
	}
	return nil
}

// duplicateKeyError is a key repeated in the object at path (".rules[1]",
// "" for the top level).
type duplicateKeyError struct {
	key, path string
}

func (e *duplicateKeyError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("duplicate key %q", e.key)
	}
	return fmt.Sprintf("duplicate key %q in %s", e.key, strings.TrimPrefix(e.path, "."))
}

// within records that the error happened inside step (".key" or "[i]").
func (e *duplicateKeyError) within(step string) *duplicateKeyError {
	e.path = step + e.path
	return e
}

// checkValueKeys reads one JSON value from dec, checking every object in it.
func checkValueKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string) // the decoder only returns strings as keys
			if seen[key] {
				return &duplicateKeyError{key: key}
			}
			seen[key] = true
			if err := checkValueKeys(dec); err != nil {
				if dup, ok := err.(*duplicateKeyError); ok {
					return dup.within("." + key)
				}
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := checkValueKeys(dec); err != nil {
				if dup, ok := err.(*duplicateKeyError); ok {
					return dup.within("[" + strconv.Itoa(i) + "]")
				}
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
