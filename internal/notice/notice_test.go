package notice

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

func rules(t *testing.T) guard.Rules {
	t.Helper()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	return guard.Rules{Baseline: baseline, LifecycleMode: guard.LifecycleEnforce, ExemptTags: []guard.TagMatcher{{Key: "environment", Value: "dev"}}}
}

func createEvent() guard.Event {
	return guard.Event{
		ID: "env-1", EventID: "ct-1", Name: guard.EventCreateRepository,
		Time:   time.Date(2025, 6, 10, 14, 10, 2, 0, time.UTC),
		Region: "us-east-1", Account: "123456789012",
		Principal:  guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/alice"},
		SourceIP:   "198.51.100.23",
		UserAgent:  "aws-cli/2.27.31",
		Repository: "team-a/web",
		Request:    guard.Request{Mutability: guard.Mutable},
	}
}

func TestForEventRemediatedWithLifecycle(t *testing.T) {
	r := rules(t)
	before := guard.Repository{Name: "team-a/web", ARN: "arn:aws:ecr:us-east-1:123456789012:repository/team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	ev := createEvent()
	checks := guard.ChecksFor(ev.Name)
	plan := r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: before, Now: time.Now()})
	m := ForEvent(EventInput{Event: &ev, Checks: checks, Before: before, Plan: plan, Rules: r})

	if want := "[ecr-guard] REMEDIATED team-a/web -> IMMUTABLE (123456789012 us-east-1)"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	wantAttrs := map[string]string{"kind": "REMEDIATED", "severity": "HIGH", "resourceType": "repository", "repository": "team-a/web", "account": "123456789012", "region": "us-east-1", "eventName": "CreateRepository"}
	if !maps.Equal(m.Attributes, wantAttrs) {
		t.Errorf("attributes %v, want %v", m.Attributes, wantAttrs)
	}
	for _, want := range []string{
		"ecr-guard REMEDIATED (HIGH): repository team-a/web in account 123456789012, us-east-1",
		"What changed: CreateRepository with image tag mutability MUTABLE",
		"Who:          arn:aws:iam::123456789012:user/alice (IAMUser)",
		"From:         198.51.100.23, aws-cli/2.27.31",
		"When:         2025-06-10T14:10:02Z (CloudTrail event ct-1)",
		"[REMEDIATED] set image tag mutability MUTABLE -> IMMUTABLE",
		"[LIFECYCLE_RESTORED] no lifecycle policy; applied the baseline lifecycle policy",
		"Now:          image tag mutability IMMUTABLE, lifecycle policy baseline",
		"Console:      https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team-a/web?region=us-east-1",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}

	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	if structured["default"] != m.Text || structured["email"] != m.Text {
		t.Error("default and email must carry the text report")
	}
	for _, proto := range []string{"sqs", "lambda", "http", "https"} {
		var doc map[string]any
		if err := json.Unmarshal([]byte(structured[proto]), &doc); err != nil {
			t.Fatalf("%s body is not JSON: %v", proto, err)
		}
		if doc["schemaVersion"] != SchemaVersion || doc["kind"] != "REMEDIATED" || doc["severity"] != "HIGH" || doc["dryRun"] != false {
			t.Errorf("%s document = %v", proto, doc)
		}
	}
	var doc EventDocument
	if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Before.ImageTagMutability != "MUTABLE" || doc.Before.LifecyclePolicy != "absent" ||
		doc.After.ImageTagMutability != "IMMUTABLE" || doc.After.LifecyclePolicy != "baseline" {
		t.Errorf("before %+v after %+v", doc.Before, doc.After)
	}
	if len(doc.Actions) != 2 || doc.Actions[1].Severity != "LOW" || doc.Trigger.PrincipalARN != "arn:aws:iam::123456789012:user/alice" ||
		doc.Repository.ARN != before.ARN || doc.Exemption != nil || doc.Template != nil {
		t.Errorf("document = %+v", doc)
	}
	if strings.Contains(structured["sqs"], `"template"`) {
		t.Errorf("a repository notice has a template: %s", structured["sqs"])
	}
}

func TestForEventExemptCarriesTheExemption(t *testing.T) {
	r := rules(t)
	ev := createEvent()
	ev.Name = guard.EventPutImageTagMutability
	before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable,
		Tags: []guard.Tag{{Key: "environment", Value: "dev"}, {Key: "exemption-expires", Value: "2099-01-01"}}}
	r.ExemptionExpiresTag = "exemption-expires"
	plan := r.Decide(guard.Input{Event: &ev, Checks: guard.ChecksFor(ev.Name), Repo: before, Now: time.Now()})
	m := ForEvent(EventInput{Event: &ev, Checks: guard.ChecksFor(ev.Name), Before: before, Plan: plan, Rules: r})
	doc := m.Document.(EventDocument)
	if doc.Kind != guard.KindExempt || doc.Severity != "MEDIUM" || doc.Exemption == nil ||
		doc.Exemption.Tag != "environment=dev" || doc.Exemption.Expires != "2099-01-01" || doc.Before.LifecyclePolicy != "" {
		t.Fatalf("document = %+v exemption %+v", doc, doc.Exemption)
	}
	if m.Subject != "[ecr-guard] EXEMPT team-a/web (123456789012 us-east-1)" {
		t.Errorf("subject = %q", m.Subject)
	}
}

func TestForEventDryRun(t *testing.T) {
	r := rules(t)
	r.DryRun = true
	ev := createEvent()
	before := guard.Repository{Name: "team-a/web", Mutability: guard.Mutable}
	plan := r.Decide(guard.Input{Event: &ev, Checks: guard.ChecksFor(ev.Name), Repo: before, Now: time.Now()})
	m := ForEvent(EventInput{Event: &ev, Checks: guard.ChecksFor(ev.Name), Before: before, Plan: plan, Rules: r})
	doc := m.Document.(EventDocument)
	if doc.Kind != guard.KindWouldRemediate || !doc.DryRun || doc.After.ImageTagMutability != guard.Mutable {
		t.Errorf("document = %+v", doc)
	}
	if !strings.Contains(m.Text, "DRY RUN: nothing was changed.") || !strings.HasPrefix(m.Subject, "[ecr-guard] WOULD_REMEDIATE team-a/web -> IMMUTABLE") {
		t.Errorf("subject %q text:\n%s", m.Subject, m.Text)
	}
}

func TestSubjectStaysWithinSNSLimits(t *testing.T) {
	long := strings.Repeat("very-long-name/", 20)
	s := subject("WOULD_RESTORE_LIFECYCLE", long, "(123456789012 ap-southeast-2)")
	if len(s) > MaxSubjectLength || !strings.HasSuffix(s, "...(123456789012 ap-southeast-2)") && !strings.HasSuffix(s, "... (123456789012 ap-southeast-2)") {
		t.Errorf("subject %q (%d chars)", s, len(s))
	}
	s = subject("REMEDIATED", "bad\nname\u00e9", "")
	if s != "[ecr-guard] REMEDIATED bad?name?" {
		t.Errorf("subject %q", s)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			t.Errorf("non-printable %q in subject", r)
		}
	}
}

func TestEventNoticeStaysUnderTheSNSLimit(t *testing.T) {
	r := rules(t)
	ev := createEvent()
	ev.Name = guard.EventPutImageTagMutability
	before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	plan := r.Decide(guard.Input{Event: &ev, Checks: guard.ChecksFor(ev.Name), Repo: before, Now: time.Now()})
	pushed := &guard.PushedImages{Since: ev.Time}
	for i := range 100 {
		var tags []string
		for j := range 12 { // an attacker's many long tags
			tags = append(tags, fmt.Sprintf("release-%03d-%02d-%s", i, j, strings.Repeat("x", 100)))
		}
		pushed.Images = append(pushed.Images, guard.Image{Digest: fmt.Sprintf("sha256:%064d", i), Tags: tags, PushedAt: ev.Time.Add(time.Minute)})
	}
	m := ForEvent(EventInput{Event: &ev, Checks: guard.ChecksFor(ev.Name), Before: before, Plan: plan, Rules: r, Pushed: pushed})
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	doc := m.Document.(EventDocument)
	if len(body) > MaxSNSMessageBytes || !doc.PushedWhileMutable.Truncated || len(doc.PushedWhileMutable.Images) == 0 || len(doc.PushedWhileMutable.Images) == 100 {
		t.Fatalf("body %d bytes, %d images listed, truncated %v", len(body), len(doc.PushedWhileMutable.Images), doc.PushedWhileMutable.Truncated)
	}
	if !strings.Contains(m.Text, "the list stops at") {
		t.Fatalf("the text does not say the list was cut:\n%s", m.Text[len(m.Text)-300:])
	}
}

// The list of images pushed while tags were mutable never reads as "none"
// when it was cut: an image carrying hundreds of long tags (ECR allows
// 1,000 of 300 characters) has its tags capped, so it cannot push the image
// that overwrote a release out of the notice; and a list cut to nothing
// says images were pushed.
func TestPushedListNeverReadsEmptyWhenCut(t *testing.T) {
	r := rules(t)
	ev := createEvent()
	ev.Name = guard.EventPutImageTagMutability
	before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	plan := r.Decide(guard.Input{Event: &ev, Checks: guard.ChecksFor(ev.Name), Repo: before, Now: time.Now()})
	var decoy []string
	for i := range 1000 {
		decoy = append(decoy, fmt.Sprintf("d%03d-%s", i, strings.Repeat("x", 295)))
	}
	pushed := &guard.PushedImages{Since: ev.Time, Images: []guard.Image{
		{Digest: "sha256:" + strings.Repeat("d", 64), Tags: decoy, PushedAt: ev.Time.Add(2 * time.Minute)},
		{Digest: "sha256:" + strings.Repeat("b", 64), Tags: []string{"v1.0.0"}, PushedAt: ev.Time.Add(time.Minute)},
	}}
	m := ForEvent(EventInput{Event: &ev, Checks: guard.ChecksFor(ev.Name), Before: before, Plan: plan, Rules: r, Pushed: pushed})
	doc := m.Document.(EventDocument)
	if len(doc.PushedWhileMutable.Images) != 2 || !strings.Contains(m.Text, "tags v1.0.0") || strings.Contains(m.Text, "no new image pushed") {
		t.Errorf("%d images listed; the overwrite of v1.0.0 must be listed beside the decoy:\n%s", len(doc.PushedWhileMutable.Images), m.Text)
	}
	if tags := doc.PushedWhileMutable.Images[0].Tags; len(tags) != capImageTags+1 || tags[capImageTags] != "…[980 more]" {
		t.Errorf("the decoy's tags are not capped: %d listed, last %q", len(tags), tags[len(tags)-1])
	}

	var b strings.Builder
	writePushed(&b, PushedWhileMutable{Since: "2026-11-27T10:00:00Z", Images: []PushedImage{}, Truncated: true})
	if text := b.String(); strings.Contains(text, "no new image pushed") || !strings.Contains(text, "list them by hand") {
		t.Errorf("a list cut to nothing reads:\n%s", text)
	}
	n := eventChat(EventDocument{Kind: "REMEDIATED", PushedWhileMutable: &PushedWhileMutable{Since: "2026-11-27T10:00:00Z", Images: []PushedImage{}, Truncated: true}},
		&ev, "123456789012", "subject", "IMMUTABLE")
	chat := n.Content.Description + "\n" + strings.Join(n.Content.NextSteps, "\n")
	if strings.Contains(chat, "no new image pushed") || !strings.Contains(chat, "by hand") {
		t.Errorf("the chat notice of a list cut to nothing reads:\n%s", chat)
	}
}

// A listing that stopped before reading every image (the 10-page bound)
// shows what it found, and says the list may be incomplete, in the text and
// in chat.
func TestPushedListFoundBeforeTheListingStopped(t *testing.T) {
	p := PushedWhileMutable{Since: "2026-11-27T10:00:00Z", Error: "DescribeImages team/app: the repository has more images than ecr-guard reads",
		Images: []PushedImage{{Digest: "sha256:" + strings.Repeat("b", 64), Tags: []string{"v1.0.0"}, PushedAt: "2026-11-27T10:01:00Z"}}}
	var b strings.Builder
	writePushed(&b, p)
	if text := b.String(); !strings.Contains(text, "tags v1.0.0") || !strings.Contains(text, "the list may be incomplete") {
		t.Errorf("text:\n%s", text)
	}
	ev := createEvent()
	n := eventChat(EventDocument{Kind: "REMEDIATED", PushedWhileMutable: &p}, &ev, "123456789012", "subject", "IMMUTABLE")
	if chat := n.Content.Description; !strings.Contains(chat, "v1.0.0") || !strings.Contains(chat, "may be incomplete") {
		t.Errorf("chat:\n%s", chat)
	}
}
