package sweep

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

func TestSweepFixesTemplatesFirstAndCountsThem(t *testing.T) {
	rules := testRules(t)
	rules.RootTemplateMode = guard.RootTemplateReport
	rules.ExemptRepositoryPatterns = []string{"dev/*", "team-*"}
	f := newFixture(t, 2, rules, Options{Concurrency: 2})
	baseline := guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
	f.ecr.Put(guard.Template{Prefix: "prod", AppliedFor: []string{guard.AppliedForReplication}, Mutability: guard.Mutable, Lifecycle: baseline})
	f.ecr.Put(guard.Template{Prefix: "dev", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Mutable, Lifecycle: baseline,
		ResourceTags: []guard.Tag{{Key: "environment", Value: "dev"}}})
	f.ecr.Put(guard.Template{Prefix: "ok", AppliedFor: []string{guard.AppliedForReplication}, Mutability: guard.Immutable, Lifecycle: baseline})
	f.ecr.add(guard.Repository{Name: "app", Mutability: guard.Immutable, Lifecycle: baseline})
	// The templates are fixed before the first repository is read.
	f.ecr.onCall = func(op, repo string) {
		if f.ecr.Get("prod").Mutability != guard.Immutable {
			t.Errorf("%s of %s before the prod template was fixed", op, repo)
		}
	}

	if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
		t.Fatal(err)
	}
	if got := f.ecr.Get("prod"); got.Mutability != guard.Immutable {
		t.Errorf("prod template %s, want IMMUTABLE", got.Mutability)
	}
	if got := f.ecr.Get("dev"); got.Mutability != guard.Mutable {
		t.Errorf("exempt dev template %s, want MUTABLE kept", got.Mutability)
	}
	if f.ecr.Get(guard.RootPrefix) != nil || f.ecr.calls["CreateTemplate"] != 0 {
		t.Error("ROOT_TEMPLATE=report created the ROOT template")
	}
	if f.ecr.calls["Templates"] != 1 || f.ecr.calls["UpdateTemplate"] != 1 {
		t.Errorf("calls %v, want one listing and one update", f.ecr.calls)
	}
	_, doc := digest(t, f.pub)
	// prod fixed; the missing ROOT is no change, under ROOT_TEMPLATE=report
	// the digest says it in its own section.
	if doc.Counts.Templates != 3 || doc.Counts.TemplatesChanged != 1 {
		t.Errorf("counts %+v, want 3 templates, 1 changed", doc.Counts)
	}
	var templates []string
	for _, c := range doc.Changed {
		if c.ResourceType == "template" {
			templates = append(templates, c.Name+":"+fmt.Sprint(c.Actions))
		}
	}
	if want := []string{"prod:[REMEDIATED]"}; !slices.Equal(templates, want) {
		t.Errorf("template changes %v, want %v", templates, want)
	}
	if len(doc.RootTemplates) != 1 || doc.RootTemplates[0].Status != notice.RootTemplateMissing || doc.RootTemplates[0].Account != "123456789012" {
		t.Errorf("root templates %+v, want ROOT missing once", doc.RootTemplates)
	}
}

func TestSweepEnsuresTheRootTemplateOnce(t *testing.T) {
	rules := testRules(t)
	rules.RootTemplateMode = guard.RootTemplateEnsure
	f := newFixture(t, 2, rules, Options{})
	for range 2 {
		if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
			t.Fatal(err)
		}
	}
	root := f.ecr.Get(guard.RootPrefix)
	if root == nil || root.Mutability != guard.Immutable || !slices.Equal(root.AppliedFor, rules.RootTemplateAppliedFor) || f.ecr.calls["CreateTemplate"] != 1 {
		t.Fatalf("ROOT template %+v after %d creates, want one IMMUTABLE for %v", root, f.ecr.calls["CreateTemplate"], rules.RootTemplateAppliedFor)
	}
	first, _ := digestAt(t, f.pub, 0)
	second, _ := digestAt(t, f.pub, 1)
	if len(first.RootTemplates) != 1 || first.RootTemplates[0].Status != notice.RootTemplateCreated || len(second.RootTemplates) != 0 {
		t.Errorf("root templates: first %+v, second %+v", first.RootTemplates, second.RootTemplates)
	}
}

func TestTemplateListingFailureDoesNotStopTheRepositories(t *testing.T) {
	rules := testRules(t)
	rules.RootTemplateMode = guard.RootTemplateEnsure
	f := newFixture(t, 2, rules, Options{})
	f.ecr.templateErr = apiError("AccessDeniedException")
	f.ecr.add(guard.Repository{Name: "app", Mutability: guard.Mutable, Lifecycle: guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}})
	if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
		t.Fatal(err)
	}
	if f.ecr.repo("app").Mutability != guard.Immutable {
		t.Error("the repository was not fixed")
	}
	_, doc := digest(t, f.pub)
	if doc.Counts.Failed != 1 || !slices.ContainsFunc(doc.Changed, func(c notice.SweepChange) bool {
		return c.ResourceType == "template" && slices.Contains(c.Actions, guard.KindFailed)
	}) {
		t.Errorf("digest %+v does not name the failed template listing", doc)
	}
}
