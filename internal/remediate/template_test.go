package remediate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// The template half of fakeRepos: templates by prefix.

func (f *fakeRepos) Templates(context.Context) ([]guard.Template, error) {
	err := f.op("Templates")
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []guard.Template
	for _, t := range f.templates {
		out = append(out, *t)
	}
	return out, nil
}

func (f *fakeRepos) Template(_ context.Context, prefix string) (guard.Template, error) {
	err := f.op("Template")
	defer f.mu.Unlock()
	if err != nil {
		return guard.Template{}, err
	}
	t, ok := f.templates[prefix]
	if !ok {
		return guard.Template{}, fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
	}
	return *t, nil
}

func (f *fakeRepos) UpdateTemplate(_ context.Context, prefix string, c guard.TemplateChange) error {
	err := f.op("UpdateTemplate")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	t, ok := f.templates[prefix]
	if !ok {
		return fmt.Errorf("template %s: %w", prefix, guard.ErrTemplateNotFound)
	}
	if c.Mutability != nil {
		t.Mutability, t.ExclusionFilters = c.Mutability.Mutability, c.Mutability.ExclusionFilters
	}
	if c.LifecyclePolicy != "" {
		t.Lifecycle = guard.Lifecycle{Exists: true, Text: c.LifecyclePolicy}
	}
	t.AppliedFor = append(t.AppliedFor, c.AddAppliedFor...)
	return nil
}

func (f *fakeRepos) CreateTemplate(_ context.Context, t guard.Template) error {
	err := f.op("CreateTemplate")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := f.templates[t.Prefix]; ok {
		return fmt.Errorf("template %s: %w", t.Prefix, guard.ErrTemplateExists)
	}
	f.templates[t.Prefix] = &t
	return nil
}

// A repository ECR created MUTABLE through a pull through cache: it is
// fixed, and the notice names the template that shaped it, the one to fix.
func TestNoticeNamesTheTemplateThatShapedAServiceCreatedRepository(t *testing.T) {
	f := newFixture(t, nil)
	f.add("docker-hub/library/nginx", guard.Mutable, true)
	f.repos.templates["docker-hub"] = &guard.Template{Prefix: "docker-hub", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Mutable}
	f.repos.templates["docker"] = &guard.Template{Prefix: "docker", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Immutable}
	if err := f.h.Handle(context.Background(), event(t, "pull-through-cache-action.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 1 {
		t.Fatalf("%d notices", len(f.pub.sent))
	}
	doc, ok := f.pub.sent[0].Document.(notice.EventDocument)
	if !ok || doc.ShapedBy == nil || doc.ShapedBy.AppliedFor != guard.AppliedForPullThroughCache || doc.ShapedBy.Template == nil || doc.ShapedBy.Template.Prefix != "docker-hub" {
		t.Fatalf("document %+v: want shapedBy the docker-hub template", f.pub.sent[0].Document)
	}
	if !strings.Contains(f.pub.sent[0].Text, "docker-hub") {
		t.Errorf("text report does not name the template:\n%s", f.pub.sent[0].Text)
	}

	// A person's change names no template, and reads none.
	f.repos.calls = nil
	f.add("team-a/web", guard.Mutable, true)
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.repos.calls, "Templates") {
		t.Errorf("a person's change read the templates: %v", f.repos.calls)
	}
}
