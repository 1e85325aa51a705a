package notice

import (
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// A notice about an event ECR sent itself says what ECR did with which
// image, names the EventBridge event (there is no CloudTrail record), and
// leaves out the caller's address, which there is none of.
func TestNoticeOfAnEventECRSentItself(t *testing.T) {
	service := guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"}
	at := time.Date(2025, 6, 10, 14, 52, 13, 0, time.UTC)
	tests := []struct {
		name       string
		event      guard.Event
		changed    string
		ref        string
		wantFrom   bool
		wantDocRef string // the document's trigger.eventBridgeId
	}{
		{"pull through cache",
			guard.Event{ID: "env-1", Name: guard.EventPullThroughCacheAction, Time: at, Principal: service,
				Service: guard.ServiceAction{ImageTag: "1.27.5", ImageDigest: "sha256:5ed8", UpstreamRegistry: "registry-1.docker.io", CacheRulePrefix: "docker-hub"}},
			"What changed: ECR pulled image 1.27.5 (sha256:5ed8) through its pull through cache from registry-1.docker.io (rule prefix docker-hub)",
			"(EventBridge event env-1)", false, "env-1"},
		{"replication",
			guard.Event{ID: "env-2", Name: guard.EventReplicationAction, Time: at, Principal: service,
				Service: guard.ServiceAction{ImageTag: "v2.8.0", SourceAccount: "123456789012", SourceRegion: "us-west-2"}},
			"What changed: ECR replicated image v2.8.0 from 123456789012 us-west-2",
			"(EventBridge event env-2)", false, "env-2"},
		{"a person's call still names its CloudTrail record and address",
			guard.Event{ID: "env-3", EventID: "ct-3", Name: guard.EventPutImageTagMutability, Time: at, SourceIP: "203.0.113.25", UserAgent: "aws-cli/2",
				Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/alice"}, Request: guard.Request{Mutability: guard.Mutable}},
			"What changed: PutImageTagMutability to MUTABLE",
			"(CloudTrail event ct-3)", true, ""},
	}
	rules := guard.Rules{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := guard.Repository{Name: "docker-hub/library/nginx", RegistryID: "123456789012", Mutability: guard.Mutable}
			plan := guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable},
				Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "set image tag mutability MUTABLE -> IMMUTABLE"}}}
			msg := ForEvent(EventInput{Event: &tt.event, Region: "us-east-1", Checks: guard.Checks{Mutability: true}, Before: repo, Plan: plan, Rules: rules})
			if !strings.Contains(msg.Text, tt.changed+"\n") || !strings.Contains(msg.Text, tt.ref) {
				t.Errorf("text lacks %q or %q:\n%s", tt.changed, tt.ref, msg.Text)
			}
			if got := strings.Contains(msg.Text, "\nFrom:"); got != tt.wantFrom {
				t.Errorf("From line present %v, want %v:\n%s", got, tt.wantFrom, msg.Text)
			}
			doc := msg.Document.(EventDocument)
			if doc.Trigger.EventBridgeID != tt.wantDocRef || (tt.wantDocRef != "") != (doc.Trigger.Service != nil) {
				t.Errorf("trigger %+v", doc.Trigger)
			}
			chat := msg.Chat.Content.Description
			if !strings.Contains(chat, strings.Fields(tt.ref)[0][1:]) {
				t.Errorf("chat does not name the %s:\n%s", tt.ref, chat)
			}
		})
	}
}
