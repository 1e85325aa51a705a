package notice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

const templatesConsole = "https://us-east-1.console.aws.amazon.com/ecr/private-registry/repository-creation-templates?region=us-east-1"

// templateEvent is a call on template prefix by an IAM user.
func templateEvent(name, prefix string) guard.Event {
	return guard.Event{
		ID: "env-t", EventID: "ct-t", Name: name,
		Time:   time.Date(2025, 6, 10, 14, 30, 0, 0, time.UTC),
		Region: "us-east-1", Account: "123456789012",
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/alice"},
		SourceIP:  "198.51.100.23", UserAgent: "aws-cli/2.27.31",
		Template: prefix,
	}
}

func liveTemplate(prefix, mutability string, lifecycle guard.Lifecycle) *guard.Template {
	return &guard.Template{Prefix: prefix, AppliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache},
		Mutability: mutability, Lifecycle: lifecycle}
}

// decodeEvent returns the structured message and the sqs document, raw.
func decodeEvent(t *testing.T, m Message) (map[string]string, map[string]any) {
	t.Helper()
	body, err := m.SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(structured["sqs"]), &raw); err != nil {
		t.Fatal(err)
	}
	return structured, raw
}

// TestTemplateNoticeEveryKind renders a template notice of every kind and
// checks what makes it one: the template object in place of repository,
// the subject, the resourceType and template attributes, the text saying
// "template", the creation templates console page, no image list.
func TestTemplateNoticeEveryKind(t *testing.T) {
	r := rules(t)
	baseline := guard.Lifecycle{Exists: true, Text: r.Baseline.Text()}
	dry := r
	dry.DryRun = true
	now := time.Date(2025, 6, 10, 14, 31, 0, 0, time.UTC)
	decide := func(r guard.Rules, ev *guard.Event, tpl *guard.Template, prefix string) guard.Plan {
		return r.DecideTemplate(guard.TemplateInput{Event: ev, Template: tpl, Prefix: prefix, Now: now}).Plan
	}
	create := templateEvent(guard.EventCreateRepositoryCreationTemplate, "prod")
	create.Request = guard.Request{Mutability: guard.Mutable, AppliedFor: []string{guard.AppliedForReplication}}
	update := templateEvent(guard.EventUpdateRepositoryCreationTemplate, "prod")
	update.Request = guard.Request{Mutability: guard.Mutable}
	deleted := templateEvent(guard.EventDeleteRepositoryCreationTemplate, "prod")
	deletedRoot := templateEvent(guard.EventDeleteRepositoryCreationTemplate, guard.RootPrefix)
	exempt := templateEvent(guard.EventCreateRepositoryCreationTemplate, "dev")
	exempt.Request = guard.Request{Mutability: guard.Mutable, Tags: []guard.Tag{{Key: "environment", Value: "dev"}}}
	failed := guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable}}
	failed.Fail(guard.AreaMutability, "could not update the template: AccessDeniedException")

	tests := []struct {
		name     string
		rules    guard.Rules
		event    *guard.Event
		account  string // the registry's, given when there is no event
		region   string
		template *guard.Template
		plan     guard.Plan
		subject  string
		severity string
		before   RepositoryState
		after    RepositoryState
		text     []string
	}{
		{
			name: "made mutable", rules: r, event: &create, template: liveTemplate("prod", guard.Mutable, baseline),
			plan:     decide(r, &create, liveTemplate("prod", guard.Mutable, baseline), "prod"),
			subject:  "[ecr-guard] REMEDIATED template prod -> IMMUTABLE (123456789012 us-east-1)",
			severity: "HIGH",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
			text: []string{"ecr-guard REMEDIATED (HIGH): template prod in account 123456789012, us-east-1\n",
				"Applies to:   repositories ECR creates under prod/ (REPLICATION, PULL_THROUGH_CACHE)\n",
				"What changed: CreateRepositoryCreationTemplate with image tag mutability MUTABLE, applied for REPLICATION\n",
				"Who:          arn:aws:iam::123456789012:user/alice (IAMUser)\n",
				"Now:          image tag mutability IMMUTABLE, lifecycle policy baseline\n"},
		},
		{
			name: "dry run", rules: dry, event: &update, template: liveTemplate("prod", guard.Mutable, baseline),
			plan: guard.Plan{DryRun: true, SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable},
				Findings: []guard.Finding{{Kind: guard.KindWouldRemediate, Area: guard.AreaMutability, Summary: "dry run: would set image tag mutability MUTABLE -> IMMUTABLE"}}},
			subject:  "[ecr-guard] WOULD_REMEDIATE template prod -> IMMUTABLE (123456789012 us-east-1)",
			severity: "HIGH",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			text: []string{"DRY RUN: nothing was changed.\n",
				"What changed: UpdateRepositoryCreationTemplate to image tag mutability MUTABLE\n"},
		},
		{
			name: "lifecycle restored", rules: r, event: &update, template: liveTemplate("prod", guard.Immutable, guard.Lifecycle{}),
			plan: guard.Plan{PutLifecycle: true, LifecycleText: r.Baseline.Text(),
				Findings: []guard.Finding{{Kind: guard.KindLifecycleRestored, Area: guard.AreaLifecycle, Summary: "no lifecycle policy; applied the baseline lifecycle policy"}}},
			subject:  "[ecr-guard] LIFECYCLE_RESTORED template prod (123456789012 us-east-1)",
			severity: "LOW",
			before:   RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "absent"},
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
			text:     []string{"Now:          image tag mutability IMMUTABLE, lifecycle policy baseline\n"},
		},
		{
			name: "lifecycle dry run", rules: dry, event: &update, template: liveTemplate("prod", guard.Immutable, guard.Lifecycle{}),
			plan: guard.Plan{DryRun: true, PutLifecycle: true, LifecycleText: r.Baseline.Text(),
				Findings: []guard.Finding{{Kind: guard.KindWouldRestoreLifecycle, Area: guard.AreaLifecycle, Summary: "dry run: no lifecycle policy; would apply the baseline lifecycle policy"}}},
			subject:  "[ecr-guard] WOULD_RESTORE_LIFECYCLE template prod (123456789012 us-east-1)",
			severity: "LOW",
			before:   RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "absent"},
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "absent"},
		},
		{
			name: "mutable in between", rules: r, event: &update, template: liveTemplate("prod", guard.Immutable, baseline),
			plan: guard.Plan{Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaMutability,
				Summary: "UpdateRepositoryCreationTemplate set MUTABLE; the template is IMMUTABLE again"}}},
			subject:  "[ecr-guard] OBSERVED template prod (123456789012 us-east-1)",
			severity: "HIGH",
			before:   RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
		},
		{
			name: "deleted", rules: r, event: &deleted, template: &guard.Template{Prefix: "prod"},
			plan:     decide(r, &deleted, nil, "prod"),
			subject:  "[ecr-guard] OBSERVED template prod deleted (123456789012 us-east-1)",
			severity: "MEDIUM",
			text: []string{"ecr-guard OBSERVED (MEDIUM): template prod in account 123456789012, us-east-1\n",
				"Applies to:   repositories ECR creates under prod/\n",
				"What changed: DeleteRepositoryCreationTemplate deleted the template\n",
				"Now:          no template with this prefix\n"},
		},
		{
			name: "exempt", rules: r, event: &exempt,
			template: &guard.Template{Prefix: "dev", AppliedFor: []string{guard.AppliedForPullThroughCache}, Mutability: guard.Mutable,
				Lifecycle: baseline, ResourceTags: []guard.Tag{{Key: "environment", Value: "dev"}}},
			plan: guard.Plan{Exemption: guard.Exemption{Status: guard.ExemptionActive, Tag: "environment=dev"},
				Findings: []guard.Finding{{Kind: guard.KindExempt, Area: guard.AreaMutability, Summary: "CreateRepositoryCreationTemplate set MUTABLE; allowed by exemption tag environment=dev"}}},
			subject:  "[ecr-guard] EXEMPT template dev (123456789012 us-east-1)",
			severity: "MEDIUM",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			text: []string{"What changed: CreateRepositoryCreationTemplate with image tag mutability MUTABLE, resource tags environment=dev\n",
				"Applies to:   repositories ECR creates under dev/ (PULL_THROUGH_CACHE)\n"},
		},
		{
			name: "failed", rules: r, event: &update, template: liveTemplate("prod", guard.Mutable, baseline), plan: failed,
			subject:  "[ecr-guard] FAILED template prod (123456789012 us-east-1)",
			severity: "CRITICAL",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			text:     []string{"  - [FAILED] could not update the template: AccessDeniedException\n"},
		},
		{
			name: "failed in the sweep", rules: r, account: "210987654321", region: "eu-west-1",
			template: liveTemplate("prod", guard.Mutable, baseline), plan: failed,
			subject:  "[ecr-guard] FAILED template prod (210987654321 eu-west-1)",
			severity: "CRITICAL",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			text: []string{"ecr-guard FAILED (CRITICAL): template prod in account 210987654321, eu-west-1\n",
				"What changed: Scheduled sweep (no CloudTrail event)\n"},
		},
		{
			// ROOT_TEMPLATE=ensure recreating a deleted ROOT template: the
			// plan describes what it creates as writes (SetMutability,
			// PutLifecycle), so After is the created template.
			name: "ROOT deleted and created again", rules: r, event: &deletedRoot, template: &guard.Template{Prefix: guard.RootPrefix},
			plan: guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable}, PutLifecycle: true, LifecycleText: r.Baseline.Text(),
				Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "template ROOT deleted"},
					{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "created the ROOT template"}}},
			subject:  "[ecr-guard] REMEDIATED template ROOT -> IMMUTABLE (123456789012 us-east-1)",
			severity: "HIGH",
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
			text:     []string{"Now:          image tag mutability IMMUTABLE, lifecycle policy baseline\n"},
		},
		{
			name: "ROOT made mutable", rules: r, event: &update,
			template: &guard.Template{Prefix: guard.RootPrefix, AppliedFor: []string{guard.AppliedForReplication}, Mutability: guard.Mutable, Lifecycle: baseline},
			plan: guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable},
				Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "set image tag mutability MUTABLE -> IMMUTABLE"}}},
			subject:  "[ecr-guard] REMEDIATED template ROOT -> IMMUTABLE (123456789012 us-east-1)",
			severity: "HIGH",
			before:   RepositoryState{ImageTagMutability: "MUTABLE", LifecyclePolicy: "baseline"},
			after:    RepositoryState{ImageTagMutability: "IMMUTABLE", LifecyclePolicy: "baseline"},
			text:     []string{"Applies to:   repositories ECR creates that no more specific template covers (REPLICATION)\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.plan.Severity().String() != tt.severity {
				t.Fatalf("the plan is %s %s, the case wants %s: %+v", tt.plan.Kind(), tt.plan.Severity(), tt.severity, tt.plan)
			}
			region := tt.region
			if region == "" {
				region = "us-east-1"
			}
			in := EventInput{Event: tt.event, Region: tt.region, Account: tt.account, Checks: guard.Checks{Mutability: true, Lifecycle: true},
				Template: tt.template, Plan: tt.plan, Rules: tt.rules,
				Pushed: pushedImages(3, time.Date(2025, 6, 10, 14, 30, 0, 0, time.UTC))} // ignored: a template holds no images
			m := ForEvent(in)
			if m.Subject != tt.subject {
				t.Errorf("subject %q, want %q", m.Subject, tt.subject)
			}
			account := "123456789012"
			if tt.account != "" {
				account = tt.account
			}
			wantAttrs := map[string]string{"kind": string(tt.plan.Kind()), "severity": tt.severity, "resourceType": "template",
				"template": tt.template.Prefix, "account": account, "region": region}
			if tt.event != nil {
				wantAttrs["eventName"] = tt.event.Name
			}
			for k, v := range wantAttrs {
				if m.Attributes[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
				}
			}
			if _, ok := m.Attributes["repository"]; ok {
				t.Errorf("a template notice has a repository attribute: %v", m.Attributes)
			}

			structured, raw := decodeEvent(t, m)
			if _, ok := raw["repository"]; ok {
				t.Errorf("the document has a repository: %s", structured["sqs"])
			}
			if _, ok := raw["pushedWhileMutable"]; ok || strings.Contains(m.Text, "Pushed while") {
				t.Error("a template notice lists pushed images")
			}
			doc := m.Document.(EventDocument)
			wantRef := TemplateRef{Prefix: tt.template.Prefix, AppliedFor: tt.template.AppliedFor, RegistryID: account, Region: region}
			if doc.Template == nil || doc.Template.Prefix != wantRef.Prefix || strings.Join(doc.Template.AppliedFor, ",") != strings.Join(wantRef.AppliedFor, ",") ||
				doc.Template.RegistryID != wantRef.RegistryID || doc.Template.Region != wantRef.Region {
				t.Errorf("template %+v, want %+v", doc.Template, wantRef)
			}
			if doc.SchemaVersion != "1.1" || string(doc.Kind) != wantAttrs["kind"] || doc.Severity != tt.severity || doc.DryRun != tt.rules.DryRun ||
				doc.ConsoleURL != TemplatesConsoleURL(region) || (doc.Trigger != nil) != (tt.event != nil) {
				t.Errorf("document %+v", doc)
			}
			if !sameState(doc.Before, tt.before) || !sameState(doc.After, tt.after) {
				t.Errorf("before %+v after %+v, want %+v and %+v", doc.Before, doc.After, tt.before, tt.after)
			}
			if raw["before"] == nil || raw["after"] == nil {
				t.Errorf("before or after missing: %s", structured["sqs"])
			}
			for _, want := range append(tt.text, "Console:      "+TemplatesConsoleURL(region)+"\n") {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, m.Text)
				}
			}
			if strings.Contains(m.Text, "repository prod") || strings.Contains(m.Text, "repositories/private") {
				t.Errorf("the text calls the template a repository:\n%s", m.Text)
			}
		})
	}
}

func sameState(a, b RepositoryState) bool {
	return a.ImageTagMutability == b.ImageTagMutability && a.LifecyclePolicy == b.LifecyclePolicy &&
		strings.Join(a.ExclusionFilters, ",") == strings.Join(b.ExclusionFilters, ",")
}

// TestTemplateSubjects: the subject mirrors the repository's, with
// "template" before the prefix; a long prefix is shortened, never the
// kind, the word template or the end.
func TestTemplateSubjects(t *testing.T) {
	r := rules(t)
	long := strings.Repeat("team-platform/", 12) + "x"
	remediated := guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.ImmutableWithExclusion, ExclusionFilters: []string{"latest"}},
		Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "set"}}}
	gone := guard.Plan{Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "gone"}}}
	del := templateEvent(guard.EventDeleteRepositoryCreationTemplate, long)
	for _, tt := range []struct {
		name  string
		event *guard.Event
		tpl   guard.Template
		plan  guard.Plan
		want  string
	}{
		{"filters kept", nil, guard.Template{Prefix: "prod", Mutability: guard.ImmutableWithExclusion}, remediated,
			"[ecr-guard] REMEDIATED template prod -> IMMUTABLE_WITH_EXCLUSION (123456789012 us-east-1)"},
		{"long prefix", nil, guard.Template{Prefix: long, Mutability: guard.Mutable}, remediated,
			"[ecr-guard] REMEDIATED template team-platfor... -> IMMUTABLE_WITH_EXCLUSION (123456789012 us-east-1)"},
		{"long prefix deleted", &del, guard.Template{Prefix: long}, gone,
			"[ecr-guard] OBSERVED template team-platform/team-platform/team-p... deleted (123456789012 us-east-1)"},
		{"ROOT missing", nil, guard.Template{Prefix: guard.RootPrefix}, gone,
			"[ecr-guard] OBSERVED template ROOT missing (123456789012 us-east-1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := ForEvent(EventInput{Event: tt.event, Region: "us-east-1", Account: "123456789012", Template: &tt.tpl, Plan: tt.plan, Rules: r})
			if m.Subject != tt.want || len(m.Subject) > MaxSubjectLength {
				t.Errorf("subject %q (%d characters), want %q", m.Subject, len(m.Subject), tt.want)
			}
		})
	}
}

// TestEveryNoticeCarriesResourceType builds every kind of message notice
// makes (event notices for repositories and templates, with and without
// an event, and the sweep report in one part, in parts and interim) and
// fails when one lacks the resourceType attribute or has another value.
func TestEveryNoticeCarriesResourceType(t *testing.T) {
	r := rules(t)
	ev := createEvent()
	repo := guard.Repository{Name: "team-a/web", RegistryID: "123456789012", Mutability: guard.Mutable}
	checks := guard.ChecksFor(ev.Name)
	repoPlan := r.Decide(guard.Input{Event: &ev, Checks: checks, Repo: repo, Now: ev.Time})
	tev := templateEvent(guard.EventDeleteRepositoryCreationTemplate, "prod")
	tplPlan := guard.Plan{Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "deleted"}}}
	failed := guard.Plan{}
	failed.Fail(guard.AreaMutability, "AccessDenied")

	type notice struct {
		name string
		msgs []Message
		want string
	}
	parts := sweepInput()
	parts.Changed = reverts(3000)
	interim := parts
	interim.Interim = true
	notices := []notice{
		{"repository event", []Message{ForEvent(EventInput{Event: &ev, Checks: checks, Before: repo, Plan: repoPlan, Rules: r})}, "repository"},
		{"repository in the sweep", []Message{ForEvent(EventInput{Region: "us-east-1", Before: repo, Plan: failed, Rules: r})}, "repository"},
		{"template event", []Message{ForEvent(EventInput{Event: &tev, Template: &guard.Template{Prefix: "prod"}, Plan: tplPlan, Rules: r})}, "template"},
		{"template in the sweep", []Message{ForEvent(EventInput{Region: "us-east-1", Account: "123456789012", Template: &guard.Template{Prefix: "prod"}, Plan: failed, Rules: r})}, "template"},
		{"sweep report", ForSweep(sweepInput()), "registry"},
		{"sweep report in parts", ForSweep(parts), "registry"},
		{"interim parts", ForSweep(interim), "registry"},
	}
	for _, n := range notices {
		if n.name == "sweep report in parts" && len(n.msgs) < 2 {
			t.Fatalf("%s: %d messages", n.name, len(n.msgs))
		}
		for _, m := range n.msgs {
			if got, ok := m.Attributes["resourceType"]; !ok || got != n.want {
				t.Errorf("%s %q: resourceType %q (present %v), want %q", n.name, m.Subject, got, ok, n.want)
			}
			for k, v := range m.Attributes {
				if v == "" && k != "eventName" { // a sweep notice has no event
					t.Errorf("%s: attribute %s is empty", n.name, k)
				}
			}
		}
	}
}

// TestTemplateChat: a template notice for a chat channel follows the
// documented schema and names the template, not a repository.
func TestTemplateChat(t *testing.T) {
	r := rules(t)
	baseline := guard.Lifecycle{Exists: true, Text: r.Baseline.Text()}
	ev := templateEvent(guard.EventUpdateRepositoryCreationTemplate, "prod")
	ev.Request = guard.Request{Mutability: guard.Mutable}
	fixed := guard.Plan{SetMutability: &guard.MutabilitySetting{Mutability: guard.Immutable},
		Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "set image tag mutability MUTABLE -> IMMUTABLE"}}}
	del := templateEvent(guard.EventDeleteRepositoryCreationTemplate, "prod")
	gone := r.DecideTemplate(guard.TemplateInput{Event: &del, Prefix: "prod", Now: del.Time}).Plan
	for _, tt := range []struct {
		name  string
		event *guard.Event
		tpl   *guard.Template
		plan  guard.Plan
		title string
		lines []string
		step  string
	}{
		{"remediated", &ev, liveTemplate("prod", guard.Mutable, baseline), fixed,
			"🔴 [HIGH] REMEDIATED template prod (123456789012 us-east-1)",
			[]string{"*Applies to:* repositories ECR creates under prod/ (REPLICATION, PULL_THROUGH_CACHE)",
				"*What changed:* `UpdateRepositoryCreationTemplate to image tag mutability MUTABLE`",
				"*Now:* image tag mutability IMMUTABLE, lifecycle policy baseline"}, ""},
		{"deleted", &del, &guard.Template{Prefix: "prod"}, gone,
			"🟠 [MEDIUM] OBSERVED template prod (123456789012 us-east-1)",
			[]string{"*Now:* no template with this prefix"}, "Check that the template is meant to be gone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := ForEvent(EventInput{Event: tt.event, Checks: guard.Checks{Mutability: true, Lifecycle: true}, Template: tt.tpl, Plan: tt.plan, Rules: r,
				Pushed: pushedImages(2, ev.Time)})
			_, n := chatBody(t, m)
			c := n.Content
			if c.Title != tt.title {
				t.Errorf("title %q, want %q", c.Title, tt.title)
			}
			for _, want := range append(tt.lines, "*Console:* "+templatesConsole) {
				if !strings.Contains(c.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, c.Description)
				}
			}
			if strings.Contains(c.Description, "Pushed while") {
				t.Errorf("a template's chat lists images:\n%s", c.Description)
			}
			if last := c.NextSteps[len(c.NextSteps)-1]; last != "Open the repository creation templates in the ECR console: "+templatesConsole {
				t.Errorf("last next step %q", last)
			}
			if tt.step != "" && !strings.HasPrefix(c.NextSteps[0], tt.step) {
				t.Errorf("next steps %q lack %q", c.NextSteps, tt.step)
			}
			md := n.Metadata
			if md.ThreadID != "ecr-guard/123456789012/us-east-1/template:prod" || md.RelatedResources != nil || md.Summary != m.Subject ||
				md.AdditionalContext["resourceType"] != "template" || md.AdditionalContext["template"] != "prod" || md.AdditionalContext["repository"] != "" {
				t.Errorf("metadata %+v", md)
			}
		})
	}
}
