package guard

import (
	"slices"
	"strings"
	"testing"
)

func template(prefix, mutability string, filters []string, tags ...Tag) *Template {
	return &Template{
		Prefix: prefix, AppliedFor: []string{AppliedForReplication, AppliedForPullThroughCache},
		Mutability: mutability, ExclusionFilters: filters, ResourceTags: tags,
		Lifecycle: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy},
	}
}

func templateEvent(name, prefix string, req Request) *Event {
	return &Event{Name: name, Template: prefix, Request: req, Principal: Principal{ARN: "arn:aws:sts::123456789012:assumed-role/developer/alice", IssuerARN: "arn:aws:iam::123456789012:role/developer"}}
}

// selfTemplateEvent is ecr-guard's own call (its role, as in testRules).
func selfTemplateEvent(name, prefix string, req Request) *Event {
	e := templateEvent(name, prefix, req)
	e.Principal = Principal{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/ecr-guard/fn", IssuerARN: "arn:aws:iam::123456789012:role/ecr-guard"}
	return e
}

func TestDecideTemplate(t *testing.T) {
	tests := []struct {
		name          string
		rules         func(*Rules)
		event         *Event
		prefix        string // default: the template's
		template      *Template
		wantKinds     []Kind
		wantAreas     []Area
		wantSet       *MutabilitySetting
		wantLifecycle bool
		wantCreate    bool
		wantAdd       []string
		wantDryRun    bool
		wantIgnored   bool
		wantSummary   string
	}{
		{
			name:      "a MUTABLE template is made IMMUTABLE",
			event:     templateEvent(EventCreateRepositoryCreationTemplate, "prod", Request{Mutability: Mutable}),
			template:  template("prod", Mutable, nil),
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability},
			wantSet: &MutabilitySetting{Mutability: Immutable}, wantSummary: "set image tag mutability MUTABLE -> IMMUTABLE",
		},
		{
			name:      "a template created without a mutability is MUTABLE by ECR's default",
			event:     templateEvent(EventCreateRepositoryCreationTemplate, "prod", Request{}),
			template:  template("prod", Immutable, nil),
			wantKinds: []Kind{KindObserved}, wantAreas: []Area{AreaMutability},
			wantSummary: "set MUTABLE; it is IMMUTABLE again",
		},
		{
			name:      "a disallowed exclusion filter is dropped, the allowed ones kept",
			event:     templateEvent(EventUpdateRepositoryCreationTemplate, "prod", Request{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"release-*", "latest"}}),
			template:  template("prod", ImmutableWithExclusion, []string{"release-*", "latest"}),
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability},
			wantSet: &MutabilitySetting{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest"}},
		},
		{
			name:      "an update that leaves out the mutability asks for ECR's default, MUTABLE",
			event:     templateEvent(EventUpdateRepositoryCreationTemplate, "prod", Request{}),
			template:  template("prod", Immutable, nil),
			wantKinds: []Kind{KindObserved}, wantAreas: []Area{AreaMutability},
			wantSummary: "set MUTABLE; it is IMMUTABLE again",
		},
		{
			name:      "ecr-guard's own update of an exempt template echoes it whole (MUTABLE, the tag): nothing to say",
			rules:     func(r *Rules) { r.ExemptRepositoryPatterns = []string{"dev/*"} },
			event:     selfTemplateEvent(EventUpdateRepositoryCreationTemplate, "dev", Request{Mutability: Mutable, Tags: []Tag{devTag}}),
			template:  template("dev", Mutable, nil, devTag),
			wantKinds: nil,
		},
		{
			name:      "ecr-guard's own fix of a template whose exemption tag is not allowed echoes the tag: no rejection blamed on ecr-guard",
			rules:     func(r *Rules) { r.ExemptRepositoryPatterns = []string{"dev/team-*"} },
			event:     selfTemplateEvent(EventUpdateRepositoryCreationTemplate, "dev", Request{Mutability: Immutable, Tags: []Tag{devTag}}),
			template:  template("dev", Immutable, nil, devTag),
			wantKinds: nil,
		},
		{
			// Not an echo: the request is not what the template is. A call
			// with ecr-guard's role is checked like anyone's.
			name:      "ecr-guard's role setting a template MUTABLE and back: OBSERVED, and the own-role finding",
			event:     selfTemplateEvent(EventUpdateRepositoryCreationTemplate, "prod", Request{Mutability: Mutable}),
			template:  template("prod", Immutable, nil),
			wantKinds: []Kind{KindObserved, KindObserved}, wantAreas: []Area{AreaMutability, AreaOwnRole},
		},
		{
			name:     "only allowed exclusion filters: compliant",
			template: template("prod", ImmutableWithExclusion, []string{"latest", "dev-*"}),
		},
		{
			name:      "the template's lifecycle policy follows LIFECYCLE_MODE",
			template:  &Template{Prefix: "prod", Mutability: Immutable},
			wantKinds: []Kind{KindLifecycleRestored}, wantAreas: []Area{AreaLifecycle}, wantLifecycle: true,
		},
		{
			name:      "LIFECYCLE_MODE=off leaves the template's lifecycle policy alone",
			rules:     func(r *Rules) { r.LifecycleMode = LifecycleOff },
			template:  &Template{Prefix: "prod", Mutability: Immutable},
			wantKinds: nil,
		},
		{
			name:      "exempt: exemption resource tag and a prefix the patterns cover",
			rules:     func(r *Rules) { r.ExemptRepositoryPatterns = []string{"dev/*"} },
			event:     templateEvent(EventCreateRepositoryCreationTemplate, "dev", Request{Mutability: Mutable, Tags: []Tag{devTag}}),
			template:  template("dev", Mutable, nil, devTag),
			wantKinds: []Kind{KindExempt, KindExemptionGranted}, wantAreas: []Area{AreaMutability, AreaExemption},
			wantSummary: "set as the template's resource tag by",
		},
		{
			name:      "not exempt: the patterns cover only part of the prefix",
			rules:     func(r *Rules) { r.ExemptRepositoryPatterns = []string{"dev/team-*"} },
			event:     templateEvent(EventCreateRepositoryCreationTemplate, "dev", Request{Mutability: Mutable, Tags: []Tag{devTag}}),
			template:  template("dev", Mutable, nil, devTag),
			wantKinds: []Kind{KindRemediated, KindExemptionRejected}, wantAreas: []Area{AreaMutability, AreaExemption},
			wantSet: &MutabilitySetting{Mutability: Immutable}, wantSummary: "prefix is ROOT or not covered",
		},
		{
			name:      "an expired exemption does not count",
			template:  template("dev", Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2026-01-01"}),
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:      "ROOT is never exempt",
			rules:     func(r *Rules) { r.RootTemplateMode = RootTemplateEnsure },
			template:  template(RootPrefix, Mutable, nil, devTag),
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:      "dry run describes the fix",
			rules:     func(r *Rules) { r.DryRun = true },
			template:  &Template{Prefix: "prod", Mutability: Mutable},
			wantKinds: []Kind{KindWouldRemediate, KindWouldRestoreLifecycle}, wantAreas: []Area{AreaMutability, AreaLifecycle},
			wantSet: &MutabilitySetting{Mutability: Immutable}, wantLifecycle: true, wantDryRun: true,
		},
		{
			name:      "a deleted template is OBSERVED",
			event:     templateEvent(EventDeleteRepositoryCreationTemplate, "prod", Request{}),
			prefix:    "prod",
			wantKinds: []Kind{KindObserved}, wantAreas: []Area{AreaTemplate},
			wantSummary: "template prod deleted by arn:aws:sts::123456789012:assumed-role/developer/alice: repositories ECR creates under it now get a less specific template's settings",
		},
		{
			name:   "a template that is gone without a deletion event is nothing",
			event:  templateEvent(EventUpdateRepositoryCreationTemplate, "prod", Request{Mutability: Mutable}),
			prefix: "prod",
		},
		{
			name:      "ROOT_TEMPLATE=ensure creates a missing ROOT template",
			rules:     func(r *Rules) { r.RootTemplateMode = RootTemplateEnsure },
			prefix:    RootPrefix,
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable}, wantLifecycle: true, wantCreate: true,
			wantSummary: "created the ROOT template: IMMUTABLE, the baseline lifecycle policy, appliedFor REPLICATION, PULL_THROUGH_CACHE",
		},
		{
			name:      "ROOT_TEMPLATE=ensure recreates a deleted ROOT template",
			rules:     func(r *Rules) { r.RootTemplateMode = RootTemplateEnsure },
			event:     templateEvent(EventDeleteRepositoryCreationTemplate, RootPrefix, Request{}),
			prefix:    RootPrefix,
			wantKinds: []Kind{KindObserved, KindRemediated}, wantAreas: []Area{AreaTemplate, AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable}, wantLifecycle: true, wantCreate: true,
		},
		{
			name:      "ROOT_TEMPLATE=ensure in a dry run only says it would create it",
			rules:     func(r *Rules) { r.RootTemplateMode, r.DryRun = RootTemplateEnsure, true },
			prefix:    RootPrefix,
			wantKinds: []Kind{KindWouldRemediate}, wantAreas: []Area{AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable}, wantLifecycle: true, wantCreate: true, wantDryRun: true,
		},
		{
			name:      "ROOT_TEMPLATE=ensure adds the missing appliedFor values",
			rules:     func(r *Rules) { r.RootTemplateMode = RootTemplateEnsure },
			template:  &Template{Prefix: RootPrefix, AppliedFor: []string{AppliedForReplication}, Mutability: Immutable, Lifecycle: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy}},
			wantKinds: []Kind{KindRemediated}, wantAreas: []Area{AreaMutability}, wantAdd: []string{AppliedForPullThroughCache},
		},
		{
			name:      "ROOT_TEMPLATE=report reports a missing ROOT template",
			prefix:    RootPrefix,
			wantKinds: []Kind{KindObserved}, wantAreas: []Area{AreaTemplate}, wantDryRun: true,
			wantSummary: "there is no ROOT template",
		},
		{
			name:      "ROOT_TEMPLATE=report reports a deleted ROOT template once",
			event:     templateEvent(EventDeleteRepositoryCreationTemplate, RootPrefix, Request{}),
			prefix:    RootPrefix,
			wantKinds: []Kind{KindObserved}, wantAreas: []Area{AreaTemplate}, wantDryRun: true,
			wantSummary: "now get ECR's defaults (MUTABLE tags, no lifecycle policy)",
		},
		{
			name:      "ROOT_TEMPLATE=report never writes a non-compliant ROOT template",
			template:  template(RootPrefix, Mutable, nil),
			wantKinds: []Kind{KindWouldRemediate}, wantAreas: []Area{AreaMutability}, wantSet: &MutabilitySetting{Mutability: Immutable}, wantDryRun: true,
			wantSummary: "ROOT_TEMPLATE=report, so not changed: would set image tag mutability MUTABLE -> IMMUTABLE",
		},
		{
			name:        "ROOT_TEMPLATE=off ignores the ROOT template",
			rules:       func(r *Rules) { r.RootTemplateMode = RootTemplateOff },
			template:    template(RootPrefix, Mutable, nil),
			wantIgnored: true,
		},
		{
			name:     "ecr-guard's own compliant write is nothing",
			event:    &Event{Name: EventUpdateRepositoryCreationTemplate, Template: "prod", Request: Request{Mutability: Immutable}, Principal: Principal{IssuerARN: "arn:aws:iam::123456789012:role/ecr-guard"}},
			template: template("prod", Immutable, nil),
		},
		{
			name:      "a non-compliant change with ecr-guard's own role is suspicious",
			event:     &Event{Name: EventUpdateRepositoryCreationTemplate, Template: "prod", Request: Request{Mutability: Mutable}, Principal: Principal{IssuerARN: "arn:aws:iam::123456789012:role/ecr-guard"}},
			template:  template("prod", Mutable, nil),
			wantKinds: []Kind{KindRemediated, KindObserved}, wantAreas: []Area{AreaMutability, AreaOwnRole}, wantSet: &MutabilitySetting{Mutability: Immutable},
			wantSummary: "left the template non-compliant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules(t)
			rules.RootTemplateMode = RootTemplateReport
			rules.RootTemplateAppliedFor = []string{AppliedForReplication, AppliedForPullThroughCache}
			if tt.rules != nil {
				tt.rules(&rules)
			}
			prefix := tt.prefix
			if tt.template != nil {
				prefix = tt.template.Prefix
			}
			p := rules.DecideTemplate(TemplateInput{Event: tt.event, Template: tt.template, Prefix: prefix, Now: now})
			var kinds []Kind
			var areas []Area
			var summaries []string
			for _, f := range p.Findings {
				kinds, areas, summaries = append(kinds, f.Kind), append(areas, f.Area), append(summaries, f.Summary)
			}
			if !slices.Equal(kinds, tt.wantKinds) || !slices.Equal(areas, tt.wantAreas) {
				t.Errorf("findings %v %v, want %v %v: %q", kinds, areas, tt.wantKinds, tt.wantAreas, summaries)
			}
			if tt.wantSummary != "" && !slices.ContainsFunc(summaries, func(s string) bool { return strings.Contains(s, tt.wantSummary) }) {
				t.Errorf("no summary contains %q: %q", tt.wantSummary, summaries)
			}
			if got := p.SetMutability; (got == nil) != (tt.wantSet == nil) || (got != nil && (got.Mutability != tt.wantSet.Mutability || !slices.Equal(got.ExclusionFilters, tt.wantSet.ExclusionFilters))) {
				t.Errorf("SetMutability %+v, want %+v", got, tt.wantSet)
			}
			if p.PutLifecycle != tt.wantLifecycle || p.Create != tt.wantCreate || p.DryRun != tt.wantDryRun || p.Ignored != tt.wantIgnored || !slices.Equal(p.AddAppliedFor, tt.wantAdd) {
				t.Errorf("PutLifecycle %v Create %v DryRun %v Ignored %v AddAppliedFor %v, want %v %v %v %v %v",
					p.PutLifecycle, p.Create, p.DryRun, p.Ignored, p.AddAppliedFor, tt.wantLifecycle, tt.wantCreate, tt.wantDryRun, tt.wantIgnored, tt.wantAdd)
			}
			if p.Writes() != (tt.wantSet != nil || tt.wantLifecycle || tt.wantCreate || len(tt.wantAdd) > 0) {
				t.Errorf("Writes() = %v", p.Writes())
			}
		})
	}
}

func TestGlobCoversPrefix(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		want            bool
	}{
		{"dev/*", "dev", true},
		{"dev*", "dev", true},
		{"*", "anything", true},
		{"dev/**", "dev", true},
		{"d*v/*", "dev", true},
		{"team-*/*", "team-a", true},
		{"*-dev/*", "team-dev", true},
		{"*/*", "dev", true},
		{"dev/*", "devx", false},
		{"dev/*", "de", false},
		{"dev/a*", "dev", false}, // dev/b is not covered
		{"dev/*/x", "dev", false},
		{"dev/*x", "dev", false},
		{"dev/", "dev", false}, // only the empty rest, never a repository
		{"dev", "dev", false},
		{"prod/*", "dev", false},
		{"dev/*", "dev/", true},   // ECR's trailing "/" is the one it always applies
		{"*/*/*", "prod/", false}, // prod/app is not matched
	}
	suffixes := []string{"a", "b", "x", "app", "team-a/web", "dev", "z/y/x", "*", "-"}
	for _, tt := range tests {
		if got := GlobCoversPrefix(tt.pattern, tt.prefix); got != tt.want {
			t.Errorf("GlobCoversPrefix(%q, %q) = %v, want %v", tt.pattern, tt.prefix, got, tt.want)
		}
		// Covered means MatchGlob agrees for every name under the prefix;
		// not covered means some name under it is not matched.
		matchedAll := true
		for _, s := range suffixes {
			matchedAll = matchedAll && MatchGlob(tt.pattern, strings.TrimSuffix(tt.prefix, "/")+"/"+s)
		}
		if tt.want && !matchedAll {
			t.Errorf("%q covers %q but MatchGlob misses a name under it", tt.pattern, tt.prefix)
		}
		if !tt.want && matchedAll {
			t.Errorf("%q does not cover %q, yet matches every sample name: add a sample the pattern misses", tt.pattern, tt.prefix)
		}
	}
}

func FuzzGlobCoversPrefix(f *testing.F) {
	f.Add("dev/*", "dev", "app")
	f.Add("*-x*/*", "a-xb", "c")
	f.Fuzz(func(t *testing.T, pattern, prefix, rest string) {
		if GlobCoversPrefix(pattern, prefix) && rest != "" && !MatchGlob(pattern, prefix+"/"+rest) {
			t.Fatalf("%q covers %q but does not match %q", pattern, prefix, prefix+"/"+rest)
		}
	})
}

func TestShapingTemplate(t *testing.T) {
	templates := []Template{
		{Prefix: RootPrefix, AppliedFor: []string{AppliedForReplication, AppliedForPullThroughCache}},
		{Prefix: "docker-hub", AppliedFor: []string{AppliedForPullThroughCache}},
		{Prefix: "docker-hub/library", AppliedFor: []string{AppliedForPullThroughCache}},
		{Prefix: "prod", AppliedFor: []string{AppliedForReplication}},
		{Prefix: "stage/", AppliedFor: []string{AppliedForReplication}}, // ECR's trailing "/" allowed
	}
	tests := []struct {
		name, appliedFor, want string
	}{
		{"docker-hub/library/nginx", AppliedForPullThroughCache, "docker-hub/library"},
		{"docker-hub/bitnami/redis", AppliedForPullThroughCache, "docker-hub"},
		{"docker-hubx/redis", AppliedForPullThroughCache, RootPrefix},
		{"prod/app", AppliedForReplication, "prod"},
		{"prod/app", AppliedForPullThroughCache, RootPrefix},
		{"prod/app", AppliedForCreateOnPush, ""},
		{"prod/app", "", "prod"}, // how ECR created it is unknown: any template
		{"other/app", "", RootPrefix},
		{"stage/app", AppliedForReplication, "stage/"},
	}
	for _, tt := range tests {
		got, ok := ShapingTemplate(templates, tt.name, tt.appliedFor)
		if ok != (tt.want != "") || got.Prefix != tt.want {
			t.Errorf("ShapingTemplate(%q, %s) = %q %v, want %q", tt.name, tt.appliedFor, got.Prefix, ok, tt.want)
		}
	}
}

func TestParseRootTemplateSettings(t *testing.T) {
	for _, s := range []string{"report", "ensure", "off"} {
		if _, err := ParseRootTemplateMode(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "Ensure", "on"} {
		if _, err := ParseRootTemplateMode(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if err := ParseAppliedFor([]string{AppliedForReplication, AppliedForCreateOnPush}); err != nil {
		t.Error(err)
	}
	for _, v := range [][]string{nil, {"replication"}, {AppliedForReplication, "X"}} {
		if ParseAppliedFor(v) == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestServiceCreation(t *testing.T) {
	service := Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}
	tests := []struct {
		event      Event
		appliedFor string
		ok         bool
	}{
		{Event{Name: EventPullThroughCacheAction, Principal: service}, AppliedForPullThroughCache, true},
		{Event{Name: EventReplicationAction, Principal: service}, AppliedForReplication, true},
		{Event{Name: EventCreateRepository, Principal: service}, "", true},
		{Event{Name: EventCreateRepository, Principal: Principal{Type: "AssumedRole"}}, "", false},
		{Event{Name: EventPutImageTagMutability, Principal: service}, "", false},
	}
	for _, tt := range tests {
		if a, ok := ServiceCreation(tt.event); a != tt.appliedFor || ok != tt.ok {
			t.Errorf("%s by %s: %q %v, want %q %v", tt.event.Name, tt.event.Principal.Type, a, ok, tt.appliedFor, tt.ok)
		}
	}
}

// Two reads of one template agree whatever order ECR lists its filters,
// tags and appliedFor in; a changed member is a change.
func TestSameForTheRules(t *testing.T) {
	a := Template{Prefix: "prod", Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest", "dev-*"},
		AppliedFor: []string{AppliedForReplication, AppliedForPullThroughCache}, ResourceTags: []Tag{devTag, {Key: "team", Value: "a"}}}
	b := a
	b.ExclusionFilters = []string{"dev-*", "latest"}
	b.AppliedFor = []string{AppliedForPullThroughCache, AppliedForReplication}
	b.ResourceTags = []Tag{{Key: "team", Value: "a"}, devTag}
	if !a.SameForTheRules(b) {
		t.Error("the same template, listed in another order, counts as changed")
	}
	c := b
	c.ResourceTags = []Tag{{Key: "team", Value: "a"}}
	if a.SameForTheRules(c) {
		t.Error("a template that lost a tag counts as unchanged")
	}
}
