package notice_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/cloudtrail"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite README.md's golden blocks from the renderer")

const readmePath = "../../README.md"

// readmeEvent decodes an events/ sample and loads the scenarios' rules.
func readmeEvent(t *testing.T, sample string) (guard.Event, guard.Rules) {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cloudtrail.Decode(raw)
	if err != nil {
		t.Fatalf("decode the sample: %v", err)
	}
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = "arn:aws:sns:us-east-1:123456789012:ecr-guard-notices"
	cfg, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		t.Fatal(err)
	}
	return ev, cfg.Rules
}

// readmeNotice is the notice the README shows: the events/ sample of someone
// making team-b/api MUTABLE, ecr-guard reverting it, and the two images
// pushed in the meantime. The repository's exemption expired before the
// event, which is why the tags were not allowed to stay mutable (a
// REMEDIATED notice never comes with an active exemption).
func readmeNotice(t *testing.T) notice.Message {
	t.Helper()
	ev, rules := readmeEvent(t, "put-image-tag-mutability-mutable.json")
	// CloudTrail events reach EventBridge within minutes: the handler runs
	// at Now, after the two pushes below. The live repository, as the
	// handler reads it: still MUTABLE, tags read.
	repo := guard.Repository{
		Name:       ev.Repository,
		ARN:        "arn:aws:ecr:us-east-1:123456789012:repository/" + ev.Repository,
		RegistryID: "123456789012",
		Mutability: guard.Mutable,
		CreatedAt:  time.Date(2025, 3, 2, 9, 15, 0, 0, time.UTC),
		Tags: []guard.Tag{
			{Key: "team", Value: "b"},
			{Key: "environment", Value: "dev"},
			{Key: "exemption-expires", Value: "2025-05-31"},
		},
	}
	checks := guard.ChecksFor(ev.Name)
	plan := rules.Decide(guard.Input{Event: &ev, Checks: checks, Repo: repo, Now: ev.Time.Add(3 * time.Minute)})
	if plan.Kind() != guard.KindRemediated || !plan.MutableWindow() || plan.Exemption.Active() {
		t.Fatalf("plan = %+v, want REMEDIATED with a mutable window and no active exemption", plan)
	}
	pushed := &guard.PushedImages{Since: ev.Time, Images: []guard.Image{ // newest first, as DescribeImages is listed
		{Digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Tags: []string{"v1.4.2"},
			PushedAt: time.Date(2025, 6, 10, 14, 22, 47, 0, time.UTC)},
		{Digest: "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Tags: []string{"v1.4.1", "latest"},
			PushedAt: time.Date(2025, 6, 10, 14, 21, 2, 0, time.UTC)},
	}}
	return notice.ForEvent(notice.EventInput{Event: &ev, Checks: checks, Before: repo, Plan: plan, Rules: rules, Pushed: pushed})
}

// readmeTemplateNotice is the README's template notice: the events/ sample
// of someone creating template prod MUTABLE, and ecr-guard making it
// IMMUTABLE. The live template, as the handler reads it, is what the call
// created.
func readmeTemplateNotice(t *testing.T) notice.Message {
	t.Helper()
	ev, rules := readmeEvent(t, "create-repository-creation-template-mutable.json")
	live := &guard.Template{Prefix: ev.Template, AppliedFor: ev.Request.AppliedFor, Mutability: guard.Mutable,
		Lifecycle: guard.Lifecycle{Exists: true, Text: ev.Request.LifecyclePolicy}, CreatedAt: ev.Time}
	plan := rules.DecideTemplate(guard.TemplateInput{Event: &ev, Template: live, Prefix: ev.Template, Now: ev.Time.Add(time.Minute)}).Plan
	if plan.Kind() != guard.KindRemediated {
		t.Fatalf("plan = %+v, want REMEDIATED", plan)
	}
	return notice.ForEvent(notice.EventInput{Event: &ev, Account: ev.Account, Checks: guard.ChecksFor(ev.Name), Template: live, Plan: plan, Rules: rules})
}

// TestREADMENoticeExamples renders the README's notice examples with the
// real renderer and compares them with README.md's blocks marked
// <!-- golden: NAME -->. With -update it rewrites those blocks:
//
//	go test ./internal/notice -run TestREADMENoticeExamples -update
func TestREADMENoticeExamples(t *testing.T) {
	want := map[string]string{}
	var subjects []string
	for name, msg := range map[string]notice.Message{"remediated": readmeNotice(t), "template": readmeTemplateNotice(t)} {
		body, err := msg.SNSMessage()
		if err != nil {
			t.Fatal(err)
		}
		// What the subscribers receive: the text for email, the document for sqs.
		var protocols map[string]string
		if err := json.Unmarshal([]byte(body), &protocols); err != nil {
			t.Fatal(err)
		}
		var doc bytes.Buffer
		if err := json.Indent(&doc, []byte(protocols["sqs"]), "", "  "); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(doc.String(), inlineScalarArrays(doc.String())) {
			t.Fatalf("inlineScalarArrays changed the document:\n%s", inlineScalarArrays(doc.String()))
		}
		want["email-"+name] = protocols["email"]
		want["json-"+name] = inlineScalarArrays(doc.String()) + "\n"
		subjects = append(subjects, msg.Subject)
	}

	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := goldenBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Fatalf("README.md has no block marked <!-- golden: %s --> followed by a fenced block", name)
		}
	}
	if *update {
		updated, err := replaceGoldenBlocks(string(readme), want)
		if err != nil {
			t.Fatal(err)
		}
		if updated != string(readme) {
			if err := os.WriteFile(readmePath, []byte(updated), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", filepath.Base(readmePath))
		}
		return
	}
	for name, w := range want {
		if got[name].content != w {
			t.Errorf("README.md block %q is not what the renderer makes (go test ./internal/notice -run TestREADMENoticeExamples -update rewrites it)\n--- README\n%s--- rendered\n%s", name, got[name].content, w)
		}
	}
	// The Subject examples in the bullet lists.
	for _, s := range subjects {
		if !strings.Contains(string(readme), "`"+s+"`") {
			t.Errorf("README.md does not show the rendered subject `%s`", s)
		}
	}
}

// scalarArray is an indented JSON array of strings, numbers, booleans or
// nulls, one a line.
var scalarArray = regexp.MustCompile(`\[\n(?:[ ]+(?:"(?:[^"\\\n]|\\.)*"|[-+.0-9eE]+|true|false|null),?\n)+[ ]*\]`)

// inlineScalarArrays puts each array of scalars of indented JSON on one
// line ("tags": ["v1.4.1", "latest"]), for the README's reader.
func inlineScalarArrays(indented string) string {
	return scalarArray.ReplaceAllStringFunc(indented, func(a string) string {
		var items []string
		for _, line := range strings.Split(a, "\n") {
			if item := strings.TrimSuffix(strings.TrimSpace(line), ","); item != "[" && item != "]" {
				items = append(items, item)
			}
		}
		return "[" + strings.Join(items, ", ") + "]"
	})
}

func jsonEqual(a, b string) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, []byte(a)) == nil && json.Compact(&cb, []byte(b)) == nil && ca.String() == cb.String()
}

func TestGoldenBlocks(t *testing.T) {
	text := "intro\n<!-- golden: a -->\n```\none\n```\n\n<!-- golden: b -->\n\n```json\n```\nend\n"
	blocks, err := goldenBlocks(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks["a"].content != "one\n" || blocks["b"].content != "" {
		t.Fatalf("blocks = %+v", blocks)
	}
	got, err := replaceGoldenBlocks(text, map[string]string{"a": "1\n2\n", "b": "{}\n"})
	if want := "intro\n<!-- golden: a -->\n```\n1\n2\n```\n\n<!-- golden: b -->\n\n```json\n{}\n```\nend\n"; err != nil || got != want {
		t.Errorf("replaced = %q, %v\nwant %q", got, err, want)
	}
	for _, bad := range []string{
		"<!-- golden: a -->\ntext\n",                                   // no fence
		"<!-- golden: a -->\n```\nnever closed\n",                      // no closing fence
		"<!-- golden: a b -->\n```\n```\n",                             // malformed name
		"<!-- golden: a -->\n```\n```\n<!-- golden: a -->\n```\n```\n", // twice
	} {
		if _, err := goldenBlocks(bad); err == nil {
			t.Errorf("goldenBlocks(%q) accepted it", bad)
		}
	}
}

// block is a fenced block's content (every line with its newline) and where
// that content starts and ends in the README.
type block struct {
	content    string
	start, end int
}

const goldenMarker = "<!-- golden: "

// goldenBlocks finds each marker line <!-- golden: NAME --> and the fenced
// block on the next line that is not blank.
func goldenBlocks(text string) (map[string]block, error) {
	blocks := map[string]block{}
	for off := 0; ; {
		i := strings.Index(text[off:], goldenMarker)
		if i < 0 {
			return blocks, nil
		}
		i += off
		lineEnd := strings.IndexByte(text[i:], '\n')
		if lineEnd < 0 {
			return nil, fmt.Errorf("marker at byte %d ends the file", i)
		}
		line := strings.TrimSpace(text[i : i+lineEnd])
		name, ok := strings.CutSuffix(strings.TrimPrefix(line, goldenMarker), " -->")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("malformed marker %q: want <!-- golden: NAME -->", line)
		}
		pos := i + lineEnd + 1
		for strings.HasPrefix(text[pos:], "\n") {
			pos++
		}
		fenceEnd := strings.IndexByte(text[pos:], '\n')
		if !strings.HasPrefix(text[pos:], "```") || fenceEnd < 0 {
			return nil, fmt.Errorf("marker %q is not followed by a fenced block", name)
		}
		start, end := pos+fenceEnd+1, -1
		switch {
		case strings.HasPrefix(text[start:], "```"):
			end = start // an empty block
		default:
			if k := strings.Index(text[start:], "\n```"); k >= 0 {
				end = start + k + 1
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("block %q has no closing fence", name)
		}
		if _, dup := blocks[name]; dup {
			return nil, fmt.Errorf("two blocks marked %q", name)
		}
		blocks[name] = block{content: text[start:end], start: start, end: end}
		off = end
	}
}

// replaceGoldenBlocks puts want's contents into text's marked blocks.
func replaceGoldenBlocks(text string, want map[string]string) (string, error) {
	blocks, err := goldenBlocks(text)
	if err != nil {
		return "", err
	}
	// From the last block to the first, so the offsets still to use stay valid.
	names := slices.SortedFunc(maps.Keys(want), func(a, b string) int { return blocks[b].start - blocks[a].start })
	for _, name := range names {
		b := blocks[name]
		text = text[:b.start] + want[name] + text[b.end:]
	}
	return text, nil
}
