package notice

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// TestForEventShowsConflictingExemptionTags: the notice lists every tag with
// an exemption key and every expiry tag, not only the one that matched.
func TestForEventShowsConflictingExemptionTags(t *testing.T) {
	r := rules(t)
	r.ExemptionExpiresTag = "exemption-expires"
	ev := guard.Event{
		EventID: "ct-7", Name: guard.EventPutImageTagMutability, Region: "us-east-1", Account: "123456789012",
		Time:       time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Principal:  guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/alice"},
		Repository: "team-a/web", Request: guard.Request{Mutability: guard.Mutable},
	}
	tests := []struct {
		name           string
		tags           []guard.Tag
		wantStatus     guard.ExemptionStatus
		wantTags       []string
		wantExpiryTags []string
		wantJSON       string
	}{
		{
			name:       "conflicting exemption tags",
			tags:       []guard.Tag{{Key: "Environment", Value: "prod"}, {Key: "environment", Value: "dev"}},
			wantStatus: guard.ExemptionActive, wantTags: []string{"Environment=prod", "environment=dev"},
			wantJSON: `"exemption":{"status":"active","tag":"environment=dev","tags":["Environment=prod","environment=dev"]}`,
		},
		{
			name:       "two expiry tags",
			tags:       []guard.Tag{{Key: "environment", Value: "dev"}, {Key: "exemption-expires", Value: "2099-12-31"}, {Key: "Exemption-Expires", Value: "2020-01-01"}},
			wantStatus: guard.ExemptionInvalidExpiry, wantTags: []string{"environment=dev"},
			wantExpiryTags: []string{"exemption-expires=2099-12-31", "Exemption-Expires=2020-01-01"},
			wantJSON:       `"exemption":{"status":"invalid-expiry","tag":"environment=dev","tags":["environment=dev"],"expiryTags":["exemption-expires=2099-12-31","Exemption-Expires=2020-01-01"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable, Tags: tt.tags}
			checks := guard.ChecksFor(ev.Name)
			plan := r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: before, Now: ev.Time})
			m := ForEvent(EventInput{Event: &ev, Checks: checks, Before: before, Plan: plan, Rules: r})
			doc, ok := m.Document.(EventDocument)
			if !ok || doc.Exemption == nil {
				t.Fatalf("document %#v has no exemption", m.Document)
			}
			x := doc.Exemption
			if x.Status != tt.wantStatus || !slices.Equal(x.Tags, tt.wantTags) || !slices.Equal(x.ExpiryTags, tt.wantExpiryTags) {
				t.Errorf("exemption = %+v, want status %s, tags %q, expiry tags %q", *x, tt.wantStatus, tt.wantTags, tt.wantExpiryTags)
			}
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.wantJSON) {
				t.Errorf("JSON %s\nwant it to contain %s", b, tt.wantJSON)
			}
		})
	}
}
