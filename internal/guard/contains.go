package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LIFECYCLE_MODE=contains: a policy is compliant when it contains every
// baseline rule, the same selection and action whatever its rulePriority
// and description, so teams keep rules of their own. Missing rules are
// merged in by merge.

// identity is what makes two rules the same rule for LIFECYCLE_MODE=contains:
// selection and action, compared as Equal compares them (storage class
// defaulted, tag lists as sets); rulePriority and description are free.
func (r lifecycleRule) identity() string {
	s := r.Selection
	s.StorageClass = r.storageClass()
	s.TagPatternList, s.TagPrefixList = sortedTags(s.TagPatternList), sortedTags(s.TagPrefixList)
	b, _ := json.Marshal(struct {
		S lifecycleSelection
		A lifecycleAction
	}{s, r.Action}) // plain strings and numbers: it cannot fail
	return string(b)
}

// missingFrom returns the baseline rules that rules lack, by rulePriority.
func (p LifecyclePolicy) missingFrom(rules []lifecycleRule) []lifecycleRule {
	have := make(map[string]bool, len(rules))
	for _, r := range rules {
		have[r.identity()] = true
	}
	var missing []lifecycleRule
	for _, b := range p.rules {
		if !have[b.identity()] {
			missing = append(missing, b)
		}
	}
	return missing
}

// ContainedIn reports whether the policy text contains every rule of p, the
// compliance of LIFECYCLE_MODE=contains; text that is not a valid policy
// does not.
func (p LifecyclePolicy) ContainedIn(text string) bool {
	if p.Equal(text) {
		return true
	}
	rules, err := parseLifecycleRules(text)
	return err == nil && len(p.missingFrom(rules)) == 0
}

// lifecycleMerge is a policy with the baseline's missing rules merged in.
type lifecycleMerge struct {
	text string
	// added are the baseline rules added, with the priorities they got.
	added []lifecycleRule
	// removed are the policy's rules that conflicted with an added rule.
	removed []lifecycleRule
	// renumbered: the added rules did not fit between the policy's
	// priorities, so every rule was numbered again, in the same order.
	renumbered bool
}

// merge adds the baseline rules that rules (a valid policy's, by
// rulePriority) lack; nothing is missing when the merge adds none. The
// policy's own rules are kept as they are, except:
//   - a rule ECR would not take beside an added one is removed: the other
//     tagStatus "any" rule, or the other "untagged" rule, or the rule with
//     the same tag prefixes, of the added rule's storage class
//     (checkRuleOrder). The baseline decides what such a rule does.
//   - their priorities when the added rules cannot fit between them: then
//     all rules are numbered 1, 2, ... in the merged order. Only the order
//     of priorities matters to ECR ("Values don't need to be sequential",
//     lifecycle_policy_parameters.html, Rule priority), so no rule's
//     effect changes.
//
// Added rules go after the policy's rules, in the baseline's order, except
// that one selecting the storage class of the policy's "any" rule goes just
// before it: an "any" rule is the last of its storage class. Appended after
// the team's rules, a baseline rule does not take images a team's rule
// selects first ("An image that matches the tagging requirements of a rule
// cannot be expired or archived by a rule with a lower priority",
// LifecyclePolicies.html), so teams keep exceptions of their own.
//
// The merged policy must itself be valid (ParseLifecyclePolicy's rules,
// its length included); merge fails when it is not.
func (p LifecyclePolicy) merge(rules []lifecycleRule) (lifecycleMerge, error) {
	missing := p.missingFrom(rules)
	if len(missing) == 0 {
		return lifecycleMerge{}, nil
	}
	var m lifecycleMerge
	type placed struct {
		rule  lifecycleRule
		added bool
	}
	seq := make([]placed, 0, len(rules)+len(missing))
	for _, r := range rules {
		if slices.ContainsFunc(missing, func(b lifecycleRule) bool { return conflicts(r, b) }) {
			m.removed = append(m.removed, r)
			continue
		}
		seq = append(seq, placed{rule: r})
	}
	for _, b := range missing {
		at := len(seq)
		if b.Selection.TagStatus != tagStatusAny {
			if i := slices.IndexFunc(seq, func(q placed) bool {
				return q.rule.Selection.TagStatus == tagStatusAny && q.rule.storageClass() == b.storageClass()
			}); i >= 0 {
				at = i
			}
		}
		seq = slices.Insert(seq, at, placed{rule: b, added: true})
	}

	// Number each run of added rules from the priority before it; when a
	// run does not fit below the priority after it, number them all.
	fits := true
	for i, below := 0, 0; i < len(seq) && fits; {
		if !seq[i].added {
			below = seq[i].rule.RulePriority
			i++
			continue
		}
		end := i
		for end < len(seq) && seq[end].added {
			end++
		}
		above := math.MaxInt32 + 1 // ECR's priorities are integers
		if end < len(seq) {
			above = seq[end].rule.RulePriority
		}
		if fits = above-below-1 >= end-i; fits {
			for k := i; k < end; k++ {
				seq[k].rule.RulePriority = below + 1 + k - i
			}
		}
		i = end
	}
	merged := make([]lifecycleRule, len(seq))
	for i, q := range seq {
		if !fits {
			q.rule.RulePriority = i + 1
		}
		merged[i] = q.rule
		if q.added {
			m.added = append(m.added, q.rule)
		}
	}
	m.renumbered = !fits

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a description's "<" or "&" stays as written
	if err := enc.Encode(lifecycleDocument{Rules: merged}); err != nil {
		return lifecycleMerge{}, fmt.Errorf("encoding the merged policy: %w", err)
	}
	m.text = strings.TrimSuffix(b.String(), "\n")
	if _, err := parseLifecycleRules(m.text); err != nil {
		return lifecycleMerge{}, fmt.Errorf("the merged policy would not be valid: %w", err)
	}
	return m, nil
}

// conflicts reports whether ECR would refuse rule r beside baseline rule b
// (checkRuleOrder): both select one storage class and both are its "any"
// rule, or both its "untagged" rule, or both have the same tag prefixes.
func conflicts(r, b lifecycleRule) bool {
	rs, bs := r.Selection, b.Selection
	switch {
	case r.storageClass() != b.storageClass():
		return false
	case bs.TagStatus == tagStatusAny || bs.TagStatus == tagStatusUntagged:
		return rs.TagStatus == bs.TagStatus
	case bs.TagPrefixList != nil && rs.TagPrefixList != nil:
		return tagSet(rs.TagPrefixList) == tagSet(bs.TagPrefixList)
	}
	return false
}

// describe says what the merge does, as done or, in a dry run, as would be.
func (m lifecycleMerge) describe(dryRun bool) string {
	add, remove, renumber := "added", "removed", "renumbered"
	if dryRun {
		add, remove, renumber = "would add", "would remove", "would renumber"
	}
	parts := []string{add + " baseline rules: " + describeRules(m.added)}
	if len(m.removed) > 0 {
		parts = append(parts, remove+" conflicting rules: "+describeRules(m.removed))
	}
	if m.renumbered {
		parts = append(parts, renumber+" the rules to make room, keeping their order")
	}
	return strings.Join(parts, "; ")
}

// describeRules names rules by description and priority:
// "Keep only the 30 most recent images (priority 4), ...".
func describeRules(rules []lifecycleRule) string {
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.name() + " (priority " + strconv.Itoa(r.RulePriority) + ")"
	}
	return strings.Join(names, ", ")
}

// name is the rule's description or, without one, what it does:
// "untagged sinceImagePushed 7 days: expire".
func (r lifecycleRule) name() string {
	if r.Description != "" {
		return r.Description
	}
	s := r.Selection
	words := []string{s.TagStatus}
	words = append(words, s.TagPatternList...)
	words = append(words, s.TagPrefixList...)
	if s.StorageClass == storageArchive {
		words = append(words, storageArchive)
	}
	words = append(words, s.CountType, strconv.Itoa(s.CountNumber))
	if s.CountUnit != "" {
		words = append(words, s.CountUnit)
	}
	action := r.Action.Type
	if r.Action.TargetStorageClass != "" {
		action += " to " + r.Action.TargetStorageClass
	}
	return strings.Join(words, " ") + ": " + action
}
