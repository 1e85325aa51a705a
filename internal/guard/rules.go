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

// Matches compares key and value case-insensitively.
func (m TagMatcher) Matches(t Tag) bool {
	return strings.EqualFold(m.Key, t.Key) && (m.AnyValue || strings.EqualFold(m.Value, t.Value))
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
	SelfRoleARN              string
}

// IsSelf reports whether the event is a call made by ecr-guard's own role.
func (r Rules) IsSelf(e Event) bool {
	return r.SelfRoleARN != "" && e.Principal.IssuerARN == r.SelfRoleARN
}

// MutabilityCompliant reports whether a mutability setting is allowed:
// IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION whose every filter is allowlisted.
func (r Rules) MutabilityCompliant(mutability string, filters []string) bool {
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
func (r Rules) compliantSetting(current string, filters []string) MutabilitySetting {
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
	ExemptionInvalidExpiry  ExemptionStatus = "invalid-expiry"   // expiry tag not YYYY-MM-DD
	ExemptionNameNotAllowed ExemptionStatus = "name-not-allowed" // tagged, but name matches no pattern
)

// Exemption is the outcome of the exemption rule for one repository.
type Exemption struct {
	Status  ExemptionStatus
	Tag     string // the matching tag as key=value, when there is one
	Expires string // the expiry tag's value, when there is one
}

// Active reports whether the repository is exempt from the mutability rule.
func (e Exemption) Active() bool { return e.Status == ExemptionActive }

// Exemption evaluates the exemption rule: an allowlisted tag, a name that
// matches EXEMPT_REPOSITORY_PATTERNS when set, and an expiry that is today or
// later when the expiry tag is present. now is passed in; dates are UTC.
func (r Rules) Exemption(name string, tags []Tag, now time.Time) Exemption {
	var e Exemption
	for _, t := range tags {
		if e.Tag == "" && r.IsExemptTag(t) {
			e.Tag = t.Key + "=" + t.Value
		}
		if r.ExemptionExpiresTag != "" && strings.EqualFold(t.Key, r.ExemptionExpiresTag) {
			e.Expires = t.Value
		}
	}
	switch {
	case e.Tag == "":
		e.Status = ExemptionNone
	case !r.nameMayBeExempt(name):
		e.Status = ExemptionNameNotAllowed
	case e.Expires == "":
		e.Status = ExemptionActive
	default:
		e.Status = expiryStatus(e.Expires, now)
	}
	return e
}

func expiryStatus(value string, now time.Time) ExemptionStatus {
	expires, err := time.Parse(time.DateOnly, value)
	if err != nil {
		return ExemptionInvalidExpiry
	}
	today := now.UTC().Format(time.DateOnly)
	if expires.Format(time.DateOnly) < today {
		return ExemptionExpired
	}
	return ExemptionActive
}

// IsExemptTag reports whether t is one of the allowlisted exemption tags.
func (r Rules) IsExemptTag(t Tag) bool {
	return slices.ContainsFunc(r.ExemptTags, func(m TagMatcher) bool { return m.Matches(t) })
}

func (r Rules) nameMayBeExempt(name string) bool {
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
	case LifecycleEnforce, LifecycleMissing, LifecycleOff:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want enforce, missing or off)", s)
}
