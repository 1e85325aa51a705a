package guard

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// What a triggering event may and may not make ecr-guard say: calls made
// with its own role, events about an earlier repository of the same name,
// exemptions given at creation.

func selfEvent(t *testing.T, name string, req Request) *Event {
	e := event(name, req)
	e.Principal = Principal{Type: "AssumedRole", ARN: "arn:aws:sts::123456789012:assumed-role/ecr-guard-sweep/ecr-guard-sweep", IssuerARN: testRules(t).SelfRoleARNs[1]}
	return e
}

func kinds(p Plan) []Kind {
	var out []Kind
	for _, f := range p.Findings {
		out = append(out, f.Kind)
	}
	return out
}

func TestOwnRoleCallsAreChecked(t *testing.T) {
	rules := testRules(t)
	now := time.Date(2025, 6, 10, 15, 0, 0, 0, time.UTC)
	mutability := Checks{Mutability: true}
	tests := []struct {
		name         string
		event        *Event
		repo         Repository
		checks       Checks
		wantKinds    []Kind
		wantSeverity Severity
		wantWrite    bool
	}{
		{name: "ecr-guard's own revert, seen compliant: nothing to say",
			event: selfEvent(t, EventPutImageTagMutability, Request{Mutability: Immutable}), repo: repo(Immutable, nil), checks: mutability},
		{name: "ecr-guard's own baseline, seen in place: nothing to say",
			event: selfEvent(t, EventPutLifecyclePolicy, Request{LifecyclePolicy: DefaultLifecyclePolicy}), repo: repo(Immutable, nil), checks: Checks{Lifecycle: true}},
		{name: "own role made the repository mutable: fixed, and the role's use is reported",
			event: selfEvent(t, EventPutImageTagMutability, Request{Mutability: Mutable}), repo: repo(Mutable, nil), checks: mutability,
			wantKinds: []Kind{KindRemediated, KindObserved}, wantSeverity: SeverityHigh, wantWrite: true},
		{name: "own role deleted the lifecycle policy: restored, and HIGH because of the role",
			event: selfEvent(t, EventDeleteLifecyclePolicy, Request{}), repo: withLifecycle(repo(Immutable, nil), Lifecycle{}), checks: Checks{Lifecycle: true},
			wantKinds: []Kind{KindLifecycleRestored, KindObserved}, wantSeverity: SeverityHigh, wantWrite: true},
		{name: "own role flipped it mutable and back: the window is reported with the role",
			event: selfEvent(t, EventPutImageTagMutability, Request{Mutability: Mutable}), repo: repo(Immutable, nil), checks: mutability,
			wantKinds: []Kind{KindObserved, KindObserved}, wantSeverity: SeverityHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !rules.IsSelf(*tt.event) {
				t.Fatal("the test event must be an own call")
			}
			p := rules.Decide(Input{Event: tt.event, Checks: tt.checks, Repo: tt.repo, Now: now})
			if !slices.Equal(kinds(p), tt.wantKinds) || p.Severity() != tt.wantSeverity {
				t.Fatalf("kinds %v severity %v, want %v %v: %+v", kinds(p), p.Severity(), tt.wantKinds, tt.wantSeverity, p.Findings)
			}
			if wrote := p.SetMutability != nil || p.PutLifecycle; wrote != tt.wantWrite {
				t.Fatalf("writes %v, want %v", wrote, tt.wantWrite)
			}
			for _, f := range p.Findings {
				if f.Area == AreaOwnRole && (f.Severity() != SeverityHigh || !strings.Contains(f.Summary, tt.event.Principal.IssuerARN)) {
					t.Fatalf("own-role finding %+v", f)
				}
			}
		})
	}
}

func TestEventOlderThanTheRepositoryIsAboutAnotherRepository(t *testing.T) {
	rules := testRules(t)
	created := time.Date(2025, 6, 10, 14, 30, 0, 600_000_000, time.UTC)
	now := created.Add(time.Hour)
	at := func(e *Event, when time.Time) *Event { e.Time = when; return e }
	withCreated := func(r Repository) Repository { r.CreatedAt = created; return r }
	mutable := func() *Event { return event(EventPutImageTagMutability, Request{Mutability: Mutable}) }
	tests := []struct {
		name      string
		event     *Event
		repo      Repository
		checks    Checks
		wantStale bool
		wantKinds []Kind
	}{
		{name: "old MUTABLE event, the new repository is IMMUTABLE: nothing to report",
			event: at(mutable(), created.Add(-time.Hour)), repo: withCreated(repo(Immutable, nil)), checks: Checks{Mutability: true},
			wantStale: true},
		{name: "old MUTABLE event, the new repository is MUTABLE: fixed, as found",
			event: at(mutable(), created.Add(-time.Hour)), repo: withCreated(repo(Mutable, nil)), checks: Checks{Mutability: true},
			wantStale: true, wantKinds: []Kind{KindRemediated}},
		{name: "old DeleteLifecyclePolicy, baseline in place: no OBSERVED",
			event: at(event(EventDeleteLifecyclePolicy, Request{}), created.Add(-time.Minute)), repo: withCreated(repo(Immutable, nil)), checks: Checks{Lifecycle: true},
			wantStale: true},
		{name: "old TagResource adding the exemption tag: no grant about this repository",
			event: at(event(EventTagResource, Request{Tags: []Tag{devTag}}), created.Add(-time.Minute)), repo: withCreated(repo(Mutable, nil, devTag)), checks: Checks{Mutability: true},
			wantStale: true},
		{name: "the event of the same second as the creation is about this repository",
			event: at(event(EventCreateRepository, Request{}), created.Truncate(time.Second)), repo: withCreated(repo(Immutable, nil)), checks: Checks{Mutability: true, Lifecycle: true},
			wantKinds: []Kind{KindObserved}},
		{name: "a later event is about this repository",
			event: at(mutable(), created.Add(time.Minute)), repo: withCreated(repo(Immutable, nil)), checks: Checks{Mutability: true},
			wantKinds: []Kind{KindObserved}},
		{name: "creation time unknown: the event counts",
			event: at(mutable(), created.Add(-time.Hour)), repo: repo(Immutable, nil), checks: Checks{Mutability: true},
			wantKinds: []Kind{KindObserved}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rules.Decide(Input{Event: tt.event, Checks: tt.checks, Repo: tt.repo, Now: now})
			if p.Stale != tt.wantStale || !slices.Equal(kinds(p), tt.wantKinds) {
				t.Fatalf("stale %v kinds %v, want %v %v: %+v", p.Stale, kinds(p), tt.wantStale, tt.wantKinds, p.Findings)
			}
		})
	}
}

func TestExemptionGivenAtCreation(t *testing.T) {
	now := time.Date(2025, 6, 10, 15, 0, 0, 0, time.UTC)
	create := func(req Request) *Event {
		e := event(EventCreateRepository, req)
		e.Principal.ARN = "arn:aws:iam::123456789012:user/alice"
		return e
	}
	service := create(Request{Tags: []Tag{devTag}})
	service.Principal = Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}
	tests := []struct {
		name      string
		patterns  []string
		event     *Event
		repo      Repository
		wantKinds []Kind
		wantWho   string
	}{
		{name: "IMMUTABLE repository created with the exemption tag: granted, naming who created it",
			event: create(Request{Mutability: Immutable, Tags: []Tag{devTag}}), repo: repo(Immutable, nil, devTag),
			wantKinds: []Kind{KindExemptionGranted}, wantWho: "given at creation by arn:aws:iam::123456789012:user/alice"},
		{name: "created by an AWS service with the tag (a creation template's): the service is named",
			event: service, repo: repo(Mutable, nil, devTag),
			// Nobody asked for MUTABLE (ECR applied its template): the grant
			// is the news, not an exempt request.
			wantKinds: []Kind{KindExemptionGranted}, wantWho: "given at creation by ecr.amazonaws.com"},
		{name: "created by an AWS service, already fixed by its other event: nothing to report again",
			event: service, repo: repo(Immutable, nil),
			wantKinds: nil},
		{name: "name outside EXEMPT_REPOSITORY_PATTERNS: rejected and reverted",
			patterns: []string{"sandbox/*"}, event: create(Request{Mutability: Mutable, Tags: []Tag{devTag}}), repo: repo(Mutable, nil, devTag),
			wantKinds: []Kind{KindRemediated, KindExemptionRejected}, wantWho: "given at creation by arn:aws:iam::123456789012:user/alice"},
		{name: "created without an exemption tag: no grant",
			event: create(Request{Mutability: Immutable, Tags: []Tag{{Key: "team", Value: "a"}}}), repo: repo(Immutable, nil, Tag{Key: "team", Value: "a"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules(t)
			rules.ExemptRepositoryPatterns = tt.patterns
			p := rules.Decide(Input{Event: tt.event, Checks: Checks{Mutability: true}, Repo: tt.repo, Now: now})
			if !slices.Equal(kinds(p), tt.wantKinds) {
				t.Fatalf("kinds %v, want %v: %+v", kinds(p), tt.wantKinds, p.Findings)
			}
			if tt.wantWho != "" && !slices.ContainsFunc(p.Findings, func(f Finding) bool { return f.Area == AreaExemption && strings.Contains(f.Summary, tt.wantWho) }) {
				t.Fatalf("no exemption finding names %q: %+v", tt.wantWho, p.Findings)
			}
		})
	}
}
