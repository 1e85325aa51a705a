package notice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// units are what the generated text is made of: plain ASCII, what JSON
// escapes (twice, in the document), control characters, invalid UTF-8,
// 4-byte characters and line separators.
var units = []string{"a", `"`, `\`, "\x01", "\n", "\xff", "😀", "\u2028", `\"`, "é"}

type gen struct {
	rng      *rand.Rand
	unit     string // "" for a random mix
	max      bool   // every value at its largest
	template bool   // a repository creation template's notice
}

func (g *gen) text(max int) string {
	n := max
	if !g.max {
		n = []int{0, 1, 40, 1_000, max / 3, max}[g.rng.IntN(6)]
	}
	if g.unit != "" {
		return strings.Repeat(g.unit, n/len(g.unit)+1)[:n]
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(units[g.rng.IntN(len(units))])
	}
	return b.String()
}

func (g *gen) count(max int) int {
	if g.max {
		return max
	}
	return g.rng.IntN(max + 1)
}

// fill sets every string, list and flag of v (a pointer to a struct),
// whatever fields guard.Event gains: a field added later is covered too.
func (g *gen) fill(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
		case f.Kind() == reflect.String:
			f.SetString(g.text(300_000))
		case f.Type() == reflect.TypeOf([]string(nil)):
			many := g.count(2_000)
			list := make([]string, many)
			for j := range list {
				list[j] = g.text(300)
			}
			f.Set(reflect.ValueOf(list))
		case f.Type() == reflect.TypeOf([]guard.Tag(nil)):
			f.Set(reflect.ValueOf(g.tags(2_000)))
		case f.Type() == reflect.TypeOf((*bool)(nil)):
			b := g.rng.IntN(2) == 0
			f.Set(reflect.ValueOf(&b))
		case f.Kind() == reflect.Struct:
			g.fill(f)
		}
	}
}

func (g *gen) tags(max int) []guard.Tag {
	tags := make([]guard.Tag, g.count(max))
	for j := range tags {
		tags[j] = guard.Tag{Key: g.text(300), Value: g.text(300)}
		if j%3 == 0 { // an exemption tag, so the exemption is reported
			tags[j].Key = "environment"
		}
		if j%5 == 0 {
			tags[j].Key = "exemption-expires"
		}
	}
	return tags
}

func (g *gen) pick(values ...string) string {
	if g.rng.IntN(4) == 0 {
		return g.text(300_000)
	}
	return values[g.rng.IntN(len(values))]
}

// input makes one notice input whose every text from outside ecr-guard is
// huge: the event, the repository's state and tags, AWS error messages.
func (g *gen) input(rules guard.Rules) notice.EventInput {
	now := time.Date(2025, 6, 10, 15, 0, 0, 0, time.UTC)
	ev := &guard.Event{}
	g.fill(reflect.ValueOf(ev).Elem())
	ev.Time = now.Add(-time.Hour)
	ev.Name = g.pick(append(slices.Clone(guard.HandledEventNames), guard.EventPullThroughCacheAction, guard.EventReplicationAction)...)
	if _, ok := guard.ServiceCreation(*ev); ok && g.rng.IntN(2) == 0 {
		ev.EventID = "" // ECR's own events have none: the envelope id is shown, huge too
	}
	ev.Principal.Type = g.pick("AssumedRole", "IAMUser", "AWSService", "Root")
	ev.Request.Mutability = g.pick(guard.Mutable, guard.MutableWithExclusion, guard.ImmutableWithExclusion)

	before := guard.Repository{
		Name: g.text(300_000), ARN: g.text(300_000), RegistryID: g.text(300_000),
		Mutability: g.pick(guard.Mutable, guard.Immutable, guard.MutableWithExclusion, guard.ImmutableWithExclusion),
		Tags:       g.tags(2_000),
		Lifecycle:  guard.Lifecycle{Exists: g.rng.IntN(2) == 0, Text: g.text(300_000)},
	}
	for range g.count(2_000) {
		before.ExclusionFilters = append(before.ExclusionFilters, g.text(300))
	}
	checks := guard.ChecksFor(ev.Name)
	if !guard.IsHandled(ev.Name) {
		checks = guard.Checks{Mutability: true, Lifecycle: true}
	}
	in := notice.EventInput{Event: ev, Checks: checks, Before: before, Rules: rules}
	if g.rng.IntN(8) == 0 { // the scheduled sweep's FAILED notice
		in.Event = nil
	}
	if g.template {
		tpl := &guard.Template{}
		g.fill(reflect.ValueOf(tpl).Elem())
		tpl.Mutability = before.Mutability
		in.Template, in.Account, in.Before = tpl, g.text(300_000), guard.Repository{}
		if g.rng.IntN(2) == 0 { // a deleted template: its prefix alone
			in.Template = &guard.Template{Prefix: tpl.Prefix, AppliedFor: tpl.AppliedFor}
		}
		live := in.Template
		if live.Mutability == "" {
			live = nil
		}
		in.Plan = rules.DecideTemplate(guard.TemplateInput{Event: in.Event, Template: live, Prefix: in.Template.Prefix, Now: now}).Plan
	} else {
		in.Plan = rules.Decide(guard.Input{Event: in.Event, Checks: checks, Repo: before, Now: now})
		// A repository ECR created on its own, from a template or not.
		in.Shaping = &guard.Shaping{AppliedFor: g.pick(guard.AppliedForReplication, guard.AppliedForPullThroughCache, guard.AppliedForCreateOnPush, "")}
		if g.max || g.rng.IntN(4) != 0 {
			in.Shaping.Template = &guard.Template{}
			g.fill(reflect.ValueOf(in.Shaping.Template).Elem())
		}
	}
	for _, area := range []guard.Area{guard.AreaMutability, guard.AreaLifecycle, guard.AreaExemption} {
		if g.max || g.rng.IntN(3) == 0 {
			in.Plan.Fail(area, "could not write: "+g.text(300_000))
		}
	}
	if len(in.Plan.Findings) == 0 {
		in.Plan.Fail(guard.AreaMutability, "could not read the repository: "+g.text(300_000))
	}
	if g.max || g.rng.IntN(2) == 0 {
		x := &in.Plan.Exemption
		x.Status, x.Tag, x.Expires = guard.ExemptionInvalidExpiry, g.text(300_000), g.text(300_000)
		for range g.count(2_000) {
			x.Tags = append(x.Tags, g.text(300))
			x.ExpiryTags = append(x.ExpiryTags, g.text(300))
		}
	}
	if g.max || g.rng.IntN(2) == 0 {
		p := &guard.PushedImages{Since: ev.Time, Truncated: g.rng.IntN(2) == 0, Error: g.text(300_000)}
		for i := range 100 {
			var tags []string
			for j := range 100 { // ECR: at most 100 tags of 128 characters an image
				tags = append(tags, fmt.Sprintf("t%03d-%s", j, strings.Repeat("x", 120)))
			}
			p.Images = append(p.Images, guard.Image{Digest: fmt.Sprintf("sha256:%064d", i), Tags: tags, PushedAt: now})
		}
		in.Pushed = p
	}
	return in
}

// TestEveryNoticeFitsSNS feeds maximal and random values into every field a
// notice takes from outside ecr-guard, for repositories (ECR's own
// creations with the template that shaped them) and for templates (live
// or deleted), and checks that every message stays under SNS's
// 256 KB (body and attributes), keeps a valid subject, and is accepted by
// SNS (moto, which enforces the size and subject limits).
func TestEveryNoticeFitsSNS(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes to moto")
	}
	moto := testenv.StartMoto(t)
	api := sns.NewFromConfig(moto.AWSConfig(t, moto.URL()))
	ctx := context.Background()
	topic, err := api.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("notice-size")})
	if err != nil {
		t.Fatal(err)
	}
	pub := snspub.New(api, aws.ToString(topic.TopicArn))

	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := guard.Rules{Baseline: baseline, LifecycleMode: guard.LifecycleEnforce, ExemptionExpiresTag: "exemption-expires",
		ExemptTags: []guard.TagMatcher{{Key: "environment", Value: "*"}}}

	var gens []*gen
	for _, template := range []bool{false, true} {
		for i, u := range units { // every field at its largest, one character kind at a time
			gens = append(gens, &gen{rng: rand.New(rand.NewPCG(uint64(i), 1)), unit: u, max: true, template: template})
		}
	}
	for seed := range 30 { // random sizes and mixes; every third a template's
		gens = append(gens, &gen{rng: rand.New(rand.NewPCG(uint64(seed), 2)), template: seed%3 == 2})
	}
	largest := 0
	for i, g := range gens {
		r := rules
		r.DryRun = g.rng.IntN(4) == 0
		in := g.input(r)
		m := notice.ForEvent(in)
		size := checkFits(t, i, m)
		doc := m.Document.(notice.EventDocument)
		name := doc.Repository.Name
		if g.template {
			name = doc.Template.Prefix
		} else if g.max && (doc.ShapedBy == nil || doc.ShapedBy.Template == nil || !strings.HasSuffix(doc.ShapedBy.Template.Prefix, " chars]")) {
			t.Errorf("case %d: the shaping template's huge prefix is missing or not marked as cut: %+v", i, doc.ShapedBy)
		}
		if g.max && in.Event != nil && (!strings.HasSuffix(doc.Trigger.UserAgent, " chars]") || !strings.HasSuffix(name, " chars]")) {
			t.Errorf("case %d: a huge value was not marked as cut: userAgent %.40q... name %.40q...", i, doc.Trigger.UserAgent, name)
		}
		if want := map[bool]string{false: notice.ResourceRepository, true: notice.ResourceTemplate}[g.template]; m.Attributes["resourceType"] != want {
			t.Errorf("case %d: resourceType %q, want %q", i, m.Attributes["resourceType"], want)
		}
		largest = max(largest, size)
		id, err := pub.Publish(ctx, m)
		if err != nil || id == "" {
			t.Fatalf("case %d (unit %q): SNS refused the notice (%d bytes): %v", i, g.unit, size, err)
		}
		// The same notice for a chat channel (HTTPS_NOTICE_FORMAT=chat).
		m.HTTPSFormat = notice.HTTPSChat
		body, err := m.SNSMessage()
		if err != nil || len(body) > notice.MaxSNSMessageBytes {
			t.Fatalf("case %d: chat form of %d bytes: %v", i, len(body), err)
		}
		var structured map[string]string
		if err := json.Unmarshal([]byte(body), &structured); err != nil {
			t.Fatal(err)
		}
		notice.CheckChatSchema(t, structured["https"])
		if id, err := pub.Publish(ctx, m); err != nil || id == "" {
			t.Fatalf("case %d (unit %q): SNS refused the chat form: %v", i, g.unit, err)
		}
	}
	t.Logf("%d notices, the largest %d bytes (limit %d)", len(gens), largest, notice.MaxSNSMessageBytes)
}

// checkFits checks one message against SNS's limits and returns its size.
func checkFits(t *testing.T, i int, m notice.Message) int {
	t.Helper()
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatalf("case %d: %v", i, err)
	}
	size := len(body)
	for k, v := range m.Attributes {
		size += len(k) + len("String") + len(v)
	}
	if size > notice.MaxSNSMessageBytes {
		t.Fatalf("case %d: %d bytes, over SNS's %d", i, size, notice.MaxSNSMessageBytes)
	}
	if len(m.Subject) == 0 || len(m.Subject) > notice.MaxSubjectLength {
		t.Fatalf("case %d: subject of %d characters", i, len(m.Subject))
	}
	for _, r := range m.Subject {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("case %d: subject %q holds %q", i, m.Subject, r)
		}
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatalf("case %d: the message is not JSON: %v", i, err)
	}
	for _, proto := range []string{"sqs", "lambda", "http", "https"} {
		var doc notice.EventDocument
		if err := json.Unmarshal([]byte(structured[proto]), &doc); err != nil || doc.SchemaVersion != notice.SchemaVersion {
			t.Fatalf("case %d: the %s document does not parse: %v", i, proto, err)
		}
	}
	if structured["default"] == "" || structured["email"] != structured["default"] {
		t.Fatalf("case %d: no text report", i)
	}
	for _, line := range strings.Split(structured["default"], "\n") {
		if strings.HasPrefix(line, "Who:") && strings.Count(structured["default"], "\nWho:") != 1 {
			t.Fatalf("case %d: a value forged a Who line", i)
		}
	}
	return size
}
