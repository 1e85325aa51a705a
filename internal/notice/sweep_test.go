package notice

import (
	"encoding/json"
	"fmt"
	"slices"
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

// one returns the only message of a report.
func one(t *testing.T, msgs []Message) Message {
	t.Helper()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func TestForSweep(t *testing.T) {
	m := one(t, ForSweep(sweepInput()))
	if want := "[ecr-guard] SWEEP_REPORT 3 remediated, 0 failed (123456789012 us-east-1)"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	structured, doc := decodeSweep(t, m)
	if structured["default"] != m.Text || structured["email"] != m.Text || structured["lambda"] != structured["sqs"] || structured["https"] != structured["sqs"] {
		t.Error("not the event notices' MessageStructure json form")
	}
	if doc.SchemaVersion != "1.1" || doc.Kind != "SWEEP_REPORT" || doc.Severity != "HIGH" || doc.DryRun || !doc.Complete ||
		doc.DurationSeconds != 83.4 || doc.Invocations != 2 || doc.StartedAt != "2026-11-27T10:00:00Z" || doc.Truncated != 0 ||
		doc.Counts != sweepInput().Counts || len(doc.Changed) != 2 || doc.Changed[1].Exemption != guard.ExemptionExpired ||
		doc.Part != 1 || doc.Parts != 1 || doc.Interim {
		t.Errorf("document = %+v", doc)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(structured["sqs"]), &raw)
	counts, _ := raw["counts"].(map[string]any)
	for _, key := range []string{"scanned", "compliant", "remediated", "exempt", "expiredExemptions", "lifecycleRestored", "failed", "templates", "templatesChanged"} {
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
	if m.Attributes["kind"] != "SWEEP_REPORT" || m.Attributes["severity"] != "HIGH" || m.Attributes["account"] != "123456789012" || m.Attributes["resourceType"] != "registry" {
		t.Errorf("attributes %v", m.Attributes)
	}
}

func TestSweepSeverity(t *testing.T) {
	missing := []RootTemplate{{Account: "123456789012", Region: "us-east-1", Status: RootTemplateMissing}}
	created := []RootTemplate{{Account: "123456789012", Region: "us-east-1", Status: RootTemplateCreated}}
	for _, tt := range []struct {
		c             SweepCounts
		complete      bool
		failedTargets int
		roots         []RootTemplate
		want          string
	}{
		{SweepCounts{Scanned: 5, Compliant: 5}, true, 0, nil, "INFO"},
		{SweepCounts{Scanned: 5, Exempt: 5}, true, 0, nil, "INFO"},
		{SweepCounts{LifecycleRestored: 1}, true, 0, nil, "LOW"},
		{SweepCounts{Remediated: 1, LifecycleRestored: 1}, true, 0, nil, "HIGH"},
		{SweepCounts{}, false, 0, nil, "HIGH"},
		{SweepCounts{Remediated: 1, Failed: 1}, true, 0, nil, "CRITICAL"},
		{SweepCounts{Scanned: 5, Compliant: 5}, true, 1, nil, "CRITICAL"}, // a registry that could not be swept
		{SweepCounts{Templates: 3, TemplatesChanged: 1}, true, 0, nil, "HIGH"},
		{SweepCounts{Templates: 3, TemplatesChanged: 1, Failed: 1}, true, 0, nil, "CRITICAL"}, // a failed template
		{SweepCounts{Templates: 3}, true, 0, missing, "MEDIUM"},
		{SweepCounts{Templates: 3, LifecycleRestored: 1}, true, 0, missing, "MEDIUM"},
		{SweepCounts{Templates: 3, Remediated: 1}, true, 0, missing, "HIGH"},
		{SweepCounts{Templates: 3}, true, 0, created, "INFO"}, // ensure did its job
	} {
		if got := SweepSeverity(tt.c, tt.complete, tt.failedTargets, tt.roots); got != tt.want {
			t.Errorf("%+v complete=%v: %s, want %s", tt.c, tt.complete, got, tt.want)
		}
	}
}

func TestForSweepDryRunSubject(t *testing.T) {
	in := sweepInput()
	in.DryRun = true
	m := one(t, ForSweep(in))
	if want := "[ecr-guard] SWEEP_REPORT dry run: 3 would remediate, 0 failed (123456789012 us-east-1)"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	if !strings.Contains(m.Text, "DRY RUN: nothing was changed.") || !strings.Contains(m.Text, "Would remediate:") {
		t.Errorf("text:\n%s", m.Text)
	}
}

// longName is a repository name of 256 characters, ECR's longest.
func longName(prefix string, i int) string {
	name := fmt.Sprintf("%s-%05d/", prefix, i)
	return name + strings.Repeat("x", 256-len(name))
}

// reverts returns n reverted repositories with the longest names.
func reverts(n int) []SweepChange {
	out := make([]SweepChange, n)
	for i := range out {
		out[i] = SweepChange{Name: longName("team", i), Actions: []guard.Kind{guard.KindRemediated, guard.KindLifecycleRestored}}
	}
	return out
}

// sizeOK fails the test when m would not fit one SNS message.
func sizeOK(t *testing.T, m Message) {
	t.Helper()
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	if size := len(body) + len(m.Subject) + 1024; size > MaxSNSMessageBytes { // 1 KB for the attributes
		t.Errorf("message %q is %d bytes, SNS allows %d", m.Subject, size, MaxSNSMessageBytes)
	}
	if len(m.Subject) > MaxSubjectLength {
		t.Errorf("subject %q", m.Subject)
	}
}

// The case: 600 repositories given a lifecycle policy and 2
// reverted, all with long names. The lifecycle-only entries are cut, the
// reverted ones named, first.
func TestForSweepNamesEveryRevertAmongManyLifecycleOnly(t *testing.T) {
	in := sweepInput()
	in.Counts = SweepCounts{Scanned: 700, Compliant: 98, Remediated: 2, LifecycleRestored: 600, ExpiredExemptions: 1}
	in.Changed = nil
	for i := range 600 {
		in.Changed = append(in.Changed, SweepChange{Name: longName("a-lifecycle", i), Actions: []guard.Kind{guard.KindLifecycleRestored}})
	}
	// Last by name: a cut by name would drop them.
	reverted := []SweepChange{
		{Name: longName("zz-reverted", 1), Actions: []guard.Kind{guard.KindRemediated}},
		{Name: longName("zz-reverted", 2), Actions: []guard.Kind{guard.KindRemediated, guard.KindLifecycleRestored}, Exemption: guard.ExemptionExpired},
	}
	in.Changed = append(in.Changed, reverted...)
	in.Omitted = 5 // lifecycle-only ones the chain did not carry

	m := one(t, ForSweep(in))
	sizeOK(t, m)
	_, doc := decodeSweep(t, m)
	if len(doc.Changed) < 3 || len(doc.Changed) >= 602 {
		t.Fatalf("listed %d of 602: want both reverts and some lifecycle-only entries", len(doc.Changed))
	}
	for i, want := range reverted {
		if doc.Changed[i].Name != want.Name || doc.Changed[i].Exemption != want.Exemption {
			t.Errorf("entry %d is %q, want the revert %q first", i, doc.Changed[i].Name, want.Name)
		}
		if !strings.Contains(m.Text, "  - "+want.Name+": REMEDIATED") {
			t.Errorf("text does not name %s", want.Name)
		}
	}
	for _, c := range doc.Changed[2:] {
		if c.MustName() {
			t.Errorf("%s listed after the lifecycle-only entries", c.Name)
		}
	}
	if want := 600 + 5 - (len(doc.Changed) - 2); doc.Truncated != want {
		t.Errorf("truncated %d, want %d", doc.Truncated, want)
	}
	if want := fmt.Sprintf("  ... and %d more lifecycle-only\n", doc.Truncated); !strings.HasSuffix(m.Text, want) {
		t.Errorf("text does not end with %q", want)
	}
	if want := "[ecr-guard] SWEEP_REPORT 2 remediated, 0 failed (123456789012 us-east-1)"; m.Subject != want || doc.Part != 1 || doc.Parts != 1 {
		t.Errorf("subject %q part %d of %d", m.Subject, doc.Part, doc.Parts)
	}
	// It lists as many lifecycle-only entries as fit: one more would not.
	listed := len(doc.Changed)
	more := slices.Clone(in.Changed)
	SortSweepChanges(more)
	if fitsSNS(sweepMessage(in, fitRegistryLists(in, 999999), more[:listed+1], 999999, 999999, 999999)) {
		t.Errorf("%d entries listed, %d would still fit", listed, listed+1)
	}
}

// 3,000 reverts with the longest names cannot fit one message: the report
// goes out in parts, each under SNS's limit, naming each revert once.
func TestForSweepSplitsRevertsIntoParts(t *testing.T) {
	in := sweepInput()
	in.Counts = SweepCounts{Scanned: 5000, Compliant: 2000, Remediated: 3000, LifecycleRestored: 3010, Failed: 1}
	in.Changed = reverts(3000)
	failed := SweepChange{Name: "zz/failed", Actions: []guard.Kind{guard.KindFailed}}
	in.Changed = append(in.Changed, failed)
	for i := range 10 {
		in.Changed = append(in.Changed, SweepChange{Name: fmt.Sprintf("a/lifecycle-%d", i), Actions: []guard.Kind{guard.KindLifecycleRestored}})
	}
	slices.Reverse(in.Changed) // any order in, severity then name out
	in.Omitted = 7
	in.ChainID = "9f2c4e1a7b3d5c60"

	msgs := ForSweep(in)
	if len(msgs) < 3 {
		t.Fatalf("%d messages for 3,000 reverts with 256-character names", len(msgs))
	}
	seen := map[string]int{}
	var order []string
	for k, m := range msgs {
		sizeOK(t, m)
		_, doc := decodeSweep(t, m)
		if doc.Part != k+1 || doc.Parts != len(msgs) || doc.Interim || !doc.Complete || doc.ChainID != in.ChainID {
			t.Errorf("message %d: part %d of %d, interim %v, complete %v, chain %q", k+1, doc.Part, doc.Parts, doc.Interim, doc.Complete, doc.ChainID)
		}
		if doc.Counts != in.Counts || doc.Severity != "CRITICAL" || m.Attributes["severity"] != "CRITICAL" {
			t.Errorf("part %d: counts %+v severity %s: every part repeats the report's", k+1, doc.Counts, doc.Severity)
		}
		wantSubject := fmt.Sprintf("[ecr-guard] SWEEP_REPORT part %d of %d: 3000 remediated, 1 failed (123456789012 us-east-1)", k+1, len(msgs))
		if m.Subject != wantSubject {
			t.Errorf("subject %q, want %q", m.Subject, wantSubject)
		}
		if want := fmt.Sprintf("PART %d OF %d of this report", k+1, len(msgs)); !strings.Contains(m.Text, want) {
			t.Errorf("part %d text lacks %q", k+1, want)
		}
		for _, c := range doc.Changed {
			seen[c.Name]++
			order = append(order, c.Name)
			if !strings.Contains(m.Text, "  - "+c.Name+": ") {
				t.Errorf("part %d text does not name %s", k+1, c.Name)
			}
		}
		if doc.Truncated != 7 || strings.Contains(m.Text, "more lifecycle-only") != (k == len(msgs)-1) {
			t.Errorf("part %d: truncated %d; only the last part's text gives the cut", k+1, doc.Truncated)
		}
	}
	for _, c := range in.Changed {
		if seen[c.Name] != 1 {
			t.Errorf("%s named %d times", c.Name, seen[c.Name])
		}
	}
	if order[0] != failed.Name || !strings.HasPrefix(order[len(order)-1], "a/lifecycle-") || !slices.IsSorted(order[1:3001]) {
		t.Errorf("not by severity then name: first %s, last %s", order[0], order[len(order)-1])
	}
	// Parts are filled: the first would overflow with the next entry (with
	// the widest numbers, as ForSweep measures).
	_, second := decodeSweep(t, msgs[1])
	if _, doc := decodeSweep(t, msgs[0]); fitsSNS(sweepMessage(in, fitRegistryLists(in, 999999), append(slices.Clone(doc.Changed), second.Changed[0]), 999999, 999999, 999999)) {
		t.Errorf("part 1 holds %d entries, one more would fit", len(doc.Changed))
	}
}

// Parts sent mid-chain (interim) are numbered first; the report's final
// parts follow them and give the total.
func TestForSweepInterimParts(t *testing.T) {
	in := sweepInput()
	in.Counts = SweepCounts{Scanned: 4000, Remediated: 2000}
	in.Changed = reverts(2000)
	in.PartsSent, in.Interim, in.ChainID = 2, true, "c1"
	msgs := ForSweep(in)
	if len(msgs) < 2 {
		t.Fatalf("%d interim messages", len(msgs))
	}
	for k, m := range msgs {
		sizeOK(t, m)
		_, doc := decodeSweep(t, m)
		if doc.Part != 3+k || doc.Parts != 0 || !doc.Interim || doc.Complete || doc.Truncated != 0 {
			t.Errorf("interim part: part %d parts %d interim %v complete %v truncated %d", doc.Part, doc.Parts, doc.Interim, doc.Complete, doc.Truncated)
		}
		if want := fmt.Sprintf("[ecr-guard] SWEEP_REPORT part %d, so far: 2000 remediated, 0 failed (123456789012 us-east-1)", 3+k); m.Subject != want {
			t.Errorf("subject %q, want %q", m.Subject, want)
		}
		if !strings.Contains(m.Text, "sent while the sweep runs") || strings.Contains(m.Text, "INCOMPLETE") {
			t.Errorf("interim text:\n%s", m.Text[:400])
		}
	}
	// The final report after them: one message, numbered after them.
	final := sweepInput()
	final.PartsSent = 2 + len(msgs)
	m := one(t, ForSweep(final))
	_, doc := decodeSweep(t, m)
	n := 3 + len(msgs)
	if doc.Part != n || doc.Parts != n || doc.Interim || !strings.HasPrefix(m.Subject, fmt.Sprintf("[ecr-guard] SWEEP_REPORT part %d of %d: 3 remediated", n, n)) {
		t.Errorf("final part %d of %d, subject %q", doc.Part, doc.Parts, m.Subject)
	}
}

func TestSweepChangeSeverity(t *testing.T) {
	for _, tt := range []struct {
		c    SweepChange
		want guard.Severity
	}{
		{SweepChange{Actions: []guard.Kind{guard.KindLifecycleRestored}}, guard.SeverityLow},
		{SweepChange{Actions: []guard.Kind{guard.KindWouldRestoreLifecycle}}, guard.SeverityLow},
		{SweepChange{Actions: []guard.Kind{guard.KindLifecycleRestored}, Exemption: guard.ExemptionExpired}, guard.SeverityHigh},
		{SweepChange{Actions: []guard.Kind{guard.KindRemediated}, Exemption: guard.ExemptionNameNotAllowed}, guard.SeverityHigh},
		{SweepChange{Actions: []guard.Kind{guard.KindWouldRemediate}}, guard.SeverityHigh},
		{SweepChange{Actions: []guard.Kind{guard.KindRemediated, guard.KindFailed}}, guard.SeverityCritical},
		{SweepChange{Actions: []guard.Kind{"SOMETHING_NEW"}}, guard.SeverityHigh},
		// A template shapes every repository ECR creates under its prefix:
		// even its lifecycle-only change is named.
		{SweepChange{ResourceType: ResourceTemplate, Actions: []guard.Kind{guard.KindLifecycleRestored}}, guard.SeverityHigh},
		{SweepChange{ResourceType: ResourceTemplate, Actions: []guard.Kind{guard.KindExempt}}, guard.SeverityHigh},
		{SweepChange{ResourceType: ResourceTemplate, Actions: []guard.Kind{guard.KindRemediated, guard.KindFailed}}, guard.SeverityCritical},
	} {
		if got := tt.c.Severity(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.c, got, tt.want)
		}
	}
}

// Every text a sweep's continuation carried (names, accounts, regions,
// errors) is capped like an event's: none can forge a line of the report.
func TestForSweepTextCannotForgeLines(t *testing.T) {
	in := sweepInput()
	forged := "\nALL CLEAR: no action needed, see https://evil.example/report\n"
	in.Targets = 2
	in.FailedTargets = []SweepFailedTarget{{Account: "111111111111" + forged, Region: "us-east-1" + forged, Error: "refused" + forged}}
	in.PerTarget = []SweepTarget{{Account: "222222222222" + forged, Region: "eu-west-1" + forged, Counts: SweepCounts{Scanned: 1, Remediated: 1}}}
	in.Changed = []SweepChange{{Name: "team/app" + forged, Account: "222222222222" + forged, Region: "eu-west-1", Actions: []guard.Kind{guard.KindRemediated}}}
	in.RootTemplates = []RootTemplate{{Account: "333333333333" + forged, Region: "us-east-1", Status: RootTemplateMissing + forged}}
	in.ChainID = "x" + forged
	in.Changed = append(in.Changed, SweepChange{Name: "team/b", Actions: []guard.Kind{guard.KindRemediated + guard.Kind(forged)}, Exemption: guard.ExemptionExpired + guard.ExemptionStatus(forged)})
	for _, m := range ForSweep(in) {
		for _, line := range strings.Split(m.Text, "\n") {
			if strings.HasPrefix(line, "ALL CLEAR") {
				t.Errorf("a forged line in the report:\n%s", m.Text)
			}
		}
		if !strings.Contains(m.Text, "refused\uFFFDALL CLEAR") {
			t.Errorf("the failed target's error is not in the report, its line breaks replaced:\n%s", m.Text)
		}
	}
}

func TestForSweepLongSubjectStaysWithinLimits(t *testing.T) {
	in := sweepInput()
	in.Counts.Remediated, in.Counts.Failed, in.DryRun, in.Complete = 123456789, 987654321, true, false
	in.Region = "ap-southeast-2-very-long-region-name-for-the-test"
	subjects := []string{one(t, ForSweep(in)).Subject}
	// A report in parts keeps "part k of n" however long the rest is.
	in.Changed = reverts(3000)
	in.PartsSent = 123
	msgs := ForSweep(in)
	for k, m := range msgs {
		if want := fmt.Sprintf("[ecr-guard] SWEEP_REPORT part %d of %d: ", 124+k, 123+len(msgs)); !strings.HasPrefix(m.Subject, want) {
			t.Errorf("subject %q, want it to start with %q", m.Subject, want)
		}
		subjects = append(subjects, m.Subject)
	}
	in.Interim = true
	subjects = append(subjects, ForSweep(in)[0].Subject)
	for _, s := range subjects {
		if len(s) > MaxSubjectLength {
			t.Errorf("subject %q is %d characters", s, len(s))
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				t.Errorf("non-printable %q in subject %q", r, s)
			}
		}
	}
}

func TestForEventWithoutEventIsASweepNotice(t *testing.T) {
	r := rules(t)
	before := guard.Repository{Name: "team-a/web", ARN: "arn:aws:ecr:eu-west-1:210987654321:repository/team-a/web", RegistryID: "210987654321", Mutability: guard.Mutable}
	plan := guard.Plan{}
	plan.Fail(guard.AreaMutability, "could not set image tag mutability to IMMUTABLE: AccessDenied")
	m := ForEvent(EventInput{Event: nil, Region: "eu-west-1", Checks: guard.Checks{Mutability: true, Lifecycle: true}, Before: before, Plan: plan, Rules: r})
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

func TestLargestFit(t *testing.T) {
	for most := 0; most <= 40; most++ {
		for limit := -1; limit <= most+1; limit++ { // fits(to) holds for to <= limit
			for _, guess := range []int{1, 3, 64} {
				from := min(5, most)
				least := from
				want := max(least, min(limit, most))
				if got := largestFit(from, least, most, guess, func(to int) bool { return to <= limit }); got != want {
					t.Errorf("most %d limit %d guess %d: %d, want %d", most, limit, guess, got, want)
				}
			}
		}
	}
}

// An organization where many registries could not be swept (a member stack
// missing everywhere, a throttling storm) still gets a report within SNS's
// limit: failed targets are listed as far as they fit, first, and every one
// is counted, those the chain did not carry included.
func TestForSweepManyFailedTargetsFit(t *testing.T) {
	in := sweepInput()
	in.Targets = 4000
	for i := range 400 {
		in.FailedTargets = append(in.FailedTargets, SweepFailedTarget{Account: fmt.Sprintf("%012d", i), Region: "us-east-1",
			Error: "assume role arn:aws:iam::000000000000:role/ecr-guard-member: operation error STS: AssumeRole, api error AccessDenied: " + strings.Repeat("x", 200)})
	}
	in.FailedTargetsOmitted = 3600
	msgs := ForSweep(in)
	for k, m := range msgs {
		if !fitsSNS(m) {
			t.Errorf("part %d does not fit SNS", k+1)
		}
		doc := m.Document.(SweepDocument)
		if doc.Severity != "CRITICAL" || len(doc.FailedTargets) == 0 || len(doc.FailedTargets)+doc.FailedTargetsTruncated != 4000 {
			t.Errorf("part %d: severity %s, %d failed targets named, %d not: want CRITICAL and 4000 in all", k+1, doc.Severity, len(doc.FailedTargets), doc.FailedTargetsTruncated)
		}
		if !strings.Contains(m.Text, "4000 could not be swept") || !strings.Contains(m.Text, fmt.Sprintf("... and %d more, not named here", doc.FailedTargetsTruncated)) {
			t.Errorf("part %d text does not count them all", k+1)
		}
	}
}
