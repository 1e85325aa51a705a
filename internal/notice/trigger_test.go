package notice

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func assumedRoleEvent() guard.Event {
	mfa := true
	ev := createEvent()
	ev.Name = guard.EventPutImageTagMutability
	ev.Principal = guard.Principal{
		Type:             "AssumedRole",
		ARN:              "arn:aws:sts::123456789012:assumed-role/deployer/jane.doe@example.com",
		AccountID:        "123456789012",
		IssuerARN:        "arn:aws:iam::123456789012:role/deployer",
		InvokedBy:        "cloudformation.amazonaws.com",
		PrincipalID:      "AROA3XFRBF535EXAMPLE2:jane.doe@example.com",
		AccessKeyID:      "ASIA3XFRBF53EXAMPLE02",
		SessionName:      "jane.doe@example.com",
		SourceIdentity:   "jane",
		MFAAuthenticated: &mfa,
	}
	return ev
}

func TestTriggerSaysWhoReallyActed(t *testing.T) {
	r := rules(t)
	ev := assumedRoleEvent()
	before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	plan := r.Decide(guard.Input{Event: &ev, Checks: guard.ChecksFor(ev.Name), Repo: before})
	m := ForEvent(EventInput{Event: &ev, Checks: guard.ChecksFor(ev.Name), Before: before, Plan: plan, Rules: r})

	want := "Who:          role arn:aws:iam::123456789012:role/deployer, session jane.doe@example.com, source identity jane, via cloudformation.amazonaws.com (AssumedRole)\n"
	if !strings.Contains(m.Text, want) {
		t.Errorf("text lacks %q:\n%s", want, m.Text)
	}
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Trigger map[string]any `json:"trigger"`
	}
	if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"principalArn":     "arn:aws:sts::123456789012:assumed-role/deployer/jane.doe@example.com",
		"principalType":    "AssumedRole",
		"principalId":      "AROA3XFRBF535EXAMPLE2:jane.doe@example.com",
		"accessKeyId":      "ASIA3XFRBF53EXAMPLE02",
		"sessionIssuer":    "arn:aws:iam::123456789012:role/deployer",
		"sessionName":      "jane.doe@example.com",
		"sourceIdentity":   "jane",
		"invokedBy":        "cloudformation.amazonaws.com",
		"mfaAuthenticated": true,
	} {
		if doc.Trigger[k] != v {
			t.Errorf("trigger.%s = %v, want %v", k, doc.Trigger[k], v)
		}
	}
}

func TestWhoLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    guard.Principal
		want string
	}{
		{"IAM user", guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/alice", AccessKeyID: "AKIA"},
			"arn:aws:iam::123456789012:user/alice (IAMUser)"},
		{"AWS service", guard.Principal{Type: "AWSService", InvokedBy: "ecr.amazonaws.com"},
			"ecr.amazonaws.com (AWSService)"},
		{"assumed role without source identity", guard.Principal{Type: "AssumedRole", ARN: "arn:aws:sts::1:assumed-role/r/s", IssuerARN: "arn:aws:iam::1:role/r", SessionName: "s"},
			"role arn:aws:iam::1:role/r, session s (AssumedRole)"},
		{"assumed role without issuer", guard.Principal{Type: "AssumedRole", ARN: "arn:aws:sts::1:assumed-role/r/s", SessionName: "s"},
			"arn:aws:sts::1:assumed-role/r/s (AssumedRole)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := createEvent()
			ev.Principal = tt.p
			if got := who(*triggerOf(&ev)); got != tt.want {
				t.Errorf("who = %q, want %q", got, tt.want)
			}
		})
	}
}

// escapedLen is the length of s as a JSON string's content.
func escapedLen(t *testing.T, s string) int {
	t.Helper()
	b, err := marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return len(b) - 2
}

func TestCapText(t *testing.T) {
	if got := capText("aws-cli/2.27.31", 100); got != "aws-cli/2.27.31" {
		t.Errorf("a short value changed: %q", got)
	}
	if got := capText("a\nWho:   forged\x00\u2028x\xff", 100); got != "a\uFFFDWho:   forged\uFFFD\uFFFDx\uFFFD" {
		t.Errorf("control characters, separators and invalid UTF-8 kept: %q", got)
	}
	if got := capText("ok \uFFFD é 😀", 100); got != "ok \uFFFD é 😀" {
		t.Errorf("valid text changed: %q", got)
	}
	for _, unit := range []string{"a", `"`, `\`, "\x01", "\xff", "é", "😀", "\u2028"} {
		s := strings.Repeat(unit, 5000)
		for _, n := range []int{32, 100, 1024} {
			got := capText(s, n)
			if l := escapedLen(t, got); l > n {
				t.Errorf("capText(%q x 5000, %d): escaped length %d", unit, n, l)
			}
			if !utf8.ValidString(got) || !strings.Contains(got, "…[cut ") || !strings.HasSuffix(got, " chars]") {
				t.Errorf("capText(%q x 5000, %d) = %q", unit, n, got)
			}
			if again := capText(got, n); again != got {
				t.Errorf("capText is not idempotent: %q then %q", got, again)
			}
		}
	}
	if got := capText(strings.Repeat("x", 120), 100); got != strings.Repeat("x", 82)+"…[cut 38 chars]" {
		t.Errorf("cut = %q", got)
	}
}
