package notice

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// TestShapedBy renders the notice of a repository ECR created on its own,
// for each way it can have been shaped: the text's Created by line, the
// document's shapedBy object, the chat's line. A repository not created by
// ECR, and a template, have none.
func TestShapedBy(t *testing.T) {
	cache := &guard.Template{Prefix: "docker-hub", AppliedFor: []string{guard.AppliedForPullThroughCache},
		Mutability: guard.ImmutableWithExclusion, ExclusionFilters: []string{"latest"}}
	everything := &guard.Template{Prefix: "team-d", AppliedFor: []string{guard.AppliedForReplication, guard.AppliedForCreateOnPush}, Mutability: guard.Mutable}
	tests := []struct {
		name    string
		shaping *guard.Shaping
		// line is what follows "Created by:" ("" for no line), doc the
		// document's shapedBy ("" for none).
		line, doc string
	}{
		{"pull-through cache from a template",
			&guard.Shaping{AppliedFor: guard.AppliedForPullThroughCache, Template: cache},
			"ECR (pull-through cache) from template docker-hub [PULL_THROUGH_CACHE], image tag mutability IMMUTABLE_WITH_EXCLUSION [latest]",
			`{"appliedFor":"PULL_THROUGH_CACHE","template":{"prefix":"docker-hub","appliedFor":["PULL_THROUGH_CACHE"],"imageTagMutability":"IMMUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":["latest"]}}`},
		{"replication with no template",
			&guard.Shaping{AppliedFor: guard.AppliedForReplication},
			"ECR (replication) with no template: ECR's defaults (MUTABLE tags, no lifecycle policy)",
			`{"appliedFor":"REPLICATION","template":null}`},
		{"create-on-push from a template",
			&guard.Shaping{AppliedFor: guard.AppliedForCreateOnPush, Template: everything},
			"ECR (create-on-push) from template team-d [REPLICATION, CREATE_ON_PUSH], image tag mutability MUTABLE",
			`{"appliedFor":"CREATE_ON_PUSH","template":{"prefix":"team-d","appliedFor":["REPLICATION","CREATE_ON_PUSH"],"imageTagMutability":"MUTABLE"}}`},
		{"how unknown, a template matches",
			&guard.Shaping{Template: everything},
			"ECR on its own; the template matching its name: team-d [REPLICATION, CREATE_ON_PUSH], image tag mutability MUTABLE",
			`{"template":{"prefix":"team-d","appliedFor":["REPLICATION","CREATE_ON_PUSH"],"imageTagMutability":"MUTABLE"}}`},
		{"how unknown, no template",
			&guard.Shaping{},
			"ECR on its own; no template matches its name: ECR's defaults (MUTABLE tags, no lifecycle policy)",
			`{"template":null}`},
		{"a value ECR may add later is shown as it is",
			&guard.Shaping{AppliedFor: "PULL_THROUGH_CACHE_V2"},
			"ECR (PULL_THROUGH_CACHE_V2) with no template: ECR's defaults (MUTABLE tags, no lifecycle policy)",
			`{"appliedFor":"PULL_THROUGH_CACHE_V2","template":null}`},
		{"a repository someone created", nil, "", ""},
	}
	r := rules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := createEvent()
			ev.Principal = guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}
			checks := guard.ChecksFor(ev.Name)
			repo := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
			plan := r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: repo, Now: ev.Time})
			m := ForEvent(EventInput{Event: &ev, Checks: checks, Before: repo, Plan: plan, Rules: r, Shaping: tt.shaping})

			structured, raw := decodeEvent(t, m)
			gotDoc := ""
			if v, ok := raw["shapedBy"]; ok {
				b, _ := json.Marshal(v)
				gotDoc = string(b)
			}
			if tt.doc == "" && gotDoc != "" || tt.doc != "" && !jsonSame(t, gotDoc, tt.doc) {
				t.Errorf("shapedBy %s, want %s", gotDoc, tt.doc)
			}
			text := structured["default"]
			if tt.line == "" && strings.Contains(text, "Created by:") || tt.line != "" && !strings.Contains(text, "\nCreated by:   "+tt.line+"\n") {
				t.Errorf("text, want Created by %q:\n%s", tt.line, text)
			}
			_, chat := chatBody(t, m)
			if tt.line == "" && strings.Contains(chat.Content.Description, "Created by") ||
				tt.line != "" && !strings.Contains(chat.Content.Description, "*Created by:* "+chatText(tt.line)+"\n") {
				t.Errorf("chat, want Created by %q:\n%s", tt.line, chat.Content.Description)
			}
		})
	}

	t.Run("a template's notice has none", func(t *testing.T) {
		tpl := liveTemplate("prod", guard.Mutable, guard.Lifecycle{})
		ev := templateEvent(guard.EventUpdateRepositoryCreationTemplate, "prod")
		plan := r.DecideTemplate(guard.TemplateInput{Event: &ev, Template: tpl, Prefix: "prod", Now: ev.Time}).Plan
		m := ForEvent(EventInput{Event: &ev, Account: "123456789012", Template: tpl, Plan: plan, Rules: r,
			Shaping: &guard.Shaping{AppliedFor: guard.AppliedForReplication}})
		if _, raw := decodeEvent(t, m); raw["shapedBy"] != nil || strings.Contains(m.Text, "Created by") {
			t.Errorf("a template's notice says what created it: %v\n%s", raw["shapedBy"], m.Text)
		}
	})
}

// jsonSame compares two JSON texts as values.
func jsonSame(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("the test's JSON %s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}
