package reconcile

import (
	"context"
	"slices"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func TestShaping(t *testing.T) {
	service := guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}
	cache := &guard.Template{Prefix: "team-a", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Mutable}
	tests := []struct {
		name       string
		template   *guard.Template
		event      guard.Event
		fail       error
		compliant  bool           // the outcome found nothing to fix
		want       *guard.Shaping // nil: none
		wantPrefix string
		wantErr    bool
	}{
		{name: "pull through cache: the template with the repository's prefix", template: cache,
			event: guard.Event{Name: guard.EventPullThroughCacheAction, Principal: service},
			want:  &guard.Shaping{AppliedFor: guard.AppliedForPullThroughCache}, wantPrefix: "team-a"},
		{name: "replication: that template is not applied for it, so ECR's defaults", template: cache,
			event: guard.Event{Name: guard.EventReplicationAction, Principal: service},
			want:  &guard.Shaping{AppliedFor: guard.AppliedForReplication}},
		{name: "CloudTrail creation by ECR: how is unknown, any template", template: cache,
			event: guard.Event{Name: guard.EventCreateRepository, Principal: service},
			want:  &guard.Shaping{}, wantPrefix: "team-a"},
		{name: "a person's call: no lookup", template: cache,
			event: guard.Event{Name: guard.EventCreateRepository, Principal: guard.Principal{Type: "IAMUser"}}},
		{name: "born compliant: nothing to explain, no lookup", template: cache, compliant: true,
			event: guard.Event{Name: guard.EventPullThroughCacheAction, Principal: service}},
		{name: "templates unreadable: nothing, and the error", template: cache,
			event: guard.Event{Name: guard.EventPullThroughCacheAction, Principal: service}, fail: denied, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos, _, r := templateFixture(t, tt.template, guard.RootTemplateReport)
			if tt.fail != nil {
				repos.fail["Templates"] = tt.fail
			}
			o := Outcome{Status: Done, Plan: guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable}}}
			if tt.compliant {
				o.Plan = guard.Plan{}
			}
			got, err := r.Shaping(context.Background(), key, tt.event, o)
			if tt.want == nil && !tt.wantErr && slices.Contains(repos.sortedCalls(), "Templates") {
				t.Errorf("templates read: %v", repos.sortedCalls())
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			switch {
			case (got == nil) != (tt.want == nil):
				t.Fatalf("shaping %+v, want %+v", got, tt.want)
			case got == nil:
				return
			case got.AppliedFor != tt.want.AppliedFor:
				t.Errorf("appliedFor %q, want %q", got.AppliedFor, tt.want.AppliedFor)
			}
			prefix := ""
			if got.Template != nil {
				prefix = got.Template.Prefix
			}
			if prefix != tt.wantPrefix {
				t.Errorf("template %q, want %q", prefix, tt.wantPrefix)
			}
		})
	}
}
