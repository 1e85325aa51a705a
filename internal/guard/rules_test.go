package guard

import (
	"slices"
	"testing"
	"time"
)

// Look-alikes that strings.EqualFold folds onto ASCII letters.
const (
	longS  = "\u017F" // ſ LATIN SMALL LETTER LONG S, folds to s
	kelvin = "\u212A" // K KELVIN SIGN, folds to k
)

var exemptionNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func exemptionRules() *Rules {
	return &Rules{
		ExemptTags: []TagMatcher{
			{Key: "environment", Value: "dev"},
			{Key: "kind", Value: "sandbox"},
			{Key: "team-sandbox", AnyValue: true},
		},
		ExemptionExpiresTag: "exemption-expires",
	}
}

func TestASCIIEqualFold(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"environment", "environment", true},
		{"Environment", "eNVIRONMENT", true},
		{"exemption-expires", "EXEMPTION-EXPIRES", true},
		{"", "", true},
		{"dev", "devs", false},
		{"a-b", "a_b", false},
		{"@", "`", false}, // 0x40 and 0x60 differ by the case bit but are not letters
		{"[", "{", false},
		{"exemption-expire" + longS, "exemption-expires", false},
		{kelvin + "ind", "kind", false},
		{kelvin + "ind", "Kind", false},
		{"caf\u00e9", "CAF\u00c9", false}, // é/É: non-ASCII is compared byte for byte
		{"caf\u00e9", "caf\u00e9", true},
	}
	for _, tt := range tests {
		if got := asciiEqualFold(tt.a, tt.b); got != tt.want {
			t.Errorf("asciiEqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := asciiEqualFold(tt.b, tt.a); got != tt.want {
			t.Errorf("asciiEqualFold(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestExemption(t *testing.T) {
	dev := Tag{Key: "environment", Value: "dev"}
	tests := []struct {
		name           string
		tags           []Tag
		want           ExemptionStatus
		wantTag        string
		wantTags       []string
		wantExpires    string
		wantExpiryTags []string
	}{
		// Expiry tags cannot make an exemption permanent.
		{
			name: "empty expiry is invalid, not permanent",
			tags: []Tag{dev, {Key: "exemption-expires", Value: ""}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"exemption-expires="},
		},
		{
			name: "empty expiry under another case is invalid",
			tags: []Tag{{Key: "Exemption-Expires", Value: ""}, dev},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"Exemption-Expires="},
		},
		{
			name: "blank expiry is invalid",
			tags: []Tag{dev, {Key: "exemption-expires", Value: " "}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpires: " ", wantExpiryTags: []string{"exemption-expires= "},
		},
		{
			name: "no expiry tag at all is still active",
			tags: []Tag{dev},
			want: ExemptionActive, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
		},
		{
			name: "one expiry tag in the future is active",
			tags: []Tag{dev, {Key: "EXEMPTION-EXPIRES", Value: "2026-11-27"}},
			want: ExemptionActive, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpires: "2026-11-27", wantExpiryTags: []string{"EXEMPTION-EXPIRES=2026-11-27"},
		},
		{
			name: "one expiry tag in the past is expired",
			tags: []Tag{dev, {Key: "exemption-expires", Value: "2026-11-26"}},
			want: ExemptionExpired, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpires: "2026-11-26", wantExpiryTags: []string{"exemption-expires=2026-11-26"},
		},

		// More than one expiry tag is ambiguous, whatever the order.
		{
			name: "two expiry tags, past one last",
			tags: []Tag{dev, {Key: "exemption-expires", Value: "2099-12-31"}, {Key: "Exemption-Expires", Value: "2020-01-01"}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"exemption-expires=2099-12-31", "Exemption-Expires=2020-01-01"},
		},
		{
			name: "two expiry tags, future one last",
			tags: []Tag{dev, {Key: "Exemption-Expires", Value: "2020-01-01"}, {Key: "exemption-expires", Value: "2099-12-31"}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"Exemption-Expires=2020-01-01", "exemption-expires=2099-12-31"},
		},
		{
			name: "two expiry tags with the same date",
			tags: []Tag{{Key: "exemption-expires", Value: "2099-12-31"}, dev, {Key: "EXEMPTION-expires", Value: "2099-12-31"}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"exemption-expires=2099-12-31", "EXEMPTION-expires=2099-12-31"},
		},

		// Keys and values compare in ASCII only.
		{
			name: "long s in the expiry key is not the expiry tag",
			tags: []Tag{dev, {Key: "exemption-expire" + longS, Value: "2020-01-01"}},
			want: ExemptionActive, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
		},
		{
			name: "long s look-alike does not make a second expiry tag",
			tags: []Tag{dev, {Key: "exemption-expires", Value: "2099-12-31"}, {Key: "exemption-expire" + longS, Value: "2020-01-01"}},
			want: ExemptionActive, wantTag: "environment=dev", wantTags: []string{"environment=dev"},
			wantExpires: "2099-12-31", wantExpiryTags: []string{"exemption-expires=2099-12-31"},
		},
		{
			name: "Kelvin sign in an exemption key",
			tags: []Tag{{Key: kelvin + "ind", Value: "sandbox"}},
			want: ExemptionNone,
		},
		{
			name: "Kelvin sign in an any-value exemption key",
			tags: []Tag{{Key: "team-sandbox-" + kelvin, Value: "x"}, {Key: "team-" + longS + "andbox", Value: "x"}},
			want: ExemptionNone,
		},
		{
			name: "long s in an exemption value",
			tags: []Tag{{Key: "kind", Value: longS + "andbox"}},
			want: ExemptionNone, wantTags: []string{"kind=" + longS + "andbox"},
		},
		{
			name: "Kelvin sign in an exemption value",
			tags: []Tag{{Key: "KIND", Value: "sandbox"}, {Key: "Kind", Value: "sandbo" + kelvin}},
			want: ExemptionActive, wantTag: "KIND=sandbox", wantTags: []string{"KIND=sandbox", "Kind=sandbo" + kelvin},
		},
		{
			name: "ASCII case still folds",
			tags: []Tag{{Key: "ENVIRONMENT", Value: "DEV"}},
			want: ExemptionActive, wantTag: "ENVIRONMENT=DEV", wantTags: []string{"ENVIRONMENT=DEV"},
		},

		// Several tags with an exemption key: exempt if one matches, all reported.
		{
			name: "conflicting exemption tags, match first",
			tags: []Tag{dev, {Key: "Environment", Value: "prod"}},
			want: ExemptionActive, wantTag: "environment=dev", wantTags: []string{"environment=dev", "Environment=prod"},
		},
		{
			name: "conflicting exemption tags, match last",
			tags: []Tag{{Key: "team", Value: "a"}, {Key: "ENVIRONMENT", Value: "prod"}, {Key: "Environment", Value: "staging"}, {Key: "environment", Value: "DEV"}},
			want: ExemptionActive, wantTag: "environment=DEV", wantTags: []string{"ENVIRONMENT=prod", "Environment=staging", "environment=DEV"},
		},
		{
			name: "exemption keys, no value matches",
			tags: []Tag{{Key: "environment", Value: "prod"}, {Key: "Environment", Value: "staging"}},
			want: ExemptionNone, wantTags: []string{"environment=prod", "Environment=staging"},
		},
		{
			name: "two different exemption tags both match",
			tags: []Tag{{Key: "team-sandbox", Value: "yes"}, dev},
			want: ExemptionActive, wantTag: "team-sandbox=yes", wantTags: []string{"team-sandbox=yes", "environment=dev"},
		},
		{
			name: "conflicting exemption tags and two expiry tags",
			tags: []Tag{{Key: "Environment", Value: "prod"}, dev, {Key: "exemption-expires", Value: "2099-12-31"}, {Key: "exemption-Expires", Value: ""}},
			want: ExemptionInvalidExpiry, wantTag: "environment=dev", wantTags: []string{"Environment=prod", "environment=dev"},
			wantExpiryTags: []string{"exemption-expires=2099-12-31", "exemption-Expires="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := exemptionRules().Exemption("team-a/web", tt.tags, exemptionNow)
			if e.Status != tt.want || e.Tag != tt.wantTag || !slices.Equal(e.Tags, tt.wantTags) ||
				e.Expires != tt.wantExpires || !slices.Equal(e.ExpiryTags, tt.wantExpiryTags) {
				t.Errorf("Exemption = %+v\nwant status %s, tag %q, tags %q, expires %q, expiry tags %q",
					e, tt.want, tt.wantTag, tt.wantTags, tt.wantExpires, tt.wantExpiryTags)
			}
		})
	}
}

// TestExpiryStatusIsUTC: the last day is a UTC date, whatever now's zone.
func TestExpiryStatusIsUTC(t *testing.T) {
	now := time.Date(2026, 11, 27, 1, 0, 0, 0, time.FixedZone("UTC+5", 5*3600)) // 2026-11-26T20:00Z
	for value, want := range map[string]ExemptionStatus{
		"2026-11-25":           ExemptionExpired,
		"2026-11-26":           ExemptionActive,
		"2026-11-27":           ExemptionActive,
		"2026-11-26T00:00:00Z": ExemptionInvalidExpiry,
		"":                     ExemptionInvalidExpiry,
	} {
		if got := expiryStatus(value, now); got != want {
			t.Errorf("expiryStatus(%q) = %s, want %s", value, got, want)
		}
	}
}

// TestTagEventsCompareKeysInASCIIOnly: a tag call on a look-alike key neither
// grants nor removes an exemption or its expiry.
func TestTagEventsCompareKeysInASCIIOnly(t *testing.T) {
	baseline, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := exemptionRules()
	rules.Baseline, rules.LifecycleMode = baseline, LifecycleEnforce
	dev := Tag{Key: "environment", Value: "dev"}
	tests := []struct {
		name      string
		eventName string
		req       Request
		tags      []Tag // the repository's tags after the call
		wantKinds []Kind
	}{
		{
			name:      "untag a look-alike expiry key: no grant",
			eventName: EventUntagResource, req: Request{TagKeys: []string{"exemption-expire" + longS}},
			tags: []Tag{dev},
		},
		{
			name:      "untag the expiry key: grant (control)",
			eventName: EventUntagResource, req: Request{TagKeys: []string{"Exemption-Expires"}},
			tags: []Tag{dev}, wantKinds: []Kind{KindExemptionGranted},
		},
		{
			name:      "untag a look-alike exemption key: nothing observed",
			eventName: EventUntagResource, req: Request{TagKeys: []string{kelvin + "ind"}},
		},
		{
			name:      "untag the exemption key: observed (control)",
			eventName: EventUntagResource, req: Request{TagKeys: []string{"KIND"}},
			wantKinds: []Kind{KindObserved},
		},
		{
			name:      "tag a look-alike expiry key on an exempt repository: no grant",
			eventName: EventTagResource, req: Request{Tags: []Tag{{Key: "exemption-expire" + longS, Value: "2099-12-31"}}},
			tags: []Tag{dev, {Key: "exemption-expire" + longS, Value: "2099-12-31"}},
		},
		{
			name:      "tag a look-alike exemption tag: no grant",
			eventName: EventTagResource, req: Request{Tags: []Tag{{Key: "kind", Value: longS + "andbox"}}},
			tags: []Tag{{Key: "kind", Value: longS + "andbox"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &Event{Name: tt.eventName, Repository: "team-a/web", Request: tt.req,
				Principal: Principal{ARN: "arn:aws:iam::123456789012:user/alice", IssuerARN: "arn:aws:iam::123456789012:role/developer"}}
			repo := Repository{Name: "team-a/web", Mutability: Immutable, Tags: tt.tags,
				Lifecycle: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy}}
			p := rules.Decide(Input{Event: ev, Checks: ChecksFor(tt.eventName), Repo: repo, Now: exemptionNow})
			var kinds []Kind
			for _, f := range p.Findings {
				kinds = append(kinds, f.Kind)
			}
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Errorf("kinds = %v, want %v (findings %+v)", kinds, tt.wantKinds, p.Findings)
			}
		})
	}
}

func BenchmarkExemption(b *testing.B) {
	rules := exemptionRules()
	for _, bb := range []struct {
		name string
		tags []Tag
	}{
		{"no tags", nil},
		{"other tags", []Tag{{Key: "team", Value: "a"}, {Key: "cost-center", Value: "42"}}},
		{"exempt with expiry", []Tag{{Key: "team", Value: "a"}, {Key: "environment", Value: "dev"}, {Key: "exemption-expires", Value: "2099-12-31"}}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = rules.Exemption("team-a/web", bb.tags, exemptionNow)
			}
		})
	}
}
