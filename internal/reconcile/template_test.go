package reconcile

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func templateFixture(t *testing.T, tmpl *guard.Template, mode guard.RootTemplateMode) (*fakeRepos, *counter, *Reconciler) {
	t.Helper()
	repos, c, r := fixture(t, guard.Immutable, true)
	if tmpl != nil {
		repos.Put(*tmpl)
	}
	repos.Hook = func(op, _ string) error {
		repos.mu.Lock()
		defer repos.mu.Unlock()
		repos.calls = append(repos.calls, op)
		return repos.fail[op]
	}
	r.rules.RootTemplateMode = mode
	r.rules.RootTemplateAppliedFor = []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}
	return repos, c, r
}

func TestReconcileTemplate(t *testing.T) {
	prodKey := TemplateKey{Partition: "aws", Registry: "123456789012", Region: "us-east-1", Prefix: "prod"}
	rootKey := prodKey
	rootKey.Prefix = guard.RootPrefix
	mutable := func(prefix string) *guard.Template {
		return &guard.Template{Prefix: prefix, AppliedFor: []string{guard.AppliedForReplication}, Mutability: guard.Mutable,
			Lifecycle: guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}}
	}
	deleteEvent := func(prefix string) *guard.Event {
		return &guard.Event{Name: guard.EventDeleteRepositoryCreationTemplate, Template: prefix, Time: now}
	}
	tests := []struct {
		name       string
		template   *guard.Template
		mode       guard.RootTemplateMode
		req        TemplateRequest
		fail       map[string]error
		wantStatus Status
		wantKinds  []guard.Kind
		wantCalls  []string
		wantAfter  string // the template's mutability afterwards ("": none)
	}{
		{
			name: "a mutable template is fixed with one update", template: mutable("prod"), mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: prodKey, Event: &guard.Event{Name: guard.EventUpdateRepositoryCreationTemplate, Template: "prod", Time: now, Request: guard.Request{Mutability: guard.Mutable}}},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindRemediated}, wantCalls: []string{"Template", "UpdateTemplate"}, wantAfter: guard.Immutable,
		},
		{
			name: "the sweep's listed template is not read again", template: mutable("prod"), mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: prodKey, Listed: mutable("prod")},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindRemediated}, wantCalls: []string{"UpdateTemplate"}, wantAfter: guard.Immutable,
		},
		{
			// Listed MUTABLE, since given an exemption and still MUTABLE:
			// the plan made on the listing is not written over it; decided
			// again on a fresh read, the template is exempt.
			name: "a template changed since the sweep listed it is decided again, not written", mode: guard.RootTemplateReport,
			template: func() *guard.Template {
				t := mutable("prod")
				t.ResourceTags = []guard.Tag{{Key: "environment", Value: "dev"}}
				return t
			}(),
			req:        TemplateRequest{Key: prodKey, Listed: mutable("prod")},
			wantStatus: Done, wantCalls: []string{"Template", "UpdateTemplate"}, wantAfter: guard.Mutable,
		},
		{
			name: "a dry run writes nothing", template: mutable("prod"), mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: prodKey, DryRun: true},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindWouldRemediate}, wantCalls: []string{"Template"}, wantAfter: guard.Mutable,
		},
		{
			name: "a deleted template is OBSERVED", mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: prodKey, Event: deleteEvent("prod")},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindObserved}, wantCalls: []string{"Template"},
		},
		{
			name: "an update event about a template deleted since is gone", mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: prodKey, Event: &guard.Event{Name: guard.EventUpdateRepositoryCreationTemplate, Template: "prod", Time: now}},
			wantStatus: Gone, wantCalls: []string{"Template"},
		},
		{
			name: "ROOT_TEMPLATE=ensure creates the ROOT template", mode: guard.RootTemplateEnsure,
			req:        TemplateRequest{Key: rootKey, Event: deleteEvent(guard.RootPrefix)},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindObserved, guard.KindRemediated}, wantCalls: []string{"CreateTemplate", "Template"}, wantAfter: guard.Immutable,
		},
		{
			name: "ROOT_TEMPLATE=ensure on a replay finds it there and writes nothing", template: &guard.Template{Prefix: guard.RootPrefix, AppliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}, Mutability: guard.Immutable, Lifecycle: guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}}, mode: guard.RootTemplateEnsure,
			req:        TemplateRequest{Key: rootKey, Event: deleteEvent(guard.RootPrefix)},
			wantStatus: Done, wantCalls: []string{"Template"}, wantAfter: guard.Immutable,
		},
		{
			name: "the ROOT template created meanwhile by someone else: retry, which reads it", mode: guard.RootTemplateEnsure,
			req: TemplateRequest{Key: rootKey, Missing: true}, fail: map[string]error{"CreateTemplate": fmt.Errorf("create: %w", guard.ErrTemplateExists)},
			wantStatus: Retry, wantCalls: []string{"CreateTemplate"},
		},
		{
			name: "the sweep's missing ROOT template under report: reported, nothing written", mode: guard.RootTemplateReport,
			req:        TemplateRequest{Key: rootKey, Missing: true},
			wantStatus: Done, wantKinds: []guard.Kind{guard.KindObserved}, wantCalls: nil,
		},
		{
			name: "ROOT_TEMPLATE=off: nothing", template: mutable(guard.RootPrefix), mode: guard.RootTemplateOff,
			req:        TemplateRequest{Key: rootKey},
			wantStatus: Done, wantCalls: []string{"Template"}, wantAfter: guard.Mutable,
		},
		{
			name: "a refused update is FAILED for every area it would fix", template: &guard.Template{Prefix: "prod", Mutability: guard.Mutable}, mode: guard.RootTemplateReport,
			req: TemplateRequest{Key: prodKey}, fail: map[string]error{"UpdateTemplate": denied},
			wantStatus: Failed, wantKinds: []guard.Kind{guard.KindFailed, guard.KindFailed}, wantCalls: []string{"Template", "UpdateTemplate"}, wantAfter: guard.Mutable,
		},
		{
			name: "a throttled update is retried", template: mutable("prod"), mode: guard.RootTemplateReport,
			req: TemplateRequest{Key: prodKey}, fail: map[string]error{"UpdateTemplate": throttled},
			wantStatus: Retry, wantCalls: []string{"Template", "UpdateTemplate"}, wantAfter: guard.Mutable,
		},
		{
			name: "a refused read is FAILED", template: mutable("prod"), mode: guard.RootTemplateReport,
			req: TemplateRequest{Key: prodKey}, fail: map[string]error{"Template": denied},
			wantStatus: Failed, wantKinds: []guard.Kind{guard.KindFailed}, wantCalls: []string{"Template"}, wantAfter: guard.Mutable,
		},
		{
			name: "a template deleted between read and write is gone", template: mutable("prod"), mode: guard.RootTemplateReport,
			req: TemplateRequest{Key: prodKey}, fail: map[string]error{"UpdateTemplate": fmt.Errorf("update: %w", guard.ErrTemplateNotFound)},
			wantStatus: Gone, wantCalls: []string{"Template", "UpdateTemplate"}, wantAfter: guard.Mutable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos, c, r := templateFixture(t, tt.template, tt.mode)
			repos.fail = tt.fail
			o := r.ReconcileTemplate(context.Background(), tt.req)
			if o.Status != tt.wantStatus || !slices.Equal(kinds(o.Plan.Plan), tt.wantKinds) {
				t.Errorf("status %s kinds %v, want %s %v (err %v)", o.Status, kinds(o.Plan.Plan), tt.wantStatus, tt.wantKinds, o.Err)
			}
			if got := repos.sortedCalls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			after := ""
			if t := repos.Get(tt.req.Key.Prefix); t != nil {
				after = t.Mutability
			}
			if after != tt.wantAfter {
				t.Errorf("template afterwards %q, want %q", after, tt.wantAfter)
			}
			counted := 0
			for _, n := range c.counts {
				counted += n
			}
			if want := len(tt.wantKinds); (o.Status == Done || o.Status == Failed) && counted != want {
				t.Errorf("counted %d findings, want %d: %v", counted, want, c.counts)
			}
		})
	}
}

func TestEnsuredRootTemplate(t *testing.T) {
	repos, _, r := templateFixture(t, nil, guard.RootTemplateEnsure)
	o := r.ReconcileTemplate(context.Background(), TemplateRequest{Key: TemplateKey{Prefix: guard.RootPrefix}, Missing: true})
	if o.Status != Done {
		t.Fatal(o.Status, o.Err)
	}
	got := repos.Get(guard.RootPrefix)
	if got == nil || got.Mutability != guard.Immutable || !got.Lifecycle.Exists || got.Lifecycle.Text != guard.DefaultLifecyclePolicy ||
		!slices.Equal(got.AppliedFor, []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}) {
		t.Fatalf("created %+v", got)
	}
	// Once it exists, the next reconcile (a replay, the next sweep) writes nothing.
	before := len(repos.calls)
	o = r.ReconcileTemplate(context.Background(), TemplateRequest{Key: TemplateKey{Prefix: guard.RootPrefix}})
	if o.Status != Done || len(o.Plan.Findings) != 0 || slices.Contains(repos.calls[before:], "CreateTemplate") || slices.Contains(repos.calls[before:], "UpdateTemplate") {
		t.Fatalf("second reconcile %s %v calls %v", o.Status, kinds(o.Plan.Plan), repos.calls[before:])
	}
}

func TestTemplateFixWritesOnlyWhatTheRulesGovern(t *testing.T) {
	repos, _, r := templateFixture(t, &guard.Template{Prefix: "prod", AppliedFor: []string{guard.AppliedForReplication}, Mutability: guard.ImmutableWithExclusion,
		ExclusionFilters: []string{"release-*"}}, guard.RootTemplateReport)
	r.rules.AllowedMutableTagFilters = []string{"latest"}
	o := r.ReconcileTemplate(context.Background(), TemplateRequest{Key: TemplateKey{Prefix: "prod"}})
	changes := repos.Changes()
	if o.Status != Done || len(changes) != 1 {
		t.Fatalf("status %s, changes %+v", o.Status, changes)
	}
	c := changes[0]
	if c.Mutability == nil || c.Mutability.Mutability != guard.Immutable || len(c.Mutability.ExclusionFilters) != 0 ||
		c.LifecyclePolicy != r.rules.Baseline.Text() || len(c.AddAppliedFor) != 0 {
		t.Errorf("change %+v, want IMMUTABLE without filters and the baseline policy, appliedFor untouched", c)
	}
}

func TestResync(t *testing.T) {
	registry := TemplateKey{Partition: "aws", Registry: "123456789012", Region: "us-east-1", Prefix: "ignored"}
	prefixes := func(reqs []TemplateRequest) (out []string) {
		for _, r := range reqs {
			p := r.Key.Prefix
			if r.Missing {
				p += "(missing)"
			}
			if r.Listed != nil && r.Listed.Prefix != r.Key.Prefix || !r.DryRun || r.Key.Registry != registry.Registry {
				t.Errorf("request %+v", r)
			}
			out = append(out, p)
		}
		return out
	}
	listed := []guard.Template{{Prefix: "prod"}, {Prefix: "dev"}}
	if got := prefixes(Resync(registry, listed, true)); !slices.Equal(got, []string{"prod", "dev", "ROOT(missing)"}) {
		t.Errorf("without ROOT: %v", got)
	}
	listed = append(listed, guard.Template{Prefix: guard.RootPrefix})
	if got := prefixes(Resync(registry, listed, true)); !slices.Equal(got, []string{"prod", "dev", "ROOT"}) {
		t.Errorf("with ROOT: %v", got)
	}
}
