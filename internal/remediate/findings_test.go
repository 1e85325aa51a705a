package remediate

import (
	"context"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

type recordedFinding struct {
	key      reconcile.Key
	status   reconcile.Status
	eventID  string
	notices  int // notices sent before it
	hasEvent bool
}

type fakeFindings struct {
	f   *fixture
	got []recordedFinding
}

func (r *fakeFindings) Publish(_ context.Context, key reconcile.Key, o reconcile.Outcome, ev *guard.Event) {
	rf := recordedFinding{key: key, status: o.Status, notices: len(r.f.pub.sent), hasEvent: ev != nil}
	if ev != nil {
		rf.eventID = ev.EventID
	}
	r.got = append(r.got, rf)
}

func (*fakeFindings) PublishTemplate(context.Context, reconcile.TemplateKey, reconcile.TemplateOutcome, *guard.Event) {
}

func (*fakeFindings) Flush(context.Context) {}

// Every outcome but a retry goes to the findings publisher, after the
// notice, with the triggering event.
func TestOutcomesGoToFindingsAfterTheNotice(t *testing.T) {
	f := newFixture(t, nil)
	rec := &fakeFindings{f: f}
	f.h.rec.WithFindings(rec)
	f.add("team-a/web", guard.Mutable, false)
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || rec.got[0].status != reconcile.Done || rec.got[0].notices != 1 || !rec.got[0].hasEvent || rec.got[0].eventID == "" ||
		rec.got[0].key.Name != "team-a/web" || rec.got[0].key.Registry != "123456789012" {
		t.Fatalf("findings %+v", rec.got)
	}
	// Deleted since: Gone, no notice, still handed over (archived).
	f.repos.fail["Describe"] = guard.ErrRepositoryNotFound
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 2 || rec.got[1].status != reconcile.Gone {
		t.Fatalf("findings %+v", rec.got)
	}
	// A retry: nothing yet.
	f.repos.fail["Describe"] = throttled
	_ = f.h.Handle(context.Background(), event(t, "create-repository-mutable.json"))
	if len(rec.got) != 2 {
		t.Fatalf("a retry was handed over: %+v", rec.got)
	}
}
