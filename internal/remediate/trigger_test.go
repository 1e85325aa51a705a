package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// editedEvent is a sample with edit applied to its envelope and record.
func editedEvent(t *testing.T, name string, edit func(envelope, detail map[string]any)) json.RawMessage {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev, ev["detail"].(map[string]any))
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func document(t *testing.T, m notice.Message) notice.EventDocument {
	t.Helper()
	doc, ok := m.Document.(notice.EventDocument)
	if !ok {
		t.Fatalf("document is %T", m.Document)
	}
	return doc
}

func TestOwnCallsAreChecked(t *testing.T) {
	t.Run("compliant: read, nothing written, no notice", func(t *testing.T) {
		f := newFixture(t, nil)
		f.add("team-a/web", guard.Immutable, true)
		if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-by-remediator-role.json")); err != nil {
			t.Fatal(err)
		}
		if calls := slices.Sorted(slices.Values(f.repos.calls)); !slices.Equal(calls, []string{"Describe", "Tags"}) || len(f.pub.sent) != 0 {
			t.Fatalf("calls %v notices %d", f.repos.calls, len(f.pub.sent))
		}
		if got := f.counts(t); got["Skipped/self"] != 1 || len(got) != 1 {
			t.Fatalf("metrics %v", got)
		}
		if l := f.logs.JSONLines(t); len(l) != 1 || l[0]["level"] != "INFO" || !strings.Contains(l[0]["msg"].(string), "own call") {
			t.Fatalf("log = %v", l)
		}
	})
	t.Run("not compliant: fixed, and the notice says ecr-guard's role made the call", func(t *testing.T) {
		f := newFixture(t, nil)
		f.add("team-a/web", guard.Mutable, true)
		if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-by-remediator-role.json")); err != nil {
			t.Fatal(err)
		}
		if f.repos.repos["team-a/web"].Mutability != guard.Immutable || len(f.pub.sent) != 1 {
			t.Fatalf("repository %+v, %d notices", f.repos.repos["team-a/web"], len(f.pub.sent))
		}
		doc := document(t, f.pub.sent[0])
		if doc.Severity != "HIGH" || !slices.ContainsFunc(doc.Actions, func(a notice.Action) bool {
			return a.Area == guard.AreaOwnRole && a.Severity == "HIGH" && strings.Contains(a.Summary, "ecr-guard-RemediatorFunctionRole-1A2B3C4D5E6F")
		}) {
			t.Fatalf("document = %+v", doc)
		}
	})
}

func TestEventsOutsideTheFunctionsAccountAndRegionMakeNoCall(t *testing.T) {
	tests := []struct {
		name, reason string
		edit         func(envelope, detail map[string]any)
	}{
		{"awsRegion us-west-2", "region us-west-2", func(_, d map[string]any) { d["awsRegion"] = "us-west-2" }},
		{"envelope region us-west-2", "region us-west-2", func(e, _ map[string]any) { e["region"] = "us-west-2" }},
		{"recipientAccountId of another account", "account 222222222222", func(_, d map[string]any) { d["recipientAccountId"] = "222222222222" }},
		{"envelope account of another account", "account 222222222222", func(e, _ map[string]any) { e["account"] = "222222222222" }},
		{"call and registry in another account", "account 222222222222", func(e, d map[string]any) {
			e["account"], d["recipientAccountId"] = "222222222222", "222222222222"
			d["requestParameters"].(map[string]any)["registryId"] = "222222222222"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.add("team-b/api", guard.Mutable, true) // the same name here: it must not be touched
			if err := f.h.Handle(context.Background(), editedEvent(t, "put-image-tag-mutability-mutable.json", tt.edit)); err != nil {
				t.Fatalf("an out-of-scope event is not an error: %v", err)
			}
			if len(f.repos.calls) != 0 || len(f.pub.sent) != 0 || f.repos.repos["team-b/api"].Mutability != guard.Mutable {
				t.Fatalf("calls %v, %d notices", f.repos.calls, len(f.pub.sent))
			}
			l := f.logs.JSONLines(t)
			if len(l) != 1 || l[0]["level"] != "WARN" || !strings.Contains(fmt.Sprint(l[0]["reason"]), tt.reason) || l[0]["event_id"] == "" {
				t.Fatalf("log = %v", l)
			}
			if got := f.counts(t); got["Skipped/out-of-scope"] != 1 || len(got) != 1 {
				t.Fatalf("metrics %v", got)
			}
		})
	}
}

func TestRepositoryDeletedBeforeTheWriteIsGone(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.repos.fail["SetMutability"] = fmt.Errorf("PutImageTagMutability team-b/api: %w", guard.ErrRepositoryNotFound)
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 0 {
		t.Fatalf("a repository deleted before the write got a %s notice", f.pub.sent[0].Attributes["kind"])
	}
	if got := f.counts(t); got["Skipped/repository-gone"] != 1 || got["Failed/FAILED"] != 0 {
		t.Fatalf("metrics %v", got)
	}
	if l := f.logs.JSONLines(t); len(l) != 1 || l[0]["level"] != "INFO" {
		t.Fatalf("log = %v", l)
	}
}

func TestReadFailuresAreFiledUnderTheirRule(t *testing.T) {
	for op, area := range map[string]guard.Area{"Describe": guard.AreaMutability, "Tags": guard.AreaMutability, "Lifecycle": guard.AreaLifecycle} {
		t.Run(op, func(t *testing.T) {
			f := newFixture(t, nil)
			f.add("team-a/web", guard.Immutable, false)
			f.repos.fail[op] = accessDenied
			if err := f.h.Handle(context.Background(), event(t, "delete-lifecycle-policy.json")); err == nil {
				t.Fatal("a permanent read failure fails the invocation")
			}
			if len(f.pub.sent) != 1 {
				t.Fatalf("%d notices", len(f.pub.sent))
			}
			doc := document(t, f.pub.sent[0])
			if doc.Kind != guard.KindFailed || len(doc.Actions) != 1 || doc.Actions[0].Area != area {
				t.Fatalf("document = %+v", doc)
			}
		})
	}
}

func TestEventOlderThanTheRepository(t *testing.T) {
	eventTime := time.Date(2025, 6, 10, 14, 20, 11, 0, time.UTC) // the sample's
	t.Run("compliant: the event was about a deleted repository", func(t *testing.T) {
		f := newFixture(t, nil)
		f.add("team-b/api", guard.Immutable, true)
		f.repos.repos["team-b/api"].CreatedAt = eventTime.Add(time.Hour)
		if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
			t.Fatal(err)
		}
		if len(f.pub.sent) != 0 || slices.Contains(f.repos.calls, "ImagesPushedSince") {
			t.Fatalf("calls %v, %d notices", f.repos.calls, len(f.pub.sent))
		}
		if got := f.counts(t); got["Skipped/repository-gone"] != 1 || len(got) != 1 {
			t.Fatalf("metrics %v", got)
		}
	})
	t.Run("not compliant: fixed and reported as found", func(t *testing.T) {
		f := newFixture(t, nil)
		f.add("team-b/api", guard.Mutable, true)
		f.repos.repos["team-b/api"].CreatedAt = eventTime.Add(time.Hour)
		if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
			t.Fatal(err)
		}
		if f.repos.repos["team-b/api"].Mutability != guard.Immutable || len(f.pub.sent) != 1 {
			t.Fatalf("repository %+v, %d notices", f.repos.repos["team-b/api"], len(f.pub.sent))
		}
		doc := document(t, f.pub.sent[0])
		if doc.Kind != guard.KindRemediated || doc.PushedWhileMutable != nil || slices.Contains(f.repos.calls, "ImagesPushedSince") {
			t.Fatalf("document = %+v (calls %v)", doc, f.repos.calls)
		}
	})
}
