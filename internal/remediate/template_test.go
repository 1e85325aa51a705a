package remediate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// A repository ECR created MUTABLE through a pull through cache: it is
// fixed, and the notice names the template that shaped it, the one to fix.
func TestNoticeNamesTheTemplateThatShapedAServiceCreatedRepository(t *testing.T) {
	f := newFixture(t, nil)
	f.add("docker-hub/library/nginx", guard.Mutable, true)
	f.repos.Put(guard.Template{Prefix: "docker-hub", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Mutable})
	f.repos.Put(guard.Template{Prefix: "docker", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Immutable})
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
