package guard

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func testRules(t *testing.T) Rules {
	t.Helper()
	baseline, err := ParseLifecyclePolicy(DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	return Rules{
		ExemptTags:               []TagMatcher{{Key: "environment", Value: "dev"}, {Key: "sandbox", AnyValue: true}},
		ExemptionExpiresTag:      "exemption-expires",
		AllowedMutableTagFilters: []string{"latest", "dev-*"},
		Baseline:                 baseline,
		LifecycleMode:            LifecycleEnforce,
		SelfRoleARNs:             []string{"arn:aws:iam::123456789012:role/ecr-guard", "arn:aws:iam::123456789012:role/ecr-guard-sweep"},
	}
}

func repo(mutability string, filters []string, tags ...Tag) Repository {
	return Repository{
		Name: "team-a/web", ARN: "arn:aws:ecr:us-east-1:123456789012:repository/team-a/web", RegistryID: "123456789012",
		Mutability: mutability, ExclusionFilters: filters, Tags: tags,
		Lifecycle: Lifecycle{Exists: true, Text: DefaultLifecyclePolicy},
	}
}

func withLifecycle(r Repository, lc Lifecycle) Repository { r.Lifecycle = lc; return r }

func event(name string, req Request) *Event {
	return &Event{Name: name, Repository: "team-a/web", Request: req, Principal: Principal{IssuerARN: "arn:aws:iam::123456789012:role/developer"}}
}

var devTag = Tag{Key: "environment", Value: "dev"}

const weakPolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1000},"action":{"type":"expire"}}]}`

func TestDecide(t *testing.T) {
	tests := []struct {
		name          string
		rules         func(*Rules)
		event         *Event
		checks        *Checks // default: ChecksFor(event.Name), or both for the sweep
		repo          Repository
		wantKinds     []Kind
		wantSet       *MutabilitySetting
		wantLifecycle bool
		wantExemption ExemptionStatus
	}{
		{
			name:  "immutable repository is compliant",
			event: event(EventPutImageTagMutability, Request{Mutability: Immutable}),
			repo:  repo(Immutable, nil),
		},
		{
			name:      "mutable repository is reverted to IMMUTABLE",
			event:     event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:      repo(Mutable, nil),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:      "MUTABLE_WITH_EXCLUSION is reverted to IMMUTABLE when no allowed filter remains",
			event:     event(EventPutImageTagMutability, Request{Mutability: MutableWithExclusion, ExclusionFilters: []string{"release-*"}}),
			repo:      repo(MutableWithExclusion, []string{"release-*"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			// Its filters name the tags that were immutable: keeping them as
			// exclusions would make exactly those tags mutable.
			name:      "MUTABLE_WITH_EXCLUSION becomes IMMUTABLE even when its filters are allowlisted",
			event:     event(EventPutImageTagMutability, Request{Mutability: MutableWithExclusion, ExclusionFilters: []string{"latest"}}),
			repo:      repo(MutableWithExclusion, []string{"latest"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:  "IMMUTABLE_WITH_EXCLUSION with only allowed filters is compliant",
			event: event(EventPutImageTagMutability, Request{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest", "dev-*"}}),
			repo:  repo(ImmutableWithExclusion, []string{"latest", "dev-*"}),
		},
		{
			name:      "IMMUTABLE_WITH_EXCLUSION drops the filters that are not allowed",
			event:     event(EventPutImageTagMutability, Request{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest", "v*"}}),
			repo:      repo(ImmutableWithExclusion, []string{"latest", "v*"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest"}},
		},
		{
			name:      "IMMUTABLE_WITH_EXCLUSION with no allowed filter becomes IMMUTABLE",
			rules:     func(r *Rules) { r.AllowedMutableTagFilters = nil },
			event:     event(EventPutImageTagMutability, Request{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"latest"}}),
			repo:      repo(ImmutableWithExclusion, []string{"latest"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:      "dry run reports WOULD_REMEDIATE",
			rules:     func(r *Rules) { r.DryRun = true },
			event:     event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:      repo(Mutable, nil),
			wantKinds: []Kind{KindWouldRemediate},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:          "exempt repository created mutable gets an EXEMPT notice, the grant at creation and no write",
			event:         event(EventCreateRepository, Request{Mutability: Mutable, Tags: []Tag{devTag}}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindExempt, KindExemptionGranted},
			wantExemption: ExemptionActive,
		},
		{
			name:          "exemption tag key and value compare case-insensitively",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, Tag{Key: "Environment", Value: "DEV"}),
			wantKinds:     []Kind{KindExempt},
			wantExemption: ExemptionActive,
		},
		{
			name:          "key=* exempts any value",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, Tag{Key: "sandbox", Value: "whatever"}),
			wantKinds:     []Kind{KindExempt},
			wantExemption: ExemptionActive,
		},
		{
			name:      "a tag with the exempt key but another value does not exempt",
			event:     event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:      repo(Mutable, nil, Tag{Key: "environment", Value: "prod"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:          "still-exempt repository after an untag needs nothing",
			event:         event(EventUntagResource, Request{TagKeys: []string{"owner"}}),
			repo:          repo(Mutable, nil, devTag),
			wantExemption: ExemptionActive,
		},
		{
			name:          "untagging the exemption reverts the repository",
			event:         event(EventUntagResource, Request{TagKeys: []string{"environment"}}),
			repo:          repo(Mutable, nil),
			wantKinds:     []Kind{KindRemediated},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionNone,
		},
		{
			name:          "name outside EXEMPT_REPOSITORY_PATTERNS is not exempt",
			rules:         func(r *Rules) { r.ExemptRepositoryPatterns = []string{"sandbox/*", "*-dev"} },
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindRemediated},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionNameNotAllowed,
		},
		{
			name:          "name inside EXEMPT_REPOSITORY_PATTERNS is exempt",
			rules:         func(r *Rules) { r.ExemptRepositoryPatterns = []string{"sandbox/*", "team-a/*"} },
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindExempt},
			wantExemption: ExemptionActive,
		},
		{
			name:          "expired exemption is not an exemption",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2026-11-26"}),
			wantKinds:     []Kind{KindRemediated},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionExpired,
		},
		{
			name:          "exemption expiring today still holds",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2026-11-27"}),
			wantKinds:     []Kind{KindExempt},
			wantExemption: ExemptionActive,
		},
		{
			name:          "unparseable expiry is not an exemption",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "next year"}),
			wantKinds:     []Kind{KindRemediated},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionInvalidExpiry,
		},
		{
			name:      "compliant again after a MUTABLE change: OBSERVED",
			event:     event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:      "compliant again after a disallowed exclusion: OBSERVED",
			event:     event(EventPutImageTagMutability, Request{Mutability: ImmutableWithExclusion, ExclusionFilters: []string{"v*"}}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:      "CreateRepository without a mutability defaults to MUTABLE: OBSERVED when already immutable",
			event:     event(EventCreateRepository, Request{}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:          "exempt repository set MUTABLE and back before the event is handled: EXEMPT all the same",
			event:         event(EventPutImageTagMutability, Request{Mutability: Mutable}),
			repo:          repo(Immutable, nil, devTag),
			wantKinds:     []Kind{KindExempt},
			wantExemption: ExemptionActive,
		},
		{
			name:          "exempt and compliant, an event that asked for nothing non-compliant: nothing",
			event:         event(EventPutImageTagMutability, Request{Mutability: Immutable}),
			repo:          repo(Immutable, nil, devTag),
			wantKinds:     nil,
			wantExemption: ExemptionActive,
		},
		{
			name:          "untagging an expiry key the repository lacks (keys are case-sensitive): the exemption still expires, nothing granted",
			event:         event(EventUntagResource, Request{TagKeys: []string{"EXEMPTION-EXPIRES"}}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2099-12-31"}),
			wantKinds:     nil,
			wantExemption: ExemptionActive,
		},
		{
			name:      "untagging the exemption of an already immutable repository: OBSERVED",
			event:     event(EventUntagResource, Request{TagKeys: []string{"Environment"}}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:          "renewing an expired exemption with a new expiry date: EXEMPTION_GRANTED",
			event:         event(EventTagResource, Request{Tags: []Tag{{Key: "exemption-expires", Value: "2099-12-31"}}}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2099-12-31"}),
			wantKinds:     []Kind{KindExemptionGranted},
			wantExemption: ExemptionActive,
		},
		{
			name:          "removing the expiry date of an exemption: EXEMPTION_GRANTED (it no longer expires)",
			event:         event(EventUntagResource, Request{TagKeys: []string{"Exemption-Expires"}}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindExemptionGranted},
			wantExemption: ExemptionActive,
		},
		{
			name:  "an expiry date on a repository without exemption tag grants nothing",
			event: event(EventTagResource, Request{Tags: []Tag{{Key: "exemption-expires", Value: "2099-12-31"}}}),
			repo:  repo(Immutable, nil, Tag{Key: "exemption-expires", Value: "2099-12-31"}),
		},
		{
			name:  "untagging another tag of an immutable repository needs nothing",
			event: event(EventUntagResource, Request{TagKeys: []string{"owner"}}),
			repo:  repo(Immutable, nil),
		},
		{
			name:  "a new repository whose baseline policy is already in place needs nothing",
			event: event(EventCreateRepository, Request{Mutability: Immutable}),
			repo:  repo(Immutable, nil),
		},
		{
			name:          "lifecycle: missing policy on a new repository is restored",
			event:         event(EventCreateRepository, Request{Mutability: Immutable}),
			repo:          withLifecycle(repo(Immutable, nil), Lifecycle{}),
			wantKinds:     []Kind{KindLifecycleRestored},
			wantLifecycle: true,
		},
		{
			name:          "new mutable repository without policy: both actions in one plan",
			event:         event(EventCreateRepository, Request{Mutability: Mutable}),
			repo:          withLifecycle(repo(Mutable, nil), Lifecycle{}),
			wantKinds:     []Kind{KindRemediated, KindLifecycleRestored},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantLifecycle: true,
		},
		{
			name:          "lifecycle enforce: a different policy is replaced",
			event:         event(EventPutLifecyclePolicy, Request{LifecyclePolicy: weakPolicy}),
			repo:          withLifecycle(repo(Mutable, nil), Lifecycle{Exists: true, Text: weakPolicy}),
			wantKinds:     []Kind{KindLifecycleRestored},
			wantLifecycle: true,
		},
		{
			name:  "lifecycle enforce: the same policy written differently is equal",
			event: event(EventPutLifecyclePolicy, Request{LifecyclePolicy: DefaultLifecyclePolicy}),
			repo: withLifecycle(repo(Immutable, nil), Lifecycle{Exists: true, Text: `{ "rules": [
				{"action":{"type":"expire"},"rulePriority":2.0,"description":"Keep only the 30 most recent images","selection":{"countNumber":30,"countType":"imageCountMoreThan","tagStatus":"any"}},
				{"rulePriority":1,"description":"Expire untagged images 7 days after push","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}`}),
		},
		{
			name:  "lifecycle missing mode: a different policy is left alone",
			rules: func(r *Rules) { r.LifecycleMode = LifecycleMissing },
			event: event(EventPutLifecyclePolicy, Request{LifecyclePolicy: weakPolicy}),
			repo:  withLifecycle(repo(Immutable, nil), Lifecycle{Exists: true, Text: weakPolicy}),
		},
		{
			name:          "lifecycle missing mode: a missing policy is restored",
			rules:         func(r *Rules) { r.LifecycleMode = LifecycleMissing },
			event:         event(EventDeleteLifecyclePolicy, Request{}),
			repo:          withLifecycle(repo(Immutable, nil), Lifecycle{}),
			wantKinds:     []Kind{KindLifecycleRestored},
			wantLifecycle: true,
		},
		{
			name:  "lifecycle off: nothing, even after a delete",
			rules: func(r *Rules) { r.LifecycleMode = LifecycleOff },
			event: event(EventDeleteLifecyclePolicy, Request{}),
			repo:  withLifecycle(repo(Immutable, nil), Lifecycle{}),
		},
		{
			name:      "lifecycle: deleted but already restored is OBSERVED",
			event:     event(EventDeleteLifecyclePolicy, Request{}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:      "lifecycle: weakened but already restored is OBSERVED",
			event:     event(EventPutLifecyclePolicy, Request{LifecyclePolicy: weakPolicy}),
			repo:      repo(Immutable, nil),
			wantKinds: []Kind{KindObserved},
		},
		{
			name:  "lifecycle missing mode: a replaced policy is not an observation",
			rules: func(r *Rules) { r.LifecycleMode = LifecycleMissing },
			event: event(EventPutLifecyclePolicy, Request{LifecyclePolicy: weakPolicy}),
			repo:  repo(Immutable, nil),
		},
		{
			name:          "lifecycle applies to exempt repositories too",
			event:         event(EventDeleteLifecyclePolicy, Request{}),
			repo:          withLifecycle(repo(Mutable, nil, devTag), Lifecycle{}),
			wantKinds:     []Kind{KindLifecycleRestored},
			wantLifecycle: true,
			wantExemption: ExemptionActive,
		},
		{
			name:          "lifecycle dry run reports WOULD_RESTORE_LIFECYCLE",
			rules:         func(r *Rules) { r.DryRun = true },
			event:         event(EventDeleteLifecyclePolicy, Request{}),
			repo:          withLifecycle(repo(Immutable, nil), Lifecycle{}),
			wantKinds:     []Kind{KindWouldRestoreLifecycle},
			wantLifecycle: true,
		},
		{
			name:          "TagResource adding the exemption: EXEMPTION_GRANTED, no write",
			event:         event(EventTagResource, Request{Tags: []Tag{devTag}}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindExemptionGranted},
			wantExemption: ExemptionActive,
		},
		{
			name:          "TagResource adding the exemption to an immutable repository: EXEMPTION_GRANTED",
			event:         event(EventTagResource, Request{Tags: []Tag{devTag}}),
			repo:          repo(Immutable, nil, devTag),
			wantKinds:     []Kind{KindExemptionGranted},
			wantExemption: ExemptionActive,
		},
		{
			name:      "TagResource adding another tag to a mutable repository reverts it",
			event:     event(EventTagResource, Request{Tags: []Tag{{Key: "owner", Value: "team-a"}}}),
			repo:      repo(Mutable, nil, Tag{Key: "owner", Value: "team-a"}),
			wantKinds: []Kind{KindRemediated},
			wantSet:   &MutabilitySetting{Mutability: Immutable},
		},
		{
			name:          "TagResource adding the exemption tag outside the patterns: EXEMPTION_REJECTED and reverted",
			rules:         func(r *Rules) { r.ExemptRepositoryPatterns = []string{"sandbox/*"} },
			event:         event(EventTagResource, Request{Tags: []Tag{devTag}}),
			repo:          repo(Mutable, nil, devTag),
			wantKinds:     []Kind{KindRemediated, KindExemptionRejected},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionNameNotAllowed,
		},
		{
			name:          "TagResource adding the exemption tag outside the patterns to an immutable repository: EXEMPTION_REJECTED",
			rules:         func(r *Rules) { r.ExemptRepositoryPatterns = []string{"sandbox/*"} },
			event:         event(EventTagResource, Request{Tags: []Tag{devTag}}),
			repo:          repo(Immutable, nil, devTag),
			wantKinds:     []Kind{KindExemptionRejected},
			wantExemption: ExemptionNameNotAllowed,
		},
		{
			name:          "TagResource with an already expired exemption grants nothing",
			event:         event(EventTagResource, Request{Tags: []Tag{devTag, {Key: "exemption-expires", Value: "2020-01-01"}}}),
			repo:          repo(Mutable, nil, devTag, Tag{Key: "exemption-expires", Value: "2020-01-01"}),
			wantKinds:     []Kind{KindRemediated},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantExemption: ExemptionExpired,
		},
		{
			name:          "sweep (no event): mutable repository without policy",
			repo:          withLifecycle(repo(Mutable, nil), Lifecycle{}),
			wantKinds:     []Kind{KindRemediated, KindLifecycleRestored},
			wantSet:       &MutabilitySetting{Mutability: Immutable},
			wantLifecycle: true,
		},
		{
			name:          "sweep (no event): exempt mutable repository needs nothing, and nothing is observed",
			repo:          repo(Mutable, nil, devTag),
			wantExemption: ExemptionActive,
		},
		{
			name: "sweep (no event): compliant repository needs nothing",
			repo: repo(Immutable, nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules(t)
			if tt.rules != nil {
				tt.rules(&rules)
			}
			checks := Checks{Mutability: true, Lifecycle: true}
			if tt.event != nil {
				checks = ChecksFor(tt.event.Name)
			}
			if tt.checks != nil {
				checks = *tt.checks
			}
			p := rules.Decide(Input{Event: tt.event, Checks: checks, Repo: tt.repo, Now: now})

			var kinds []Kind
			for _, f := range p.Findings {
				kinds = append(kinds, f.Kind)
				if f.Summary == "" {
					t.Errorf("finding %s has no summary", f.Kind)
				}
			}
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Errorf("kinds = %v, want %v (findings %+v)", kinds, tt.wantKinds, p.Findings)
			}
			if !equalSetting(p.SetMutability, tt.wantSet) {
				t.Errorf("SetMutability = %+v, want %+v", p.SetMutability, tt.wantSet)
			}
			if p.PutLifecycle != tt.wantLifecycle {
				t.Errorf("PutLifecycle = %v, want %v", p.PutLifecycle, tt.wantLifecycle)
			}
			wantExemption := tt.wantExemption
			if wantExemption == "" {
				wantExemption = ExemptionNone
			}
			if p.Exemption.Status != wantExemption {
				t.Errorf("exemption = %s, want %s", p.Exemption.Status, wantExemption)
			}
			if p.DryRun != rules.DryRun {
				t.Errorf("DryRun = %v, want %v", p.DryRun, rules.DryRun)
			}
		})
	}
}

func equalSetting(a, b *MutabilitySetting) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Mutability == b.Mutability && slices.Equal(a.ExclusionFilters, b.ExclusionFilters)
}

func TestPlanKindAndSeverity(t *testing.T) {
	tests := []struct {
		name     string
		findings []Finding
		kind     Kind
		severity string
	}{
		{"nothing", nil, "", "NONE"},
		{"lifecycle only", []Finding{{Kind: KindLifecycleRestored, Area: AreaLifecycle}}, KindLifecycleRestored, "LOW"},
		{"lifecycle observed is low", []Finding{{Kind: KindObserved, Area: AreaLifecycle}}, KindObserved, "LOW"},
		{"mutability observed is high", []Finding{{Kind: KindObserved, Area: AreaMutability}}, KindObserved, "HIGH"},
		{"remediation outranks lifecycle", []Finding{{Kind: KindLifecycleRestored, Area: AreaLifecycle}, {Kind: KindRemediated, Area: AreaMutability}}, KindRemediated, "HIGH"},
		{"would remediate is high", []Finding{{Kind: KindWouldRestoreLifecycle, Area: AreaLifecycle}, {Kind: KindWouldRemediate, Area: AreaMutability}}, KindWouldRemediate, "HIGH"},
		{"exempt is medium", []Finding{{Kind: KindExempt, Area: AreaMutability}, {Kind: KindLifecycleRestored, Area: AreaLifecycle}}, KindExempt, "MEDIUM"},
		{"exemption granted is medium", []Finding{{Kind: KindExemptionGranted, Area: AreaExemption}}, KindExemptionGranted, "MEDIUM"},
		{"an exemption removal observed is medium", []Finding{{Kind: KindObserved, Area: AreaExemption}}, KindObserved, "MEDIUM"},
		{"exemption rejected is high", []Finding{{Kind: KindExemptionRejected, Area: AreaExemption}}, KindExemptionRejected, "HIGH"},
		{"failure outranks everything", []Finding{{Kind: KindRemediated, Area: AreaMutability}, {Kind: KindFailed, Area: AreaLifecycle}}, KindFailed, "CRITICAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan{Findings: tt.findings}
			if p.Kind() != tt.kind || p.Severity().String() != tt.severity {
				t.Errorf("got %s/%s, want %s/%s", p.Kind(), p.Severity(), tt.kind, tt.severity)
			}
		})
	}
}

func TestPlanFailReplacesTheFindingOfItsArea(t *testing.T) {
	p := Plan{Findings: []Finding{
		{Kind: KindRemediated, Area: AreaMutability, Summary: "set"},
		{Kind: KindLifecycleRestored, Area: AreaLifecycle, Summary: "put"},
	}}
	p.Fail(AreaLifecycle, "could not apply: AccessDenied")
	if p.Findings[1].Kind != KindFailed || !strings.Contains(p.Findings[1].Summary, "AccessDenied") || len(p.Findings) != 2 {
		t.Fatalf("findings = %+v", p.Findings)
	}
	if p.Kind() != KindFailed {
		t.Fatalf("kind = %s", p.Kind())
	}
	var empty Plan
	empty.Fail(AreaMutability, "could not read")
	if len(empty.Findings) != 1 || empty.Kind() != KindFailed {
		t.Fatalf("findings = %+v", empty.Findings)
	}
}

func TestPlanAfter(t *testing.T) {
	rules := testRules(t)
	before := withLifecycle(repo(Mutable, nil), Lifecycle{})
	p := rules.Decide(Input{Checks: Checks{Mutability: true, Lifecycle: true}, Repo: before, Now: now})
	after := p.After(before)
	if after.Mutability != Immutable || !after.Lifecycle.Exists || !rules.Baseline.Equal(after.Lifecycle.Text) {
		t.Fatalf("after = %+v", after)
	}
	rules.DryRun = true
	p = rules.Decide(Input{Checks: Checks{Mutability: true, Lifecycle: true}, Repo: before, Now: now})
	if after := p.After(before); after.Mutability != Mutable || after.Lifecycle.Exists {
		t.Fatalf("dry-run after = %+v, want unchanged", after)
	}
}

func TestFailedWritesAreNotInTheAfterState(t *testing.T) {
	rules := testRules(t)
	before := withLifecycle(repo(Mutable, nil), Lifecycle{})
	p := rules.Decide(Input{Checks: Checks{Mutability: true, Lifecycle: true}, Repo: before, Now: now})
	p.Fail(AreaMutability, "AccessDenied")
	after := p.After(before)
	if after.Mutability != Mutable || !after.Lifecycle.Exists {
		t.Fatalf("after = %+v, want still MUTABLE with the baseline applied", after)
	}
	if !p.MutableWindow() {
		t.Fatal("a failed revert leaves the window open: images pushed must be listed")
	}
	var readFailure Plan
	readFailure.Fail(AreaMutability, "could not read")
	if readFailure.MutableWindow() {
		t.Fatal("a read failure says nothing about mutability")
	}
}

func TestIsSelf(t *testing.T) {
	rules := testRules(t)
	for _, role := range rules.SelfRoleARNs {
		if !rules.IsSelf(Event{Principal: Principal{IssuerARN: role}}) {
			t.Errorf("%s is one of ecr-guard's roles", role)
		}
	}
	for _, role := range []string{"arn:aws:iam::123456789012:role/developer", "arn:aws:iam::123456789012:role/ecr-guard-sweep-2", "arn:aws:iam::123456789012:role/ecr-guar", ""} {
		if rules.IsSelf(Event{Principal: Principal{IssuerARN: role}}) {
			t.Errorf("%q is not one of ecr-guard's roles", role)
		}
	}
	rules.MemberRoleName = "ecr-guard-member"
	for issuer, self := range map[string]bool{
		"arn:aws:iam::222222222222:role/ecr-guard-member":         true,
		"arn:aws-cn:iam::333333333333:role/ecr-guard-member":      true,
		"arn:aws:iam::222222222222:role/ecr-guard-member-2":       false,
		"arn:aws:iam::222222222222:role/x/ecr-guard-member":       false,
		"arn:aws:iam::222222222222:user/ecr-guard-member":         false,
		"arn:aws:sts::222222222222:assumed-role/ecr-guard-member": false,
	} {
		if rules.IsSelf(Event{Principal: Principal{IssuerARN: issuer}}) != self {
			t.Errorf("IsSelf(%s) = %v", issuer, !self)
		}
	}
	rules.MemberRoleName = ""
	rules.SelfRoleARNs = nil
	if rules.IsSelf(Event{}) {
		t.Fatal("an unset SELF_ROLE_ARN must match nothing")
	}
}

func TestChecksFor(t *testing.T) {
	want := map[string]Checks{
		EventCreateRepository:      {Mutability: true, Lifecycle: true},
		EventPutImageTagMutability: {Mutability: true},
		EventPutLifecyclePolicy:    {Lifecycle: true},
		EventDeleteLifecyclePolicy: {Lifecycle: true},
		EventTagResource:           {Mutability: true},
		EventUntagResource:         {Mutability: true},
		"DeleteRepository":         {},
	}
	for name, c := range want {
		if got := ChecksFor(name); got != c {
			t.Errorf("ChecksFor(%s) = %+v, want %+v", name, got, c)
		}
	}
	for _, name := range HandledEventNames {
		if ChecksFor(name) == (Checks{}) {
			t.Errorf("handled event %s triggers no rule", name)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything/at/all", true},
		{"team-a/*", "team-a/web", true},
		{"team-a/*", "team-a/nested/web", true},
		{"team-a/*", "team-b/web", false},
		{"*-dev", "web-dev", true},
		{"*-dev", "web-dev-2", false},
		{"sandbox", "sandbox", true},
		{"sandbox", "sandbox2", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// LIFECYCLE_MODE=missing: a policy deleted, and another put right after,
// is OBSERVED as the policy that is there, never as the baseline.
func TestMissingModeSaysWhichPolicyIsBack(t *testing.T) {
	r := testRules(t)
	r.LifecycleMode = LifecycleMissing
	for _, tc := range []struct {
		live Lifecycle
		want string
	}{
		{Lifecycle{Exists: true, Text: weakPolicy}, "a lifecycle policy (other) is in place again"},
		{Lifecycle{Exists: true, Text: DefaultLifecyclePolicy}, "the baseline policy is in place again"},
	} {
		p := r.Decide(Input{Event: event(EventDeleteLifecyclePolicy, Request{}), Checks: ChecksFor(EventDeleteLifecyclePolicy), Repo: withLifecycle(repo(Immutable, nil), tc.live), Now: now})
		if len(p.Findings) != 1 || p.Findings[0].Kind != KindObserved || !strings.HasSuffix(p.Findings[0].Summary, tc.want) {
			t.Errorf("live %.40q: findings %+v, want one OBSERVED ending %q", tc.live.Text, p.Findings, tc.want)
		}
	}
}
