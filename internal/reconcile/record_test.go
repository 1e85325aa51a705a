package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// recorded keeps what the Findings were handed.
type recorded struct {
	repositories []Status
	templates    []Status
	events       []*guard.Event
}

func (r *recorded) Publish(_ context.Context, _ Key, o Outcome, ev *guard.Event) {
	r.repositories = append(r.repositories, o.Status)
	r.events = append(r.events, ev)
}

func (r *recorded) PublishTemplate(_ context.Context, _ TemplateKey, o TemplateOutcome, ev *guard.Event) {
	r.templates = append(r.templates, o.Status)
	r.events = append(r.events, ev)
}

func (*recorded) Flush(context.Context) {}

// Every outcome but a retry, of a repository or a template, is handed to
// the findings with its event; without findings, nothing happens.
func TestRecordHandsOverAllButRetries(t *testing.T) {
	ev := &guard.Event{EventID: "ev-1"}
	for _, tc := range []struct {
		status Status
		handed bool
	}{{Done, true}, {Failed, true}, {Gone, true}, {Retry, false}} {
		t.Run(string(tc.status), func(t *testing.T) {
			f := &recorded{}
			r := New(One{}, guard.Rules{}, &counter{}, time.Now).WithFindings(f)
			r.Record(context.Background(), Key{Name: "app"}, Outcome{Status: tc.status}, ev)
			r.RecordTemplate(context.Background(), TemplateKey{Prefix: "prod"}, TemplateOutcome{Status: tc.status}, ev)
			want := 0
			if tc.handed {
				want = 1
			}
			if len(f.repositories) != want || len(f.templates) != want {
				t.Fatalf("handed %v repository and %v template outcomes, want %d each", f.repositories, f.templates, want)
			}
			for _, got := range f.events {
				if got != ev {
					t.Errorf("event %v, want the triggering one", got)
				}
			}
		})
	}
	r := New(One{}, guard.Rules{}, &counter{}, time.Now)
	r.Record(context.Background(), Key{}, Outcome{Status: Done}, nil)
	r.RecordTemplate(context.Background(), TemplateKey{}, TemplateOutcome{Status: Done}, nil)
	r.Flush(context.Background())
}
