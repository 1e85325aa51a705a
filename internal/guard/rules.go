package guard

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// LifecycleMode says when the baseline lifecycle policy is applied.
type LifecycleMode string

const (
	// LifecycleEnforce puts the baseline when the policy is missing or differs.
	LifecycleEnforce LifecycleMode = "enforce"
	// LifecycleMissing puts the baseline only when there is no policy.
	LifecycleMissing LifecycleMode = "missing"
	// LifecycleContains merges the baseline's rules into a policy that lacks
	// any of them, keeping the policy's own rules; no policy gets the
	// baseline.
	LifecycleContains LifecycleMode = "contains"
	// LifecycleOff never touches lifecycle policies.
	LifecycleOff LifecycleMode = "off"
)

// TagMatcher matches one exemption tag; AnyValue is written key=*.
type TagMatcher struct {
	Key      string
	Value    string
	AnyValue bool
}

func (m TagMatcher) String() string {
	if m.AnyValue {
		return m.Key + "=*"
	}
	return m.Key + "=" + m.Value
}

// Matches compares key and value case-insensitively, in ASCII only
// (asciiEqualFold).
func (m TagMatcher) Matches(t Tag) bool {
	return asciiEqualFold(m.Key, t.Key) && (m.AnyValue || asciiEqualFold(m.Value, t.Value))
}

// asciiEqualFold reports whether a and b are equal with ASCII letters
// compared case-insensitively. Unlike strings.EqualFold it folds nothing
// else: "exemption-expireſ" (U+017F, long s) is not "exemption-expires",
// and "\u212Aey" (U+212A, Kelvin sign) is not "key". Tag keys and values
// are compared this way everywhere, so no look-alike spelling counts as an
// exemption or expiry tag.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Rules is the validated configuration the decisions depend on.
type Rules struct {
	ExemptTags               []TagMatcher
	ExemptRepositoryPatterns []string // empty: any name may be exempt
	ExemptionExpiresTag      string
	AllowedMutableTagFilters []string
	Baseline                 LifecyclePolicy
	LifecycleMode            LifecycleMode
	DryRun                   bool
	// SelfRoleARNs are ecr-guard's own roles (both functions'): their calls
	// are still checked, but a compliant result is not news.
	SelfRoleARNs []string
	// MemberRoleName is the role ecr-guard assumes in an organization's
	// accounts (MEMBER_ROLE_NAME); calls made with it, in any account, are
	// ecr-guard's own too.
	MemberRoleName string
	// RootTemplateMode is ROOT_TEMPLATE; RootTemplateAppliedFor is
	// ROOT_TEMPLATE_APPLIED_FOR, what an ensured ROOT template is applied for.
	RootTemplateMode       RootTemplateMode
	RootTemplateAppliedFor []string
}

// IsSelf reports whether the event is a call made with one of ecr-guard's
// own roles.
func (r *Rules) IsSelf(e Event) bool {
	issuer := e.Principal.IssuerARN
	if issuer == "" {
		return false
	}
	if slices.Contains(r.SelfRoleARNs, issuer) {
		return true
	}
	// arn:PARTITION:iam::ACCOUNT:role/NAME, in any account.
	parts := strings.SplitN(issuer, ":", 6)
	return r.MemberRoleName != "" && len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "role/"+r.MemberRoleName
}

// MutabilityCompliant reports whether a mutability setting is allowed:
// IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION whose every filter is allowlisted.
func (r *Rules) MutabilityCompliant(mutability string, filters []string) bool {
	switch mutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		for _, f := range filters {
			if !slices.Contains(r.AllowedMutableTagFilters, f) {
				return false
			}
		}
		return true
	}
	return false
}

// compliantSetting is the setting to revert to: the allowlisted filters an
// IMMUTABLE_WITH_EXCLUSION repository already had, or plain IMMUTABLE when
// none remain. The filters of MUTABLE_WITH_EXCLUSION name the tags that are
// immutable, so carrying them over would make exactly those tags mutable:
// such a repository becomes plain IMMUTABLE.
func (r *Rules) compliantSetting(current string, filters []string) MutabilitySetting {
	if current != ImmutableWithExclusion {
		return MutabilitySetting{Mutability: Immutable}
	}
	var keep []string
	for _, f := range filters {
		if slices.Contains(r.AllowedMutableTagFilters, f) && !slices.Contains(keep, f) {
			keep = append(keep, f)
		}
	}
	if len(keep) == 0 {
		return MutabilitySetting{Mutability: Immutable}
	}
	return MutabilitySetting{Mutability: ImmutableWithExclusion, ExclusionFilters: keep}
}

// ExemptionStatus says whether and why a repository is (not) exempt.
type ExemptionStatus string

const (
	ExemptionNone           ExemptionStatus = "none"             // no exemption tag
	ExemptionActive         ExemptionStatus = "active"           // exempt
	ExemptionExpired        ExemptionStatus = "expired"          // expiry date in the past
	ExemptionInvalidExpiry  ExemptionStatus = "invalid-expiry"   // expiry tag empty, not YYYY-MM-DD, or twice
	ExemptionNameNotAllowed ExemptionStatus = "name-not-allowed" // tagged, but name matches no pattern
)

// Exemption is the outcome of the exemption rule for one repository.
type Exemption struct {
	Status ExemptionStatus
	Tag    string // the matching tag as key=value, when there is one
	// Tags are all the repository's tags whose key is an exemption tag's key
	// (key=value, in the order listed), whether their value matches or not.
	// ECR tag keys are case-sensitive, so environment=dev and
	// Environment=prod can coexist: one matching tag is enough to be
	// exempt, and the notice shows the others.
	Tags []string
	// Expires is the expiry tag's value when there is exactly one expiry tag.
	Expires string
	// ExpiryTags are all the tags whose key is the expiry tag's (key=value).
	// More than one is invalid-expiry: none of them wins.
	ExpiryTags []string
}

// Active reports whether the repository is exempt from the mutability rule.
func (e Exemption) Active() bool { return e.Status == ExemptionActive }

// Exemption evaluates the exemption rule: an allowlisted tag, a name that
// matches EXEMPT_REPOSITORY_PATTERNS when set, and an expiry that is today or
// later when the expiry tag is present. now is passed in; dates are UTC.
//
// Keys (and values) compare case-insensitively in ASCII only. An expiry tag
// cannot make an exemption permanent or ambiguous: one that is present but
// empty, or more than one tag with the expiry key (exemption-expires and
// Exemption-Expires), is invalid-expiry.
func (r *Rules) Exemption(name string, tags []Tag, now time.Time) Exemption {
	return r.exemption(func() bool { return r.nameMayBeExempt(name) }, tags, now)
}

// exemption evaluates the exemption rule for a resource whose name (or
// prefix) may, or may not, be exempt: nameMayBeExempt is asked only when
// an exemption tag matches, since most resources carry none.
func (r *Rules) exemption(nameMayBeExempt func() bool, tags []Tag, now time.Time) Exemption {
	var e Exemption
	exempt, expiry := 0, 0
	for _, t := range tags {
		if r.isExemptKey(t.Key) {
			exempt++
		}
		if r.isExpiryKey(t.Key) {
			expiry++
		}
	}
	if exempt+expiry > 0 {
		// One backing array for both lists: most repositories have neither,
		// an exempt one usually one of each.
		all := make([]string, exempt+expiry)
		if exempt > 0 {
			e.Tags = all[:0:exempt]
		}
		if expiry > 0 {
			e.ExpiryTags = all[exempt:exempt]
		}
		for _, t := range tags {
			if r.isExemptKey(t.Key) {
				kv := t.Key + "=" + t.Value
				e.Tags = append(e.Tags, kv)
				if e.Tag == "" && r.IsExemptTag(t) {
					e.Tag = kv
				}
			}
			if r.isExpiryKey(t.Key) {
				e.ExpiryTags = append(e.ExpiryTags, t.Key+"="+t.Value)
				if expiry == 1 {
					e.Expires = t.Value
				}
			}
		}
	}
	switch {
	case e.Tag == "":
		e.Status = ExemptionNone
	case !nameMayBeExempt():
		e.Status = ExemptionNameNotAllowed
	case len(e.ExpiryTags) == 0:
		e.Status = ExemptionActive
	case len(e.ExpiryTags) > 1:
		e.Status = ExemptionInvalidExpiry
	default:
		// An empty value is invalid like any other that is not a date: a
		// present expiry tag never means "no expiry".
		e.Status = expiryStatus(e.Expires, now)
	}
	return e
}

func expiryStatus(value string, now time.Time) ExemptionStatus {
	expires, err := time.Parse(time.DateOnly, value)
	if err != nil {
		return ExemptionInvalidExpiry
	}
	y, m, d := now.UTC().Date()
	if expires.Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return ExemptionExpired
	}
	return ExemptionActive
}

// IsExemptTag reports whether t is one of the allowlisted exemption tags.
func (r *Rules) IsExemptTag(t Tag) bool {
	return slices.ContainsFunc(r.ExemptTags, func(m TagMatcher) bool { return m.Matches(t) })
}

// isExemptKey reports whether key is the key of an allowlisted exemption tag.
func (r *Rules) isExemptKey(key string) bool {
	return slices.ContainsFunc(r.ExemptTags, func(m TagMatcher) bool { return asciiEqualFold(m.Key, key) })
}

func (r *Rules) nameMayBeExempt(name string) bool {
	if len(r.ExemptRepositoryPatterns) == 0 {
		return true
	}
	return slices.ContainsFunc(r.ExemptRepositoryPatterns, func(p string) bool { return MatchGlob(p, name) })
}

// MatchGlob matches name against pattern, where * matches any run of
// characters (including "/", so "team-a/*" covers nested names) and every
// other character matches itself.
func MatchGlob(pattern, name string) bool {
	// Classic greedy match with backtracking to the last star.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// ParseLifecycleMode validates a LIFECYCLE_MODE value.
func ParseLifecycleMode(s string) (LifecycleMode, error) {
	switch m := LifecycleMode(s); m {
	case LifecycleEnforce, LifecycleMissing, LifecycleContains, LifecycleOff:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want enforce, missing, contains or off)", s)
}
