package notice

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

const missingRootLine = "ROOT template missing in 123456789012 us-east-1: repositories created by replication, pull-through cache or create-on-push without a more specific template get ECR's defaults (MUTABLE)\n"

// TestForSweepWithTemplates: template changes are counted and named
// ("template PREFIX", resourceType template), before the repositories of
// the same severity; the ROOT templates get their own section, once per
// account and region; repository entries keep the 1.0 shape.
func TestForSweepWithTemplates(t *testing.T) {
	in := sweepInput()
	in.Counts.Templates, in.Counts.TemplatesChanged = 4, 2
	in.Changed = append(in.Changed,
		SweepChange{ResourceType: ResourceTemplate, Name: "zz-lifecycle", Actions: []guard.Kind{guard.KindLifecycleRestored}},
		SweepChange{ResourceType: ResourceTemplate, Name: "prod", Actions: []guard.Kind{guard.KindRemediated}})
	in.RootTemplates = []RootTemplate{
		{Account: "123456789012", Region: "us-east-1", Status: RootTemplateNonCompliant, Detail: "image tag mutability MUTABLE"},
		{Account: "222222222222", Region: "eu-west-1", Status: RootTemplateFixed, Detail: "set image tag mutability MUTABLE -> IMMUTABLE"},
		{Account: "123456789012", Region: "us-east-1", Status: RootTemplateMissing}, // the last word on this registry
	}
	m := one(t, ForSweep(in))
	structured, doc := decodeSweep(t, m)

	if doc.SchemaVersion != "1.1" || doc.Severity != "HIGH" || doc.Counts != in.Counts || m.Attributes["resourceType"] != "registry" {
		t.Errorf("document %+v attributes %v", doc, m.Attributes)
	}
	var names []string
	for _, c := range doc.Changed {
		names = append(names, c.label())
	}
	if want := []string{"template prod", "template zz-lifecycle", "team-a/web", "team-b/api"}; !slices.Equal(names, want) {
		t.Errorf("changed %q, want %q", names, want)
	}
	wantRoots := []RootTemplate{in.RootTemplates[2], in.RootTemplates[1]} // attention first
	if !reflect.DeepEqual(doc.RootTemplates, wantRoots) || doc.RootTemplatesTruncated != 0 {
		t.Errorf("root templates %+v, want %+v", doc.RootTemplates, wantRoots)
	}

	var raw struct {
		Counts        map[string]any   `json:"counts"`
		Changed       []map[string]any `json:"changed"`
		RootTemplates []map[string]any `json:"rootTemplates"`
	}
	if err := json.Unmarshal([]byte(structured["sqs"]), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Counts["templates"] != 4.0 || raw.Counts["templatesChanged"] != 2.0 {
		t.Errorf("counts %v", raw.Counts)
	}
	for _, c := range raw.Changed {
		_, has := c["resourceType"]
		if isTemplate := strings.HasPrefix(c["name"].(string), "prod") || strings.HasPrefix(c["name"].(string), "zz-"); has != isTemplate ||
			(has && c["resourceType"] != "template") {
			t.Errorf("changed entry %v", c)
		}
	}
	if len(raw.RootTemplates) != 2 || raw.RootTemplates[0]["status"] != "missing" || raw.RootTemplates[0]["account"] != "123456789012" {
		t.Errorf("rootTemplates %v", raw.RootTemplates)
	}

	for _, want := range []string{
		"Scheduled sweep of every repository and repository creation template, started",
		fmt.Sprintf("%-24s%8d\n", "Templates checked:", 4),
		fmt.Sprintf("%-24s%8d\n", "Templates changed:", 2),
		"\n" + missingRootLine,
		"ROOT template fixed in 222222222222 eu-west-1 (set image tag mutability MUTABLE -> IMMUTABLE)\n",
		"Create or fix them, or set ROOT_TEMPLATE=ensure and ecr-guard will.\n",
		"Repositories and templates changed:\n  - template prod: REMEDIATED\n  - template zz-lifecycle: LIFECYCLE_RESTORED\n  - team-a/web:",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if n := strings.Count(m.Text, "ROOT template"); n != 2 {
		t.Errorf("the text says ROOT template %d times, want once per registry:\n%s", n, m.Text)
	}

	_, n := chatBody(t, m)
	for _, want := range []string{"*Templates* 4 (changed 2)", "*ROOT templates:*", "• " + strings.TrimSuffix(missingRootLine, "\n"),
		"*Repositories and templates changed:*", "• `template prod`: REMEDIATED"} {
		if !strings.Contains(n.Content.Description, want) {
			t.Errorf("chat lacks %q:\n%s", want, n.Content.Description)
		}
	}
	if !slices.ContainsFunc(n.Content.NextSteps, func(s string) bool { return strings.Contains(s, "ROOT_TEMPLATE=ensure") }) {
		t.Errorf("next steps %q", n.Content.NextSteps)
	}

	// A dry run says what would change; only the ROOT template section
	// makes a report with nothing else MEDIUM.
	in.DryRun = true
	if m := one(t, ForSweep(in)); !strings.Contains(m.Text, fmt.Sprintf("%-24s%8d\n", "Templates would change:", 2)) {
		t.Errorf("dry-run text:\n%s", m.Text)
	}
	quiet := SweepInput{Account: "123456789012", Region: "us-east-1", Complete: true, Counts: SweepCounts{Templates: 1},
		RootTemplates: []RootTemplate{{Account: "123456789012", Region: "us-east-1", Status: RootTemplateMissing}}}
	if m := one(t, ForSweep(quiet)); m.Attributes["severity"] != "MEDIUM" || !strings.Contains(m.Text, missingRootLine) || strings.Contains(m.Text, "Repositories") {
		t.Errorf("severity %s, text:\n%s", m.Attributes["severity"], m.Text)
	}
}

// Template changes are never cut, even lifecycle-only ones among
// thousands of lifecycle-only repositories with the longest names.
func TestForSweepNeverCutsTemplates(t *testing.T) {
	in := sweepInput()
	in.Changed = nil
	for i := range 2000 {
		in.Changed = append(in.Changed, SweepChange{Name: longName("a-lifecycle", i), Actions: []guard.Kind{guard.KindLifecycleRestored}})
	}
	for i := range 400 {
		in.Changed = append(in.Changed, SweepChange{ResourceType: ResourceTemplate, Name: longName("z-template", i), Actions: []guard.Kind{guard.KindLifecycleRestored}})
	}
	in.Counts = SweepCounts{Scanned: 2000, LifecycleRestored: 2000, Templates: 400, TemplatesChanged: 400}
	msgs := ForSweep(in)
	seen := map[string]int{}
	for _, m := range msgs {
		sizeOK(t, m)
		_, doc := decodeSweep(t, m)
		for _, c := range doc.Changed {
			if c.ResourceType == ResourceTemplate {
				seen[c.Name]++
			}
		}
	}
	_, last := decodeSweep(t, msgs[len(msgs)-1])
	if len(seen) != 400 || last.Truncated == 0 {
		t.Fatalf("%d of 400 templates named in %d parts, %d lifecycle-only repositories cut", len(seen), len(msgs), last.Truncated)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s named %d times", name, n)
		}
	}
}

// TestForSweepRegistryListsLeaveRoomForChanges: an organization's lists
// every part repeats (per-target counts with the largest numbers, many ROOT
// templates with the longest details of characters JSON escapes) are cut to
// half a message, so that every part still fits SNS's limit in either https
// format and names changes; every template is named once.
func TestForSweepRegistryListsLeaveRoomForChanges(t *testing.T) {
	big := SweepCounts{}
	counts := reflect.ValueOf(&big).Elem()
	for i := range counts.NumField() {
		counts.Field(i).SetInt(999999)
	}
	in := SweepInput{Account: "123456789012", Region: "ap-southeast-2", Complete: true, Counts: big, Targets: 2000, ChainID: "9f2c4e1a7b3d5c60"}
	for i := range 2000 {
		account := fmt.Sprintf("%012d", i)
		in.PerTarget = append(in.PerTarget, SweepTarget{Account: account, Region: "ap-southeast-2", Counts: big})
		in.RootTemplates = append(in.RootTemplates, RootTemplate{Account: account, Region: "ap-southeast-2", Status: RootTemplateNonCompliant, Detail: strings.Repeat(`"`, 2000)})
	}
	for i := range 1000 {
		in.Changed = append(in.Changed, SweepChange{Account: "123456789012", Region: "ap-southeast-2", ResourceType: ResourceTemplate,
			Name: longName("prod", i), Actions: []guard.Kind{guard.KindFailed, guard.KindRemediated, guard.KindLifecycleRestored}, Exemption: guard.ExemptionInvalidExpiry})
	}
	msgs := ForSweep(in)
	seen := map[string]int{}
	for k, m := range msgs {
		sizeOK(t, m)
		if !fitsSNS(m) {
			t.Errorf("part %d does not fit in one of the https formats", k+1)
		}
		_, n := chatBody(t, m)
		_, doc := decodeSweep(t, m)
		if len(doc.Changed) == 0 || len(doc.RootTemplates) == 0 || doc.RootTemplatesTruncated == 0 || doc.PerTargetTruncated == 0 ||
			len(doc.RootTemplates)+doc.RootTemplatesTruncated != 2000 || len(doc.PerTarget)+doc.PerTargetTruncated != 2000 {
			t.Errorf("part %d: %d changes, %d+%d ROOT templates, %d+%d targets", k+1, len(doc.Changed),
				len(doc.RootTemplates), doc.RootTemplatesTruncated, len(doc.PerTarget), doc.PerTargetTruncated)
		}
		if !strings.Contains(m.Text, fmt.Sprintf("... and %d more ROOT templates left out of this report\n", doc.RootTemplatesTruncated)) ||
			!strings.Contains(n.Content.Description, "*ROOT templates:*") {
			t.Errorf("part %d does not say how many ROOT templates were left out", k+1)
		}
		for _, c := range doc.Changed {
			seen[c.Name]++
		}
	}
	if len(seen) != 1000 {
		t.Errorf("%d of 1000 templates named", len(seen))
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s named %d times", name, n)
		}
	}
}

// TestSweepCountsAdd: Add adds every count, including any added later.
func TestSweepCountsAdd(t *testing.T) {
	var each, sum SweepCounts
	v := reflect.ValueOf(&each).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(i + 1))
	}
	sum.Add(each)
	sum.Add(each)
	s := reflect.ValueOf(sum)
	for i := range s.NumField() {
		if got := s.Field(i).Int(); got != int64(2*(i+1)) {
			t.Errorf("%s = %d after adding %d twice", s.Type().Field(i).Name, got, i+1)
		}
	}
}

// TestSortSweepTargetsRanksTemplateChanges: a registry whose templates
// changed ranks with those whose repositories were reverted.
func TestSortSweepTargetsRanksTemplateChanges(t *testing.T) {
	targets := []SweepTarget{
		{Account: "1", Counts: SweepCounts{LifecycleRestored: 1}},
		{Account: "2", Counts: SweepCounts{Exempt: 1}},
		{Account: "3", Counts: SweepCounts{TemplatesChanged: 1}},
		{Account: "4", Counts: SweepCounts{Failed: 1}},
	}
	SortSweepTargets(targets)
	var order []string
	for _, tg := range targets {
		order = append(order, tg.Account)
	}
	if want := []string{"4", "3", "2", "1"}; !slices.Equal(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
}
