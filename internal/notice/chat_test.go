package notice

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// CheckChatSchema checks a chat body against the custom notification schema
// of Amazon Q Developer in chat applications (formerly AWS Chatbot), as
// AWS's page "Custom notifications using Amazon Q Developer in chat
// applications" (docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html)
// gives it:
//
//   - Event schema: {"version", "source", "id", "content": {"textType",
//     "title", "description", "nextSteps": [...], "keywords": [...]},
//     "metadata": {"threadId", "summary", "eventType", "relatedResources":
//     [...], "additionalContext": {"key": "value"}}}; only these names.
//   - Parameter details: version (required) must be 1.0; source (required)
//     must be custom; id is optional; textType: only client-markdown is
//     supported; title supports markdown, emojis and Slack mentions.
//   - The page as we could read it gives no lengths; the tests hold the
//     conservative bounds of chat.go: title <= 250 characters, description
//     (always present: a notification without one shows nothing) <= 3,000,
//     at most 5 next steps and 5 keywords, threadId <= 256.
//
// It returns the decoded notification.
func CheckChatSchema(t testing.TB, body string) ChatNotification {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("chat body is not a JSON object: %v\n%s", err, body)
	}
	only := func(where string, m map[string]json.RawMessage, names ...string) {
		for k := range m {
			if !slices.Contains(names, k) {
				t.Errorf("%s has %q, not in the documented schema", where, k)
			}
		}
	}
	only("notification", raw, "version", "source", "id", "content", "metadata")
	var content, metadata map[string]json.RawMessage
	if err := json.Unmarshal(raw["content"], &content); err != nil {
		t.Fatalf("content: %v", err)
	}
	only("content", content, "textType", "title", "description", "nextSteps", "keywords")
	if raw["metadata"] != nil {
		if err := json.Unmarshal(raw["metadata"], &metadata); err != nil {
			t.Fatalf("metadata: %v", err)
		}
		only("metadata", metadata, "threadId", "summary", "eventType", "relatedResources", "additionalContext")
	}
	var n ChatNotification
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("chat body: %v", err)
	}
	c := n.Content
	if n.Version != "1.0" || n.Source != "custom" || c.TextType != "client-markdown" {
		t.Errorf("version %q source %q textType %q, want 1.0, custom, client-markdown", n.Version, n.Source, c.TextType)
	}
	if l := utf8.RuneCountInString(c.Title); l == 0 || l > 250 {
		t.Errorf("title of %d characters: %q", l, c.Title)
	}
	if l := utf8.RuneCountInString(c.Description); l == 0 || l > 3000 {
		t.Errorf("description of %d characters", l)
	}
	if len(c.NextSteps) > 5 || len(c.Keywords) == 0 || len(c.Keywords) > 5 {
		t.Errorf("%d next steps, %d keywords", len(c.NextSteps), len(c.Keywords))
	}
	for _, s := range slices.Concat(c.NextSteps, c.Keywords) {
		if strings.TrimSpace(s) == "" {
			t.Errorf("empty next step or keyword in %q %q", c.NextSteps, c.Keywords)
		}
	}
	if n.Metadata != nil && utf8.RuneCountInString(n.Metadata.ThreadID) > 256 {
		t.Errorf("threadId of %d characters", utf8.RuneCountInString(n.Metadata.ThreadID))
	}
	for _, s := range []string{c.Title, c.Description} {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 in %q", s)
		}
	}
	return n
}

// chatBody returns the https body of m published with HTTPS_NOTICE_FORMAT=chat.
func chatBody(t *testing.T, m Message) (map[string]string, ChatNotification) {
	t.Helper()
	m.HTTPSFormat = HTTPSChat
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	return structured, CheckChatSchema(t, structured["https"])
}

func pushedImages(n int, since time.Time) *guard.PushedImages {
	p := &guard.PushedImages{Since: since}
	for i := range n {
		p.Images = append(p.Images, guard.Image{Digest: fmt.Sprintf("sha256:%064d", i), Tags: []string{fmt.Sprintf("v1.%d", i), "latest"}, PushedAt: since.Add(time.Duration(i) * time.Minute)})
	}
	return p
}

// TestChatSchemaEveryKind renders every notice kind, and the sweep report
// in one part and in several, for a chat channel and checks each against
// the documented schema and limits, and that a person finds in it what
// the issue asks: kind, repository and account in the title, who did what,
// what ecr-guard did, the images to verify, the console link, keywords for
// kind and severity.
func TestChatSchemaEveryKind(t *testing.T) {
	r := rules(t)
	repo := guard.Repository{Name: "team-b/api", ARN: "arn:aws:ecr:us-east-1:123456789012:repository/team-b/api", RegistryID: "123456789012", Mutability: guard.Mutable}
	console := ConsoleURL("us-east-1", "123456789012", "team-b/api")
	cases := []struct {
		kind    guard.Kind
		area    guard.Area
		dryRun  bool
		noEvent bool // the sweep's FAILED notice
		images  int
		x       guard.ExemptionStatus
	}{
		{kind: guard.KindRemediated, area: guard.AreaMutability, images: 25},
		{kind: guard.KindWouldRemediate, area: guard.AreaMutability, dryRun: true, images: 2},
		{kind: guard.KindObserved, area: guard.AreaMutability, images: 0},
		{kind: guard.KindExempt, area: guard.AreaMutability, x: guard.ExemptionActive},
		{kind: guard.KindExemptionGranted, area: guard.AreaExemption, x: guard.ExemptionActive},
		{kind: guard.KindExemptionRejected, area: guard.AreaExemption, x: guard.ExemptionNameNotAllowed},
		{kind: guard.KindLifecycleRestored, area: guard.AreaLifecycle},
		{kind: guard.KindWouldRestoreLifecycle, area: guard.AreaLifecycle, dryRun: true},
		{kind: guard.KindFailed, area: guard.AreaMutability},
		{kind: guard.KindFailed, area: guard.AreaLifecycle, noEvent: true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s/event=%v", tc.kind, tc.area, !tc.noEvent), func(t *testing.T) {
			ev := assumedRoleEvent()
			ev.Request = guard.Request{Mutability: guard.Mutable}
			plan := guard.Plan{DryRun: tc.dryRun, Findings: []guard.Finding{{Kind: tc.kind, Area: tc.area, Summary: "what ecr-guard did: " + string(tc.kind)}}}
			if tc.x != "" {
				plan.Exemption = guard.Exemption{Status: tc.x, Tag: "environment=dev", Expires: "2026-12-31"}
			}
			in := EventInput{Event: &ev, Region: "us-east-1", Checks: guard.ChecksFor(ev.Name), Before: repo, Plan: plan, Rules: r}
			if tc.noEvent {
				in.Event = nil
			}
			if tc.area == guard.AreaMutability && tc.kind != guard.KindExempt && tc.kind != guard.KindFailed {
				in.Pushed = pushedImages(tc.images, ev.Time)
			}
			m := ForEvent(in)
			structured, n := chatBody(t, m)
			c := n.Content
			for _, want := range []string{string(tc.kind), "team-b/api", "123456789012", "[" + plan.Severity().String() + "]"} {
				if !strings.Contains(c.Title, want) {
					t.Errorf("title %q lacks %q", c.Title, want)
				}
			}
			if !slices.Contains(c.Keywords, string(tc.kind)) || !slices.Contains(c.Keywords, plan.Severity().String()) || slices.Contains(c.Keywords, "DRY_RUN") != tc.dryRun {
				t.Errorf("keywords %q", c.Keywords)
			}
			wants := []string{"*ecr-guard:*", "what ecr-guard did: " + string(tc.kind), "*Now:*", "*Console:* " + console}
			if tc.noEvent {
				wants = append(wants, "scheduled sweep (no CloudTrail event)")
			} else {
				wants = append(wants, "*Who:* `role arn:aws:iam::123456789012:role/deployer, session jane.doe＠example.com",
					"*When:* 2025-06-10T14:10:02Z (CloudTrail event `ct-1`)", "PutImageTagMutability to MUTABLE")
			}
			if tc.dryRun {
				wants = append(wants, "*DRY RUN:*")
			}
			if tc.x != "" {
				wants = append(wants, "*Exemption:* "+string(tc.x))
			}
			if in.Pushed != nil && tc.images > 0 {
				wants = append(wants, "verify these:*", "`sha256:"+strings.Repeat("0", 64)+"` tags `v1.0, latest`")
			}
			for _, want := range wants {
				if !strings.Contains(c.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, c.Description)
				}
			}
			if got := strings.Count(c.Description, "• `sha256:"); got != min(tc.images, chatImages) || (tc.images > chatImages) != strings.Contains(c.Description, "more images were pushed") {
				t.Errorf("%d images listed of %d:\n%s", got, tc.images, c.Description)
			}
			if len(c.NextSteps) == 0 || !strings.Contains(c.NextSteps[len(c.NextSteps)-1], console) {
				t.Errorf("next steps %q lack the console link", c.NextSteps)
			}
			if n.Metadata == nil || n.Metadata.ThreadID != "ecr-guard/123456789012/us-east-1/team-b/api" || n.Metadata.EventType != string(tc.kind) ||
				n.Metadata.Summary != m.Subject || !slices.Equal(n.Metadata.RelatedResources, []string{repo.ARN}) {
				t.Errorf("metadata %+v", n.Metadata)
			}
			// The other protocols are the JSON document and the text.
			if structured["default"] != m.Text || structured["sqs"] == structured["https"] || structured["http"] != structured["sqs"] {
				t.Error("only https changes with the chat format")
			}
		})
	}

	t.Run("SWEEP_REPORT", func(t *testing.T) {
		m := one(t, ForSweep(sweepInput()))
		_, n := chatBody(t, m)
		c := n.Content
		if want := "🔴 [HIGH] SWEEP_REPORT 3 remediated, 0 failed (123456789012 us-east-1)"; c.Title != want {
			t.Errorf("title %q, want %q", c.Title, want)
		}
		for _, want := range []string{"*Scanned* 20 · *Compliant* 15 · *Remediated* 3 (exemption expired 1, invalid 0)", "• `team-a/web`: REMEDIATED, LIFECYCLE_RESTORED",
			"• `team-b/api`: REMEDIATED (exemption expired)", "*Console:* https://us-east-1.console.aws.amazon.com/ecr/private-registry/repositories?region=us-east-1"} {
			if !strings.Contains(c.Description, want) {
				t.Errorf("description lacks %q:\n%s", want, c.Description)
			}
		}
		if !slices.Equal(c.Keywords, []string{"ecr-guard", KindSweepReport, "HIGH"}) {
			t.Errorf("keywords %q", c.Keywords)
		}
	})

	t.Run("SWEEP_REPORT in parts", func(t *testing.T) {
		in := sweepInput()
		in.Counts = SweepCounts{Scanned: 5000, Compliant: 2000, Remediated: 3000, Failed: 1}
		in.Changed = append(reverts(3000), SweepChange{Name: "zz/failed", Actions: []guard.Kind{guard.KindFailed}})
		in.ChainID = "9f2c4e1a7b3d5c60"
		in.Targets, in.FailedTargets = 14, []SweepFailedTarget{{Account: "222222222222", Region: "eu-west-1", Error: "AccessDenied: <!channel> @here"}}
		msgs := ForSweep(in)
		if len(msgs) < 3 {
			t.Fatalf("%d parts", len(msgs))
		}
		for k, m := range msgs {
			sizeOK(t, m)
			_, n := chatBody(t, m)
			c := n.Content
			if want := fmt.Sprintf("🚨 [CRITICAL] SWEEP_REPORT part %d of %d:", k+1, len(msgs)); !strings.HasPrefix(c.Title, want) {
				t.Errorf("title %q, want it to start with %q", c.Title, want)
			}
			if n.Metadata.ThreadID != "ecr-guard/sweep/9f2c4e1a7b3d5c60" || n.Metadata.AdditionalContext["part"] != fmt.Sprint(k+1) {
				t.Errorf("metadata %+v", n.Metadata)
			}
			if !strings.Contains(c.Description, "see the email report") || strings.Contains(c.Description, "<!channel>") || strings.Contains(c.Description, "@here") {
				t.Errorf("part %d description:\n%s", k+1, c.Description)
			}
			if !slices.ContainsFunc(c.NextSteps, func(s string) bool { return strings.Contains(s, "FAILED") }) {
				t.Errorf("next steps %q", c.NextSteps)
			}
		}
	})
}

// TestHTTPSBodyIsTheDocumentUnlessChat: with the default format (unset or
// json) the message is byte for byte what it was before chat existed:
// https carries the JSON document like sqs, lambda and http.
func TestHTTPSBodyIsTheDocumentUnlessChat(t *testing.T) {
	r := rules(t)
	ev := createEvent()
	before := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	checks := guard.ChecksFor(ev.Name)
	m := ForEvent(EventInput{Event: &ev, Checks: checks, Before: before, Plan: r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: before, Now: time.Now()}), Rules: r})
	for _, m := range append([]Message{m}, ForSweep(sweepInput())...) {
		doc, err := marshal(m.Document)
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshal(map[string]string{"default": m.Text, "email": m.Text, "sqs": doc, "lambda": doc, "https": doc, "http": doc})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []HTTPSFormat{"", HTTPSJSON} {
			m.HTTPSFormat = f
			if got, err := m.SNSMessage(); err != nil || got != want {
				t.Errorf("format %q: the message changed:\n%s\nwant\n%s", f, got, want)
			}
		}
		structured, _ := chatBody(t, m)
		var before map[string]string
		if err := json.Unmarshal([]byte(want), &before); err != nil {
			t.Fatal(err)
		}
		for k, v := range before {
			if k != "https" && structured[k] != v {
				t.Errorf("chat changed %s", k)
			}
		}
	}
}

// TestChatValuesAreInert: a value from outside ecr-guard (a session name,
// a user agent, a tag) cannot mention a channel, link or format the chat
// message; it shows as code, with look-alikes for < @ * ~ and backquotes.
func TestChatValuesAreInert(t *testing.T) {
	r := rules(t)
	ev := assumedRoleEvent()
	ev.Principal.SessionName = "<!channel> @here *bold* ~strike~ `code`"
	ev.UserAgent = "<https://evil.example|click>"
	ev.Request = guard.Request{Mutability: guard.Mutable}
	repo := guard.Repository{Name: "team-b/api", RegistryID: "123456789012", Mutability: guard.Mutable}
	plan := guard.Plan{Findings: []guard.Finding{{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: "AccessDenied: <@U123> not authorized"}}}
	_, n := chatBody(t, ForEvent(EventInput{Event: &ev, Region: "us-east-1", Before: repo, Plan: plan, Rules: r}))
	for _, bad := range []string{"<!channel>", "@here", "*bold*", "~strike~", "`code`", "<https://evil", "<@U123>"} {
		if strings.Contains(n.Content.Description, bad) || strings.Contains(n.Content.Title, bad) {
			t.Errorf("%q got through:\n%s", bad, n.Content.Description)
		}
	}
	if !strings.Contains(n.Content.Description, "‹!channel> ＠here ∗bold∗ ∼strike∼ ˋcodeˋ") {
		t.Errorf("the session name is not shown inert:\n%s", n.Content.Description)
	}
}

// TestChatDescriptionStaysWithinItsLimit: huge values and many images still
// give a description within the limit, lines cut, code spans closed.
func TestChatDescriptionStaysWithinItsLimit(t *testing.T) {
	r := rules(t)
	ev := assumedRoleEvent()
	ev.UserAgent = strings.Repeat("ü", 5000)
	ev.Request = guard.Request{Mutability: guard.Mutable, Tags: []guard.Tag{{Key: strings.Repeat("k", 128), Value: strings.Repeat("v", 256)}}}
	repo := guard.Repository{Name: strings.Repeat("n", 300), RegistryID: "123456789012", Mutability: guard.Mutable}
	var findings []guard.Finding
	for range 20 {
		findings = append(findings, guard.Finding{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: strings.Repeat("e", 2000)})
	}
	p := pushedImages(100, ev.Time)
	for i := range p.Images {
		for j := range 100 {
			p.Images[i].Tags = append(p.Images[i].Tags, fmt.Sprintf("t%03d-%s", j, strings.Repeat("x", 120)))
		}
	}
	m := ForEvent(EventInput{Event: &ev, Region: "us-east-1", Checks: guard.ChecksFor(ev.Name), Before: repo, Plan: guard.Plan{Findings: findings}, Rules: r, Pushed: p})
	_, n := chatBody(t, m)
	d := n.Content.Description
	if !strings.Contains(d, "more line(s): see the email report") {
		t.Errorf("nothing was cut:\n%s", d)
	}
	for _, line := range strings.Split(d, "\n") {
		if utf8.RuneCountInString(line) > chatLine || strings.Count(line, "`")%2 != 0 {
			t.Errorf("line of %d characters, %d backquotes", utf8.RuneCountInString(line), strings.Count(line, "`"))
		}
	}
	if utf8.RuneCountInString(n.Content.Title) > MaxChatTitle {
		t.Error("title too long")
	}
}

func TestParseHTTPSFormat(t *testing.T) {
	for in, want := range map[string]HTTPSFormat{"": HTTPSJSON, "json": HTTPSJSON, "JSON": HTTPSJSON, "chat": HTTPSChat, " chat ": HTTPSChat} {
		if got, err := ParseHTTPSFormat(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := ParseHTTPSFormat("slack"); err == nil {
		t.Error("slack accepted")
	}
}
