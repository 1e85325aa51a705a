package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// longName is a repository name of 256 characters, ECR's longest.
func longName(prefix string, i int) string {
	name := fmt.Sprintf("%s-%05d/", prefix, i)
	return name + strings.Repeat("x", 256-len(name))
}

// seedLong adds n repositories named after prefix in state st (a
// repoStates name), in listing order, and returns their names.
func seedLong(t *testing.T, f *fakeECR, prefix, st string, n int) []string {
	t.Helper()
	var state repoState
	for _, s := range repoStates {
		if s.name == st {
			state = s
		}
	}
	if state.name == "" {
		t.Fatalf("no state %s", st)
	}
	names := make([]string, n)
	for i := range n {
		names[i] = longName(prefix, i)
		f.add(guard.Repository{Name: names[i], Mutability: state.mutability, ExclusionFilters: state.filters, Tags: state.tags, Lifecycle: lifecycleText(state.lifecycle)})
	}
	return names
}

type report struct {
	msg notice.Message
	doc notice.SweepDocument
}

// reportParts returns every SWEEP_REPORT part published, in order, and
// checks that they make one report: parts numbered 1..n, interim ones
// (parts 0) first, the final ones giving n, each within SNS's limits.
func reportParts(t *testing.T, pub *fakePublisher) []report {
	t.Helper()
	var out []report
	for _, m := range pub.byKind(notice.KindSweepReport) {
		body, err := m.SNSMessage()
		if err != nil {
			t.Fatal(err)
		}
		if len(body)+len(m.Subject)+1024 > notice.MaxSNSMessageBytes || len(m.Subject) > notice.MaxSubjectLength {
			t.Errorf("part %q is %d bytes", m.Subject, len(body))
		}
		var structured map[string]string
		if err := json.Unmarshal([]byte(body), &structured); err != nil {
			t.Fatal(err)
		}
		var doc notice.SweepDocument
		if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, report{m, doc})
	}
	if len(out) == 0 {
		t.Fatal("no SWEEP_REPORT")
	}
	n := len(out)
	for k, r := range out {
		final := !r.doc.Interim
		if r.doc.Part != k+1 || (final && r.doc.Parts != n) || (!final && r.doc.Parts != 0) || (!final && k > 0 && out[k-1].doc.Interim == false) {
			t.Errorf("message %d of %d: part %d, parts %d, interim %v", k+1, n, r.doc.Part, r.doc.Parts, r.doc.Interim)
		}
		if n > 1 && !strings.Contains(r.msg.Subject, fmt.Sprintf("SWEEP_REPORT part %d", k+1)) {
			t.Errorf("subject %q does not give the part", r.msg.Subject)
		}
	}
	if out[n-1].doc.Interim {
		t.Error("the report ends with an interim part")
	}
	return out
}

// named counts how many times each repository is named across the parts.
func named(parts []report) map[string]int {
	seen := map[string]int{}
	for _, r := range parts {
		for _, c := range r.doc.Changed {
			seen[c.Name]++
		}
	}
	return seen
}

// chained makes every lifecycle read advance the fixture's clock by step,
// so links end after invocation/step repositories or so.
func chained(f *fixture, step time.Duration) {
	f.ecr.onCall = func(op, _ string) {
		if op == "Lifecycle" {
			f.clock.Advance(step)
		}
	}
}

// checkPayloads fails the test when a continuation payload, encoded as the
// function sends it, exceeds limit.
func checkPayloads(t *testing.T, f *fixture, limit int) {
	t.Helper()
	for i, p := range f.next.payloads {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Errorf("continuation %d is %d bytes, limit %d", i+2, len(b), limit)
		}
	}
}

// The case: 600 repositories missing a lifecycle policy, then 2
// flipped to MUTABLE (last in the listing). The report named neither when
// the carried list kept the first 500 finished.
func TestSweepReportNamesRevertsAmongManyLifecycleOnly(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(map[bool]string{false: "one link", true: "chain"}[chain], func(t *testing.T) {
			f := newFixture(t, 100, testRules(t), Options{MinMargin: time.Second, MarginFraction: 0.01})
			seedLong(t, f.ecr, "team-a/lifecycle", "missing-lifecycle", 600)
			reverted := seedLong(t, f.ecr, "team-z/reverted", "mutable", 2)
			if chain {
				chained(f, 5*time.Millisecond)
				if results := runChain(t, f, Payload{}, 2*time.Second); len(results) < 3 {
					t.Fatalf("%d links, want a chain", len(results))
				}
				checkPayloads(t, f, DefaultMaxPayloadBytes)
			} else if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
				t.Fatal(err)
			}
			parts := reportParts(t, f.pub)
			if len(parts) != 1 {
				t.Fatalf("%d parts, want 1: the reverts fit one message", len(parts))
			}
			r := parts[0]
			if r.doc.Counts.Remediated != 2 || r.doc.Counts.LifecycleRestored != 600 || r.doc.Severity != "HIGH" {
				t.Errorf("counts %+v severity %s", r.doc.Counts, r.doc.Severity)
			}
			for i, name := range reverted {
				if r.doc.Changed[i].Name != name || !strings.Contains(r.msg.Text, "  - "+name+": REMEDIATED\n") {
					t.Errorf("%s is not named first", name)
				}
			}
			low := len(r.doc.Changed) - 2
			if low < 1 || r.doc.Truncated != 600-low || !strings.HasSuffix(r.msg.Text, fmt.Sprintf("  ... and %d more lifecycle-only\n", 600-low)) {
				t.Errorf("%d lifecycle-only listed, truncated %d, text ends %q", low, r.doc.Truncated, r.msg.Text[len(r.msg.Text)-60:])
			}
		})
	}
}

// 3,000 reverts with the longest names: the report goes out in parts
// naming each once. In a chain the carried names outgrow the continuation
// payload, so links publish them as interim parts first.
func TestSweepReportNamesEveryOneOf3000Reverts(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(map[bool]string{false: "one link", true: "chain"}[chain], func(t *testing.T) {
			f := newFixture(t, 1000, testRules(t), Options{MinMargin: time.Second, MarginFraction: 0.01})
			reverted := seedLong(t, f.ecr, "team/reverted", "mutable", 3000)
			lifecycle := seedLong(t, f.ecr, "team/lifecycle", "missing-lifecycle", 20)
			if chain {
				chained(f, 10*time.Millisecond) // about 900 repositories a link of 10 s
				if results := runChain(t, f, Payload{}, 10*time.Second); len(results) < 3 {
					t.Fatalf("%d links, want a chain", len(results))
				}
				checkPayloads(t, f, DefaultMaxPayloadBytes)
			} else if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
				t.Fatal(err)
			}
			parts := reportParts(t, f.pub)
			if len(parts) < 3 {
				t.Fatalf("%d parts for 3,000 reverts with 256-character names", len(parts))
			}
			interim := 0
			for _, r := range parts {
				interim += b2i(r.doc.Interim)
			}
			if chain != (interim > 0) {
				t.Errorf("%d interim parts (chain %v)", interim, chain)
			}
			seen := named(parts)
			for _, name := range reverted {
				if seen[name] != 1 {
					t.Errorf("%s named %d times", name, seen[name])
				}
			}
			for _, name := range lifecycle {
				if seen[name] > 1 {
					t.Errorf("%s named %d times", name, seen[name])
				}
			}
			last := parts[len(parts)-1].doc
			if last.Counts.Remediated != 3000 || last.Counts.LifecycleRestored != 20 || !last.Complete || last.Truncated != 20-len(seen)+3000 {
				t.Errorf("final counts %+v complete %v truncated %d", last.Counts, last.Complete, last.Truncated)
			}
			for _, r := range parts {
				if !r.doc.Interim && r.doc.Counts != last.Counts {
					t.Errorf("part %d counts %+v: each final part repeats the report's", r.doc.Part, r.doc.Counts)
				}
			}
		})
	}
}

// A part that cannot be published does not hold the others back; it is
// logged in full and counted, and the link fails.
func TestSweepReportPartPublishFailure(t *testing.T) {
	f := newFixture(t, 1000, testRules(t), Options{})
	seedLong(t, f.ecr, "team/reverted", "mutable", 1000)
	f.pub.failIf = func(m notice.Message) error {
		if strings.Contains(m.Subject, "SWEEP_REPORT part 2 of ") {
			return apiError("InternalError")
		}
		return nil
	}
	res, err := f.s.Handle(context.Background(), Payload{})
	if err == nil || !strings.Contains(err.Error(), "part 2 of") {
		t.Fatalf("err = %v", err)
	}
	sent := f.pub.byKind(notice.KindSweepReport)
	if len(sent) < 2 || len(res.MessageIDs) != len(sent) {
		t.Fatalf("%d parts published, result ids %v", len(sent), res.MessageIDs)
	}
	var parts int
	for _, m := range sent {
		parts = m.Document.(notice.SweepDocument).Parts
		if strings.Contains(m.Subject, "part 2 of") {
			t.Errorf("the refused part was published: %q", m.Subject)
		}
	}
	if len(sent) != parts-1 {
		t.Errorf("%d of %d parts published, want all but the refused one", len(sent), parts)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"notice not published"`) || !strings.Contains(logs, "SWEEP_REPORT part 2 of") || !strings.Contains(logs, `"notice_message"`) {
		t.Error("the refused part is not logged in full")
	}
	if m := f.metricTotals(t); m[metrics.NoticeFailures] != 1 {
		t.Errorf("NoticeFailures %d, want 1", m[metrics.NoticeFailures])
	}
}

// An interim part that cannot be published fails the link before it
// continues: Lambda retries it from the same payload.
func TestInterimPartFailureFailsTheLinkBeforeContinuing(t *testing.T) {
	f := newFixture(t, 100, testRules(t), Options{MaxPayloadBytes: 8 * 1024})
	chained(f, time.Second)
	seedLong(t, f.ecr, "team/reverted", "mutable", 100)
	f.pub.err = apiError("KMSAccessDeniedException")
	ctx, cancel := context.WithDeadline(context.Background(), f.clock.Now().Add(80*time.Second))
	defer cancel()
	if _, err := f.s.Handle(ctx, Payload{}); err == nil || !strings.Contains(err.Error(), "interim") {
		t.Fatalf("err = %v", err)
	}
	if len(f.next.payloads) != 0 {
		t.Error("the link continued without its interim part")
	}
	if !strings.Contains(f.logs.String(), `"msg":"notice not published"`) || !strings.Contains(f.logs.String(), "so far:") {
		t.Error("the interim part is not logged in full")
	}
}

// A small payload limit: lifecycle-only entries are dropped (counted)
// before any revert, and reverts go out as interim parts when they alone
// do not fit.
func TestContinuationStaysUnderThePayloadLimit(t *testing.T) {
	const limit = 8 * 1024
	f := newFixture(t, 50, testRules(t), Options{MaxPayloadBytes: limit})
	chained(f, 100*time.Millisecond)
	plan := seedPlan(600, map[string]int{"missing-lifecycle": 3, "mutable": 1, "exempt-expired": 1, "exempt-invalid-expiry": 1, "compliant": 4})
	seedFake(f.ecr, plan)
	results := runChain(t, f, Payload{}, 12*time.Second)
	if len(results) < 3 {
		t.Fatalf("%d links", len(results))
	}
	checkPayloads(t, f, limit)
	parts := reportParts(t, f.pub)
	if !parts[0].doc.Interim {
		t.Error("no interim part: the reverts alone should outgrow the limit")
	}
	seen := named(parts)
	for _, s := range plan {
		if s.want.remediated && seen[s.repoName] != 1 {
			t.Errorf("reverted %s named %d times", s.repoName, seen[s.repoName])
		}
	}
	last := parts[len(parts)-1].doc
	if last.Counts != wantCounts(plan) {
		t.Errorf("counts %+v, want %+v", last.Counts, wantCounts(plan))
	}
	listedLow := 0
	for _, r := range parts {
		for _, c := range r.doc.Changed {
			listedLow += b2i(!c.MustName())
		}
	}
	if last.Truncated == 0 || listedLow+last.Truncated != wantCounts(plan).LifecycleRestored {
		t.Errorf("%d lifecycle-only listed, %d truncated, want %d in all", listedLow, last.Truncated, wantCounts(plan).LifecycleRestored)
	}
}
