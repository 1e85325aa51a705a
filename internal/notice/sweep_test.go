package notice

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func sweepInput() SweepInput {
	return SweepInput{
		Account: "123456789012", Region: "us-east-1", Complete: true,
		StartedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Duration: 83*time.Second + 400*time.Millisecond, Invocations: 2,
		Counts: SweepCounts{Scanned: 20, Compliant: 15, Remediated: 3, Exempt: 1, ExpiredExemptions: 1, LifecycleRestored: 2},
		Changed: []SweepChange{
			{Name: "team-a/web", Actions: []guard.Kind{guard.KindRemediated, guard.KindLifecycleRestored}},
			{Name: "team-b/api", Actions: []guard.Kind{guard.KindRemediated}, Exemption: guard.ExemptionExpired},
		},
	}
}

func decodeSweep(t *testing.T, m Message) (map[string]string, SweepDocument) {
	t.Helper()
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	var doc SweepDocument
	if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	return structured, doc
}

func TestForSweep(t *testing.T) {
	m := ForSweep(sweepInput())
	if want := "[ecr-guard] SWEEP_REPORT 3 remediated, 0 failed (123456789012 us-east-1)"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	structured, doc := decodeSweep(t, m)
	if structured["default"] != m.Text || structured["email"] != m.Text || structured["lambda"] != structured["sqs"] || structured["https"] != structured["sqs"] {
		t.Error("not the event notices' MessageStructure json form")
	}
	if doc.SchemaVersion != "1.0" || doc.Kind != "SWEEP_REPORT" || doc.Severity != "HIGH" || doc.DryRun || !doc.Complete ||
		doc.DurationSeconds != 83.4 || doc.Invocations != 2 || doc.StartedAt != "2026-11-27T10:00:00Z" || doc.Truncated != 0 ||
		doc.Counts != sweepInput().Counts || len(doc.Changed) != 2 || doc.Changed[1].Exemption != guard.ExemptionExpired {
		t.Errorf("document = %+v", doc)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(structured["sqs"]), &raw)
	counts, _ := raw["counts"].(map[string]any)
	for _, key := range []string{"scanned", "compliant", "remediated", "exempt", "expiredExemptions", "lifecycleRestored", "failed"} {
		if _, ok := counts[key]; !ok {
			t.Errorf("counts lack %q: %v", key, counts)
		}
	}
	for _, want := range []string{
		"ecr-guard SWEEP_REPORT (HIGH): account 123456789012, us-east-1",
		"took 1m23s in 2 invocation(s)",
		fmt.Sprintf("%-24s%8d\n", "Scanned:", 20),
		fmt.Sprintf("%-24s%8d\n", "Remediated:", 3),
		fmt.Sprintf("%-24s%8d\n", "  exemption expired:", 1),
		"  - team-a/web: REMEDIATED, LIFECYCLE_RESTORED\n",
		"  - team-b/api: REMEDIATED (exemption expired)\n",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Attributes["kind"] != "SWEEP_REPORT" || m.Attributes["severity"] != "HIGH" || m.Attributes["account"] != "123456789012" {
		t.Errorf("attributes %v", m.Attributes)
	}
}

func TestSweepSeverity(t *testing.T) {
	for _, tt := range []struct {
		c        SweepCounts
		complete bool
		want     string
	}{
		{SweepCounts{Scanned: 5, Compliant: 5}, true, "INFO"},
		{SweepCounts{Scanned: 5, Exempt: 5}, true, "INFO"},
		{SweepCounts{LifecycleRestored: 1}, true, "LOW"},
		{SweepCounts{Remediated: 1, LifecycleRestored: 1}, true, "HIGH"},
		{SweepCounts{}, false, "HIGH"},
		{SweepCounts{Remediated: 1, Failed: 1}, true, "CRITICAL"},
	} {
		if got := SweepSeverity(tt.c, tt.complete); got != tt.want {
			t.Errorf("%+v complete=%v: %s, want %s", tt.c, tt.complete, got, tt.want)
		}
	}
}

func TestForSweepDryRunSubject(t *testing.T) {
	in := sweepInput()
	in.DryRun = true
	m := ForSweep(in)
	if want := "[ecr-guard] SWEEP_REPORT dry run: 3 would remediate, 0 failed (123456789012 us-east-1)"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	if !strings.Contains(m.Text, "DRY RUN: nothing was changed.") || !strings.Contains(m.Text, "Would remediate:") {
		t.Errorf("text:\n%s", m.Text)
	}
}

func TestForSweepStaysUnderTheSNSLimit(t *testing.T) {
	in := sweepInput()
	in.Changed = nil
	for i := range 3000 {
		// ECR allows names of up to 256 characters.
		name := fmt.Sprintf("team-%04d/", i) + strings.Repeat("x", 200)
		in.Changed = append(in.Changed, SweepChange{Name: name, Actions: []guard.Kind{guard.KindRemediated, guard.KindLifecycleRestored}})
	}
	in.Omitted = 7
	m := ForSweep(in)
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > MaxSNSMessageBytes-1024 {
		t.Fatalf("message is %d bytes, SNS allows %d", len(body), MaxSNSMessageBytes)
	}
	_, doc := decodeSweep(t, m)
	if len(doc.Changed) == 0 || len(doc.Changed) >= 3000 || doc.Truncated != 3000+7-len(doc.Changed) {
		t.Fatalf("listed %d, truncated %d", len(doc.Changed), doc.Truncated)
	}
	if want := fmt.Sprintf("  ... and %d more\n", doc.Truncated); !strings.HasSuffix(m.Text, want) {
		t.Errorf("text does not end with %q", want)
	}
	// It lists as many as fit: one more would not.
	if bigger, _ := sweepMessage(in, len(doc.Changed)+1).SNSMessage(); len(bigger) <= messageBudget {
		t.Errorf("one more entry (%d bytes) would still fit", len(bigger))
	}
	if len(m.Subject) > MaxSubjectLength {
		t.Errorf("subject %q", m.Subject)
	}
}

func TestForSweepLongSubjectStaysWithinLimits(t *testing.T) {
	in := sweepInput()
	in.Counts.Remediated, in.Counts.Failed, in.DryRun, in.Complete = 123456789, 987654321, true, false
	in.Region = "ap-southeast-2-very-long-region-name-for-the-test"
	m := ForSweep(in)
	if len(m.Subject) > MaxSubjectLength {
		t.Errorf("subject %q is %d characters", m.Subject, len(m.Subject))
	}
	for _, r := range m.Subject {
		if r < 0x20 || r > 0x7e {
			t.Errorf("non-printable %q in subject", r)
		}
	}
}

func TestForEventWithoutEventIsASweepNotice(t *testing.T) {
	r := rules(t)
	before := guard.Repository{Name: "team-a/web", ARN: "arn:aws:ecr:eu-west-1:210987654321:repository/team-a/web", Mutability: guard.Mutable}
	plan := guard.Plan{}
	plan.Fail(guard.AreaMutability, "could not set image tag mutability to IMMUTABLE: AccessDenied")
	m := ForEvent(EventInput{Event: nil, Checks: guard.Checks{Mutability: true, Lifecycle: true}, Before: before, Plan: plan, Rules: r})
	if want := "[ecr-guard] FAILED team-a/web (210987654321 eu-west-1)"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	doc := m.Document.(EventDocument)
	if doc.Trigger != nil || doc.Repository.Region != "eu-west-1" || doc.Repository.RegistryID != "210987654321" || doc.Severity != "CRITICAL" {
		t.Errorf("document %+v", doc)
	}
	body, _ := m.SNSMessage()
	if strings.Contains(body, `trigger`) {
		t.Error("the sweep's notice carries a trigger")
	}
	if !strings.Contains(m.Text, "What changed: Scheduled sweep") || strings.Contains(m.Text, "Who:") {
		t.Errorf("text:\n%s", m.Text)
	}
	if _, ok := m.Attributes["eventName"]; ok && m.Attributes["eventName"] != "" {
		t.Errorf("eventName attribute %q", m.Attributes["eventName"])
	}
}
