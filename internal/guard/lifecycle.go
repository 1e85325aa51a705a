package guard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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

// The words of ECR's lifecycle policy grammar
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html).
const (
	tagStatusTagged   = "tagged"
	tagStatusUntagged = "untagged"
	tagStatusAny      = "any"

	storageStandard = "standard"
	storageArchive  = "archive"

	countImageCountMoreThan     = "imageCountMoreThan"
	countSinceImagePushed       = "sinceImagePushed"
	countSinceImagePulled       = "sinceImagePulled"
	countSinceImageTransitioned = "sinceImageTransitioned"

	actionExpire     = "expire"
	actionTransition = "transition"
)

// Limits ECR puts on a policy.
const (
	// PutLifecyclePolicy's lifecyclePolicyText is 100 to 30,720 characters
	// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutLifecyclePolicy.html);
	// the shortest valid policy is longer than 100.
	maxPolicyLength = 30720
	// "There is a maximum limit of four wildcards (*) per string" of a
	// tagPatternList (lifecycle_policy_parameters.html, Tag pattern list).
	maxPatternWildcards = 4
	// "Images must be in archive storage for a minimum of 90 days before
	// deletion" (lifecycle_policy_examples.html, Filtering on archive
	// transition time); "You cannot configure lifecycle policies that
	// delete images that have been in archive for less than 90 days"
	// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html).
	minArchiveDays = 90
)

// LifecyclePolicy is a validated lifecycle policy with its canonical form,
// so comparing it with a live policy is semantic, not textual.
type LifecyclePolicy struct {
	text      string
	compact   string // text without insignificant whitespace
	canonical any
	rules     []lifecycleRule // by rulePriority
}

// Text is the policy as written to ECR.
func (p LifecyclePolicy) Text() string { return p.text }

// Equal reports whether text is semantically the same policy: same JSON
// values, rules compared by rulePriority whatever their order, a selection
// without storageClass the same as one with "standard" (ECR's default: "If
// you omit this, the value of standard will be used",
// lifecycle_policy_parameters.html, Storage class), and a tag list the
// same whatever its order (a rule selects the images that carry all of its
// tags, ibid., Tag pattern list). Unparseable text is never equal, and
// neither is text with a key repeated in one of its objects: encoding/json
// keeps the last of them silently, so {"rules":[weak],"rules":[baseline]}
// would otherwise pass for the baseline while whoever reads the policy next
// may take the first.
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
	c, keys, err := canonicalPolicy(text)
	// Duplicates are only looked for in text that would otherwise be equal,
	// so a policy that differs costs no more than before.
	return err == nil && reflect.DeepEqual(p.canonical, c) && !repeatsKeys(text, keys)
}

// repeatsKeys reports whether valid JSON text repeats a key in one of its
// objects, given keys, the number of keys of its objects once decoded
// (countKeys: decoding keeps one map entry per distinct key). It answers
// what checkDuplicateKeys answers without a token walk, which costs more
// than the parse itself: every ':' outside a string in valid JSON separates
// one object member from its value, so there are more separators than
// decoded keys exactly when some object repeats a key. '"', '\\' and ':'
// are ASCII, never part of a multi-byte character, so a byte scan finds
// them.
func repeatsKeys(text string, keys int) bool {
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
	return members > keys
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

// lifecycleRule is one rule, its fields in the order of ECR's policy
// template, so that a policy ecr-guard writes reads like the documentation's.
type lifecycleRule struct {
	RulePriority int                `json:"rulePriority"`
	Description  string             `json:"description,omitempty"`
	Selection    lifecycleSelection `json:"selection"`
	Action       lifecycleAction    `json:"action"`
}

type lifecycleSelection struct {
	TagStatus      string   `json:"tagStatus"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	StorageClass   string   `json:"storageClass,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

type lifecycleAction struct {
	Type               string `json:"type"`
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

// storageClass is the storage class the rule selects: standard unless it
// says otherwise (lifecycle_policy_parameters.html, Storage class).
func (r lifecycleRule) storageClass() string {
	if r.Selection.StorageClass == "" {
		return storageStandard
	}
	return r.Selection.StorageClass
}

// ParseLifecyclePolicy validates text against the rules ECR enforces and
// returns the policy. It rejects what ECR would reject on PutLifecyclePolicy,
// so a bad configuration fails at cold start instead of on every repository.
//
// A key repeated in any object, at any depth, is rejected: encoding/json
// would validate the last one and ECR might apply the first.
func ParseLifecyclePolicy(text string) (LifecyclePolicy, error) {
	rules, err := parseLifecycleRules(text)
	if err != nil {
		return LifecyclePolicy{}, err
	}
	canonical, _, err := canonicalPolicy(text)
	if err != nil {
		return LifecyclePolicy{}, err
	}
	return LifecyclePolicy{text: text, compact: compactJSON(text), canonical: canonical, rules: rules}, nil
}

// parseLifecycleRules validates text (ParseLifecyclePolicy) and returns its
// rules by rulePriority.
func parseLifecycleRules(text string) ([]lifecycleRule, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	// The separator count finds a repeated key at a fraction of the token
	// walk's cost (FuzzDuplicateKeyChecksAgree); the walk names it.
	if repeatsKeys(text, countKeys(raw)) {
		if err := checkDuplicateKeys(text); err != nil {
			return nil, err
		}
	}
	if err := checkPolicyShape(raw); err != nil {
		return nil, err
	}
	// Every key is now one of ECR's, spelt exactly, so encoding/json's
	// case-insensitive field matching has nothing to mistake.
	var doc lifecycleDocument
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("not a lifecycle policy: %w", err)
	}
	for i, r := range doc.Rules {
		if err := validateRule(r); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	rules := slices.Clone(doc.Rules)
	slices.SortStableFunc(rules, func(a, b lifecycleRule) int { return cmp.Compare(a.RulePriority, b.RulePriority) })
	if err := checkRuleOrder(rules); err != nil {
		return nil, err
	}
	// The length limit is ECR's, in characters.
	if n := utf8.RuneCountInString(text); n > maxPolicyLength {
		return nil, fmt.Errorf("the policy is %d characters long; ECR takes at most %d", n, maxPolicyLength)
	}
	return rules, nil
}

// The keys of each object of a policy, as ECR's policy template lists them
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html,
// Lifecycle policy template), true for the required ones
// (lifecycle_policy_parameters.html). The documentation does not say that
// ECR rejects other keys; moto, whose messages copy ECR's, answers "object
// instance has properties which are not allowed by the schema". And a key
// ecr-guard does not know is one it cannot compare.
var (
	policyKeys    = map[string]bool{"rules": true}
	ruleKeys      = map[string]bool{"rulePriority": true, "description": false, "selection": true, "action": true}
	selectionKeys = map[string]bool{"tagStatus": true, "tagPatternList": false, "tagPrefixList": false,
		"storageClass": false, "countType": true, "countUnit": false, "countNumber": true}
	actionKeys = map[string]bool{"type": true, "targetStorageClass": false}
)

// checkPolicyShape checks the decoded policy's objects: exactly ECR's keys,
// the required ones present, and no null value. The documentation is
// silent on null; ECR rejects one ("targetStorageClass": null fails with
// "instance failed to match exactly one schema",
// https://github.com/cloudposse/terraform-aws-ecr/issues/158), and decoding
// would otherwise take it for an absent key.
func checkPolicyShape(raw any) error {
	doc, ok := raw.(map[string]any)
	if !ok {
		return errors.New("a lifecycle policy is a JSON object")
	}
	if err := checkKeys(doc, policyKeys, ""); err != nil {
		return err
	}
	rules, ok := doc["rules"].([]any)
	if !ok || len(rules) == 0 {
		return errors.New(`"rules" must list at least one rule`)
	}
	for i, rule := range rules {
		if err := checkRuleShape(rule); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

func checkRuleShape(rule any) error {
	r, ok := rule.(map[string]any)
	if !ok {
		return errors.New("not an object")
	}
	if err := checkKeys(r, ruleKeys, ""); err != nil {
		return err
	}
	if err := checkObject(r, "selection", selectionKeys); err != nil {
		return err
	}
	return checkObject(r, "action", actionKeys)
}

// checkObject checks the keys of the object r holds under name.
func checkObject(r map[string]any, name string, known map[string]bool) error {
	o, ok := r[name].(map[string]any)
	if !ok {
		return fmt.Errorf("%q must be an object", name)
	}
	return checkKeys(o, known, name+".")
}

// checkKeys checks one object's keys against known (true: required); where
// prefixes the names in its errors.
func checkKeys(o map[string]any, known map[string]bool, where string) error {
	for k, v := range o {
		if _, ok := known[k]; !ok {
			return fmt.Errorf("unknown key %q", where+k)
		}
		if v == nil {
			return fmt.Errorf("%q is null", where+k)
		}
		// Every string of the grammar but a description is one of a few
		// words: an empty one is no more absent than null is.
		if v == "" && k != "description" {
			return fmt.Errorf("%q is empty", where+k)
		}
	}
	for k, required := range known {
		if _, ok := o[k]; required && !ok {
			return fmt.Errorf("%q is missing", where+k)
		}
	}
	return nil
}

// validateRule checks one rule against ECR's grammar. Each check cites its
// source: P is lifecycle_policy_parameters.html, E is the "Lifecycle policy
// evaluation rules" of
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html,
// X is lifecycle_policy_examples.html.
func validateRule(r lifecycleRule) error {
	s := r.Selection
	switch {
	case r.RulePriority < 1: // P, Rule priority: applied from 1 up
		return errors.New("rulePriority must be a positive integer")
	case r.RulePriority > math.MaxInt32: // the API's "Integer" (appliedRulePriority)
		return fmt.Errorf("rulePriority %d is more than ECR's integers hold (%d)", r.RulePriority, math.MaxInt32)
	case s.TagStatus != tagStatusTagged && s.TagStatus != tagStatusUntagged && s.TagStatus != tagStatusAny: // P, Tag status
		return fmt.Errorf(`unknown tagStatus %q (want tagged, untagged or any)`, s.TagStatus)
	case s.TagStatus == tagStatusTagged && len(s.TagPrefixList) == 0 && len(s.TagPatternList) == 0: // P, Tag status
		return errors.New(`tagStatus "tagged" needs a tagPrefixList or tagPatternList`)
	case s.TagStatus != tagStatusTagged && (s.TagPrefixList != nil || s.TagPatternList != nil): // P, Tag status; E
		return errors.New(`tagPrefixList and tagPatternList are only allowed with tagStatus "tagged"`)
	case s.TagPrefixList != nil && s.TagPatternList != nil: // E: "either tagPatternList or tagPrefixList, but not both"
		return errors.New("a rule may have a tagPatternList or a tagPrefixList, not both")
	case s.CountNumber < 1: // P, Count number: "0 is not an accepted value"
		return errors.New("countNumber must be a positive integer")
	case s.CountNumber > math.MaxInt32: // P, Count number: "Type: integer"
		return fmt.Errorf("countNumber %d is more than ECR's integers hold (%d)", s.CountNumber, math.MaxInt32)
	}
	for _, pattern := range s.TagPatternList { // P, Tag pattern list
		if strings.Count(pattern, "*") > maxPatternWildcards {
			return fmt.Errorf("tagPatternList entry %q has more than %d wildcards", pattern, maxPatternWildcards)
		}
	}
	if err := validateCount(s); err != nil {
		return err
	}
	return validateAction(r)
}

// validateCount checks the count type against its unit and storage class
// (P, Storage class, Count type, Count unit).
func validateCount(s lifecycleSelection) error {
	switch s.StorageClass {
	case "", storageStandard, storageArchive:
	default:
		return fmt.Errorf(`unknown storageClass %q (want standard or archive)`, s.StorageClass)
	}
	switch s.CountType {
	case countImageCountMoreThan:
		if s.CountUnit != "" {
			return errors.New(`countUnit is not allowed with countType "imageCountMoreThan"`)
		}
	case countSinceImagePushed, countSinceImagePulled, countSinceImageTransitioned:
		if s.CountUnit != "days" {
			return fmt.Errorf(`countType %q needs countUnit "days", got %q`, s.CountType, s.CountUnit)
		}
	default:
		return fmt.Errorf(`unknown countType %q (want imageCountMoreThan, sinceImagePushed, sinceImagePulled or sinceImageTransitioned)`, s.CountType)
	}
	// "When using a countType of imageCountMoreThan, sinceImagePushed, or
	// sinceImagePulled, the only supported value is standard. When using a
	// count type of sinceImageTransitioned, this is required, and the only
	// supported value is archive."
	switch {
	case s.CountType == countSinceImageTransitioned && s.StorageClass != storageArchive:
		return errors.New(`countType "sinceImageTransitioned" needs storageClass "archive"`)
	case s.CountType != countSinceImageTransitioned && s.StorageClass == storageArchive:
		return fmt.Errorf(`storageClass "archive" is only allowed with countType "sinceImageTransitioned", not %q`, s.CountType)
	case s.CountType == countSinceImageTransitioned && s.CountNumber < minArchiveDays:
		return fmt.Errorf(`countType "sinceImageTransitioned" needs countNumber %d or more (days in archive before an image may be deleted), got %d`, minArchiveDays, s.CountNumber)
	}
	return nil
}

// validateAction checks the action and what it may be combined with.
func validateAction(r lifecycleRule) error {
	a, countType := r.Action, r.Selection.CountType
	switch a.Type {
	case actionExpire:
		// The documentation only says targetStorageClass is required for
		// transition; the API reference says it "is only present when the
		// type is TRANSITION"
		// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_LifecyclePolicyRuleAction.html),
		// so ecr-guard does not take it on an expire rule.
		if a.TargetStorageClass != "" {
			return errors.New(`targetStorageClass is only allowed with action type "transition"`)
		}
		// X, Filtering on last pulled time: "The sinceImagePulled count
		// type must be used with the transition action."
		if countType == countSinceImagePulled {
			return errors.New(`countType "sinceImagePulled" only works with action type "transition"`)
		}
	case actionTransition:
		// P, Action: targetStorageClass is required for transition and
		// archive is its only value.
		if a.TargetStorageClass != storageArchive {
			return fmt.Errorf(`action type "transition" needs targetStorageClass "archive", got %q`, a.TargetStorageClass)
		}
		// X, Filtering on archive transition time: "The
		// sinceImageTransitioned count type must be used with the expire
		// action and the archive storage class."
		if countType == countSinceImageTransitioned {
			return errors.New(`countType "sinceImageTransitioned" only works with action type "expire"`)
		}
	default:
		return fmt.Errorf(`unknown action type %q (want expire or transition)`, a.Type)
	}
	return nil
}

// checkRuleOrder checks what ECR requires of the rules together, given them
// by rulePriority:
//   - unique rulePriority values (P, Rule priority);
//   - among the rules selecting one storage class, at most one tagStatus
//     "any" rule, with the highest rulePriority of them. The documentation
//     states the rule for the whole policy (P, Rule priority), but its own
//     "Combining archive and expire rules" example (X) has an "any" rule at
//     priority 1 for standard images and another at 2 for archived ones, so
//     it holds per storage class, like the two rules after it;
//   - at most one tagStatus "untagged" rule per storage class (E: "Only one
//     rule selecting a specific storage class is allowed to select untagged
//     images"; "any" does not count: X's "Filtering on all images" example B
//     has an untagged rule and an any rule);
//   - no two rules of one storage class with the same set of tag prefixes
//     (E: "The set of all rules selecting a specific storage class must
//     contain a unique set of prefixes"; whether two different sets may
//     share a prefix the sentence leaves open, so ecr-guard only rejects
//     identical sets).
func checkRuleOrder(rules []lifecycleRule) error {
	type class struct {
		anyPriority, untaggedPriority int
		prefixSets                    map[string]int
	}
	classes := map[string]*class{}
	for i, r := range rules {
		if i > 0 && rules[i-1].RulePriority == r.RulePriority {
			return fmt.Errorf("duplicate rulePriority %d", r.RulePriority)
		}
		name := r.storageClass()
		c := classes[name]
		if c == nil {
			c = &class{prefixSets: map[string]int{}}
			classes[name] = c
		}
		if c.anyPriority != 0 {
			return fmt.Errorf(`the tagStatus "any" rule (rulePriority %d) must have the highest rulePriority of the rules selecting storage class %s, yet %d is higher`, c.anyPriority, name, r.RulePriority)
		}
		switch s := r.Selection; {
		case s.TagStatus == tagStatusAny:
			c.anyPriority = r.RulePriority
		case s.TagStatus == tagStatusUntagged && c.untaggedPriority != 0:
			return fmt.Errorf(`rules %d and %d both select untagged images of storage class %s; only one may`, c.untaggedPriority, r.RulePriority, name)
		case s.TagStatus == tagStatusUntagged:
			c.untaggedPriority = r.RulePriority
		case s.TagPrefixList != nil:
			set := tagSet(s.TagPrefixList)
			if other, ok := c.prefixSets[set]; ok {
				return fmt.Errorf(`rules %d and %d have the same tagPrefixList for storage class %s`, other, r.RulePriority, name)
			}
			c.prefixSets[set] = r.RulePriority
		}
	}
	return nil
}

// sortedTags is a copy of a tag list in order: a rule selects the images
// that carry all of its tags, whatever the list's order.
func sortedTags(tags []string) []string {
	sorted := slices.Clone(tags)
	slices.Sort(sorted)
	return sorted
}

// tagSet is a tag list as a map key, the same whatever the list's order.
func tagSet(tags []string) string { return strings.Join(sortedTags(tags), "\x00") }

// canonicalPolicy decodes text into plain JSON values (numbers compare
// numerically) in the form Equal compares: rules sorted by rulePriority,
// no storageClass where it is ECR's default, tag lists sorted. keys is the
// number of keys as decoded, before any was dropped (repeatsKeys).
func canonicalPolicy(text string) (canonical any, keys int, err error) {
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, 0, fmt.Errorf("not valid JSON: %w", err)
	}
	keys = countKeys(v)
	rules, _ := v["rules"].([]any)
	for _, rule := range rules {
		r, _ := rule.(map[string]any)
		s, ok := r["selection"].(map[string]any)
		if !ok {
			continue
		}
		// Dropping the default, rather than adding it, costs no allocation.
		if s["storageClass"] == storageStandard {
			delete(s, "storageClass")
		}
		if tags, ok := s["tagPatternList"].([]any); ok {
			sortStrings(tags)
		}
		if tags, ok := s["tagPrefixList"].([]any); ok {
			sortStrings(tags)
		}
	}
	sort.SliceStable(rules, func(i, j int) bool {
		return rulePriority(rules[i]) < rulePriority(rules[j])
	})
	return v, keys, nil
}

// sortStrings sorts a decoded list of strings in place (a list holding
// anything else is left as it is).
func sortStrings(list []any) {
	for _, e := range list {
		if _, ok := e.(string); !ok {
			return
		}
	}
	slices.SortFunc(list, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
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

// The states of a lifecycle policy next to the baseline (State), as
// notices, findings, the audit and the scenarios name them. Each says what
// the policy is, whatever LIFECYCLE_MODE makes of it, so a word is true in
// every mode: a team's policy holding every baseline rule is compliant
// under contains and replaced under enforce, and contains-baseline either
// way.
const (
	PolicyAbsent   = "absent"   // no lifecycle policy
	PolicyBaseline = "baseline" // semantically the baseline (Equal)
	// PolicyContainsBaseline: every baseline rule, with other priorities or
	// descriptions or with rules of its own (ContainedIn): what
	// LIFECYCLE_MODE=contains leaves or makes.
	PolicyContainsBaseline = "contains-baseline"
	PolicyOther            = "other" // lacks a baseline rule, or is no valid policy
)

// State names the state of the policy lc next to p, the baseline.
func (p LifecyclePolicy) State(lc Lifecycle) string {
	switch {
	case !lc.Exists:
		return PolicyAbsent
	case p.Equal(lc.Text):
		return PolicyBaseline
	case p.ContainedIn(lc.Text):
		return PolicyContainsBaseline
	}
	return PolicyOther
}
