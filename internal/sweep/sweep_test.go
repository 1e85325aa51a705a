package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

func seedFake(f *fakeECR, plan []seeded) {
	for _, s := range plan {
		f.add(guard.Repository{Name: s.repoName, Mutability: s.mutability, ExclusionFilters: s.filters, Tags: s.tags, Lifecycle: lifecycleText(s.lifecycle)})
	}
}

// digest returns the one SWEEP_REPORT sent and its document.
func digest(t *testing.T, pub *fakePublisher) (notice.Message, notice.SweepDocument) {
	t.Helper()
	if n := len(pub.byKind(notice.KindSweepReport)); n != 1 {
		t.Fatalf("%d SWEEP_REPORT notices, want 1", n)
	}
	doc, msg := digestAt(t, pub, 0)
	return msg, doc
}

// digestAt returns the i-th SWEEP_REPORT sent, document first.
func digestAt(t *testing.T, pub *fakePublisher, i int) (notice.SweepDocument, notice.Message) {
	t.Helper()
	reports := pub.byKind(notice.KindSweepReport)
	if len(reports) <= i {
		t.Fatalf("%d SWEEP_REPORT notices, want more than %d", len(reports), i)
	}
	body, err := reports[i].SNSMessage()
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(body), &structured); err != nil {
		t.Fatal(err)
	}
	var doc notice.SweepDocument
	if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, reports[i]
}

func TestSweepFixesExactlyTheNonCompliantRepositories(t *testing.T) {
	rules := testRules(t)
	f := newFixture(t, 4, rules, Options{Concurrency: 3})
	plan := seedPlan(3*len(repoStates), nil)
	seedFake(f.ecr, plan)

	res, err := f.s.Handle(context.Background(), Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusComplete || res.Link != 1 || res.Scanned != len(plan) || len(f.next.payloads) != 0 {
		t.Fatalf("result = %+v, continuations %d", res, len(f.next.payloads))
	}
	for _, s := range plan {
		got := f.ecr.repo(s.repoName)
		if got.Mutability != s.wantMutability || !slices.Equal(got.ExclusionFilters, s.wantFilters) {
			t.Errorf("%s: mutability %s %v, want %s %v", s.repoName, got.Mutability, got.ExclusionFilters, s.wantMutability, s.wantFilters)
		}
		if lc := lifecycleState(t, rules, got.Lifecycle); lc != s.wantLifecycle {
			t.Errorf("%s: lifecycle %s, want %s", s.repoName, lc, s.wantLifecycle)
		}
	}
	msg, doc := digest(t, f.pub)
	if want := wantCounts(plan); doc.Counts != want || notice.SweepCounts(res.Counts) != want {
		t.Errorf("digest counts %+v\nresult counts %+v\nwant %+v", doc.Counts, res.Counts, want)
	}
	if doc.Kind != "SWEEP_REPORT" || doc.Severity != "HIGH" || doc.DryRun || !doc.Complete || doc.Invocations != 1 || doc.Truncated != 0 {
		t.Errorf("document = %+v", doc)
	}
	// The changed list holds exactly the repositories with an action, sorted.
	var wantChanged []string
	for _, s := range plan {
		if s.want.remediated || s.want.lifecycle {
			wantChanged = append(wantChanged, s.repoName)
		}
	}
	slices.Sort(wantChanged)
	var gotChanged []string
	for i, c := range doc.Changed {
		if i > 0 && c.MustName() && !doc.Changed[i-1].MustName() {
			t.Errorf("%s listed after a lifecycle-only entry: not by severity", c.Name)
		}
		gotChanged = append(gotChanged, c.Name)
		st := stateOf(t, plan, c.Name)
		var want []guard.Kind
		if st.want.remediated {
			want = append(want, guard.KindRemediated)
		}
		if st.want.lifecycle {
			want = append(want, guard.KindLifecycleRestored)
		}
		if !slices.Equal(c.Actions, want) || c.Exemption != st.wantExemption {
			t.Errorf("%s: actions %v exemption %q, want %v %q", c.Name, c.Actions, c.Exemption, want, st.wantExemption)
		}
	}
	if slices.Sort(gotChanged); !slices.Equal(gotChanged, wantChanged) {
		t.Errorf("changed %v\nwant    %v", gotChanged, wantChanged)
	}
	want := wantCounts(plan)
	if m := f.metricTotals(t); m[metrics.Remediated] != want.Remediated || m[metrics.LifecycleRestored] != want.LifecycleRestored || m[metrics.Failed] != 0 {
		t.Errorf("metrics %v, want Remediated %d and LifecycleRestored %d", m, want.Remediated, want.LifecycleRestored)
	}
	if wantSubject := "[ecr-guard] SWEEP_REPORT " + itoa(want.Remediated) + " remediated, 0 failed (123456789012 us-east-1)"; msg.Subject != wantSubject {
		t.Errorf("subject %q, want %q", msg.Subject, wantSubject)
	}
	if n := len(f.pub.sent); n != 1 {
		t.Errorf("%d notices, want only the digest", n)
	}

	// A second sweep changes nothing and reports no remediation.
	f.ecr.resetCalls()
	f.pub.sent = nil
	if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
		t.Fatal(err)
	}
	if w := f.ecr.writes(); w != 0 {
		t.Errorf("second sweep made %d writes", w)
	}
	_, doc = digest(t, f.pub)
	if want := wantSecondCounts(plan); doc.Counts != want {
		t.Errorf("second digest counts %+v, want %+v", doc.Counts, want)
	}
	if doc.Severity != "INFO" || len(doc.Changed) != 0 {
		t.Errorf("second document = %+v", doc)
	}
}

func stateOf(t *testing.T, plan []seeded, name string) seeded {
	t.Helper()
	for _, s := range plan {
		if s.repoName == name {
			return s
		}
	}
	t.Fatalf("no seeded repository %s", name)
	return seeded{}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSweepCallsOnlyWhatTheRulesNeed(t *testing.T) {
	for _, mode := range []guard.LifecycleMode{guard.LifecycleEnforce, guard.LifecycleMissing, guard.LifecycleOff} {
		t.Run(string(mode), func(t *testing.T) {
			rules := testRules(t)
			rules.LifecycleMode = mode
			f := newFixture(t, 10, rules, Options{})
			plan := seedPlan(25, map[string]int{"compliant": 1})
			seedFake(f.ecr, plan)
			if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
				t.Fatal(err)
			}
			wantLifecycle := 1
			if mode == guard.LifecycleOff {
				wantLifecycle = 0
			}
			for _, s := range plan {
				calls := f.ecr.perRepo[s.repoName]
				if calls["Lifecycle"] != wantLifecycle || len(calls) > wantLifecycle {
					t.Errorf("%s: calls %v, want only %d GetLifecyclePolicy", s.repoName, calls, wantLifecycle)
				}
			}
			if n := f.ecr.calls["ListPage"]; n != 3 {
				t.Errorf("%d pages listed for 25 repositories at 10 a page, want 3", n)
			}
		})
	}
	t.Run("tags only for non-compliant mutability", func(t *testing.T) {
		f := newFixture(t, 100, testRules(t), Options{})
		plan := seedPlan(2*len(repoStates), nil)
		seedFake(f.ecr, plan)
		if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
			t.Fatal(err)
		}
		rules := testRules(t)
		for _, s := range plan {
			want := b2i(!rules.MutabilityCompliant(s.mutability, s.filters))
			if got := f.ecr.perRepo[s.repoName]["Tags"]; got != want {
				t.Errorf("%s: %d tag reads, want %d", s.repoName, got, want)
			}
		}
	})
}

func apiError(code string) error {
	// As the adapters return it: classified.
	return awsfail.Classify(&smithy.GenericAPIError{Code: code, Message: code + " for the test"})
}

func TestFailuresDoNotStopTheSweep(t *testing.T) {
	f := newFixture(t, 5, testRules(t), Options{Concurrency: 2})
	plan := seedPlan(20, map[string]int{"mutable": 1, "missing-lifecycle": 1})
	seedFake(f.ecr, plan)
	denied, throttled, gone, writeDenied := plan[0].repoName, plan[2].repoName, plan[4].repoName, plan[1].repoName
	f.ecr.failOn(denied, "Tags", apiError("AccessDeniedException"))
	f.ecr.failOn(throttled, "Lifecycle", apiError("ThrottlingException"))
	f.ecr.failOn(writeDenied, "PutLifecycle", apiError("AccessDeniedException"))
	// gone is listed, then deleted before its reads.
	f.ecr.onCall = func(op, repo string) {
		if repo == plan[3].repoName {
			f.ecr.remove(gone)
		}
	}

	res, err := f.s.Handle(context.Background(), Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusComplete || res.Scanned != len(plan) {
		t.Fatalf("result = %+v", res)
	}
	_, doc := digest(t, f.pub)
	if doc.Counts.Scanned != 20 || doc.Counts.Failed != 3 || doc.Counts.Deleted != 1 || doc.Severity != "CRITICAL" {
		t.Errorf("counts %+v severity %s", doc.Counts, doc.Severity)
	}
	// 10 mutable: two failed, one deleted before it was read, 7 fixed.
	// 10 missing lifecycle: one failed, 9 fixed.
	if doc.Counts.Remediated != 7 || doc.Counts.LifecycleRestored != 9 {
		t.Errorf("counts %+v", doc.Counts)
	}
	failed := f.pub.byKind(string(guard.KindFailed))
	var names []string
	for _, m := range failed {
		names = append(names, m.Attributes["repository"])
		d := m.Document.(notice.EventDocument)
		if d.Trigger != nil || !strings.Contains(m.Text, "Scheduled sweep") || d.Repository.Region != "us-east-1" || m.Attributes["account"] != "123456789012" {
			t.Errorf("FAILED notice %q: trigger %v, text:\n%s", m.Subject, d.Trigger, m.Text)
		}
	}
	slices.Sort(names)
	// Permanent failures get a FAILED notice; the throttled one (retryable,
	// after the SDK's retries) is only counted.
	if want := slices.Sorted(slices.Values([]string{denied, writeDenied})); !slices.Equal(names, want) {
		t.Errorf("FAILED notices for %v, want %v", names, want)
	}
	for _, c := range doc.Changed {
		if c.Name == throttled && !slices.Equal(c.Actions, []guard.Kind{guard.KindFailed}) {
			t.Errorf("%s listed with %v", c.Name, c.Actions)
		}
	}
	if !strings.Contains(f.logs.String(), `"error_code":"ThrottlingException"`) {
		t.Error("the throttled repository was not logged with its error code")
	}
}

// A listing that fails, refused for good or throttled past the SDK's
// retries, names the registry in a CRITICAL digest with its error code, and
// the sweep goes on (TestAThrottledMemberDoesNotHoldUpTheOthers); only a
// link out of time fails, for Lambda to retry.
func TestListFailures(t *testing.T) {
	for _, code := range []string{"AccessDeniedException", "ThrottlingException"} {
		f := newFixture(t, 5, testRules(t), Options{})
		f.ecr.listErr = apiError(code)
		res, err := f.s.Handle(context.Background(), Payload{})
		if err != nil || res.Status != StatusComplete {
			t.Fatalf("%s: Handle = %+v, %v", code, res, err)
		}
		_, doc := digest(t, f.pub)
		if doc.Severity != "CRITICAL" || len(doc.FailedTargets) != 1 || doc.FailedTargets[0].Account != "123456789012" ||
			!strings.Contains(doc.FailedTargets[0].Error, code) {
			t.Fatalf("%s: digest %+v", code, doc)
		}
	}

	f := newFixture(t, 5, testRules(t), Options{})
	f.ecr.listErr = fmt.Errorf("list: %w", context.DeadlineExceeded)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the link is out of time
	if _, err := f.s.Handle(ctx, Payload{}); err == nil {
		t.Fatal("a link out of time while listing succeeded; want it to fail for Lambda to retry")
	}
	if len(f.pub.sent) != 0 || len(f.next.payloads) != 0 {
		t.Errorf("a link out of time published %d notices and continued %d times", len(f.pub.sent), len(f.next.payloads))
	}
}

// unlisted is a sweep's lister whose targets cannot be listed (the
// organization's ListAccounts refused).
type unlisted struct{ single }

func (unlisted) Targets(context.Context) ([]Target, error) {
	return nil, fmt.Errorf("organizations ListAccounts: %w", apiError("AccessDeniedException"))
}

// Targets that cannot be listed fail the link, logged with the error's
// code: no repository is read, nothing is published or continued.
func TestUnlistedTargetsFailTheLink(t *testing.T) {
	f := newFixture(t, 5, testRules(t), Options{})
	seedFake(f.ecr, seedPlan(10, nil))
	emf := metrics.NewEMF(f.emf, "ecr-guard-sweep", f.clock.Now)
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	s := New(unlisted{single{f.ecr}}, reconcile.New(reconcile.One{Repositories: f.ecr}, testRules(t), emf, f.clock.Now), notify.New(f.pub, emf), f.next, emf, log,
		Options{Scope: guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true}, Now: f.clock.Now})
	if res, err := s.Handle(context.Background(), Payload{}); err == nil || !strings.Contains(err.Error(), "ListAccounts") {
		t.Fatalf("Handle = %+v, %v; want the listing's error", res, err)
	}
	if len(f.ecr.calls) != 0 || len(f.pub.sent) != 0 || len(f.next.payloads) != 0 {
		t.Errorf("an unlisted sweep made ECR calls %v, published %d notices, continued %d times", f.ecr.calls, len(f.pub.sent), len(f.next.payloads))
	}
	if !strings.Contains(f.logs.String(), `"msg":"sweep link could not start"`) || !strings.Contains(f.logs.String(), `"error_code":"AccessDeniedException"`) {
		t.Errorf("log does not say the link could not start, with the code:\n%s", f.logs.String())
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	for _, tt := range []struct {
		name    string
		payload bool
		env     bool
	}{{"payload", true, false}, {"DRY_RUN", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules(t)
			rules.DryRun = tt.env
			f := newFixture(t, 50, rules, Options{})
			plan := seedPlan(2*len(repoStates), nil)
			seedFake(f.ecr, plan)
			if _, err := f.s.Handle(context.Background(), Payload{DryRun: tt.payload}); err != nil {
				t.Fatal(err)
			}
			if w := f.ecr.writes(); w != 0 {
				t.Fatalf("dry run made %d writes", w)
			}
			msg, doc := digest(t, f.pub)
			if !doc.DryRun || doc.Counts != wantCounts(plan) {
				t.Errorf("document = %+v, want counts %+v", doc, wantCounts(plan))
			}
			for _, c := range doc.Changed {
				for _, a := range c.Actions {
					if a != guard.KindWouldRemediate && a != guard.KindWouldRestoreLifecycle {
						t.Errorf("%s: action %s in a dry run", c.Name, a)
					}
				}
			}
			if !strings.HasPrefix(msg.Subject, "[ecr-guard] SWEEP_REPORT dry run: ") || !strings.Contains(msg.Text, "DRY RUN") {
				t.Errorf("subject %q text:\n%s", msg.Subject, msg.Text)
			}
		})
	}
}

// runChain plays Lambda: it invokes the handler with each continuation
// payload (through JSON, as Lambda does) until the chain ends.
func runChain(t *testing.T, f *fixture, first Payload, invocation time.Duration) []Result {
	t.Helper()
	payload := first
	var results []Result
	for link := 1; ; link++ {
		if link > 200 {
			t.Fatal("the chain does not end")
		}
		ctx, cancel := context.WithDeadline(context.Background(), f.clock.Now().Add(invocation))
		before := len(f.next.payloads)
		res, err := f.s.Handle(ctx, payload)
		cancel()
		if err != nil {
			t.Fatalf("link %d: %v", link, err)
		}
		results = append(results, res)
		if res.Link != link {
			t.Fatalf("link %d reports link %d", link, res.Link)
		}
		if res.Status != StatusContinued {
			if len(f.next.payloads) != before {
				t.Fatalf("link %d ended the chain and continued it", link)
			}
			return results
		}
		if len(f.next.payloads) != before+1 {
			t.Fatalf("link %d continued %d times", link, len(f.next.payloads)-before)
		}
		raw, err := json.Marshal(f.next.payloads[before])
		if err != nil {
			t.Fatal(err)
		}
		payload = Payload{}
		if err := json.Unmarshal(raw, &payload); err != nil {
			t.Fatal(err)
		}
		if payload.Continuation.Link != link+1 || payload.Continuation.ChainID != res.ChainID {
			t.Fatalf("continuation %+v after link %d", payload.Continuation, link)
		}
		// Time passes between the links.
		f.clock.Advance(time.Second)
	}
}

func TestContinuationChainCoversEveryRepositoryOnce(t *testing.T) {
	rules := testRules(t)
	// Every lifecycle read takes a (fake) second; a 30 s invocation keeps a
	// 10 s margin, so a link gets through about 20 repositories, spread over
	// pages of 7 (positions fall inside pages and on page boundaries).
	f := newFixture(t, 7, rules, Options{Concurrency: 4})
	f.ecr.onCall = func(op, _ string) {
		if op == "Lifecycle" {
			f.clock.Advance(time.Second)
		}
	}
	plan := seedPlan(150, nil)
	seedFake(f.ecr, plan)
	start := f.clock.Now()

	results := runChain(t, f, Payload{}, 30*time.Second)
	if len(results) < 5 {
		t.Fatalf("%d links, want a chain", len(results))
	}
	for _, s := range plan {
		if n := f.ecr.perRepo[s.repoName]["Lifecycle"]; n != 1 {
			t.Errorf("%s evaluated %d times", s.repoName, n)
		}
	}
	scanned := 0
	for i, r := range results {
		scanned += r.Scanned
		if r.Scanned == 0 {
			t.Errorf("link %d scanned nothing", i+1)
		}
		if i > 0 && !slices.Equal(r.Start, results[i-1].Stop) {
			t.Errorf("link %d starts at %+v, link %d stopped at %+v", i+1, r.Start, i, results[i-1].Stop)
		}
	}
	if scanned != len(plan) {
		t.Errorf("links scanned %d repositories, want %d", scanned, len(plan))
	}
	_, doc := digest(t, f.pub)
	if doc.Counts != wantCounts(plan) || doc.Invocations != len(results) || !doc.Complete {
		t.Errorf("digest %+v\nwant counts %+v over %d invocations", doc, wantCounts(plan), len(results))
	}
	if doc.StartedAt != start.Format(time.RFC3339) || doc.DurationSeconds < 150 {
		t.Errorf("digest started %s, lasted %vs; want %s and the whole chain", doc.StartedAt, doc.DurationSeconds, start.Format(time.RFC3339))
	}
	for _, want := range []string{`"msg":"sweep link started"`, `"msg":"sweep link stopped"`, `"start_lanes"`, `"stop_lanes"`, `"reason":"deadline margin reached"`} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

// firstOfTwoLinks seeds 40 MUTABLE repositories on one page and runs a
// first link that runs out of time partway through (every lifecycle read
// takes a second of a 20-second invocation); the continuation is
// f.next.payloads[0] and the clock stands still from then on.
func firstOfTwoLinks(t *testing.T, p Payload) (*fixture, []seeded, Result) {
	t.Helper()
	f := newFixture(t, 100, testRules(t), Options{Concurrency: 1})
	f.ecr.onCall = func(op, _ string) {
		if op == "Lifecycle" {
			f.clock.Advance(time.Second)
		}
	}
	plan := seedPlan(40, map[string]int{"mutable": 1})
	seedFake(f.ecr, plan)
	ctx, cancel := context.WithDeadline(context.Background(), f.clock.Now().Add(20*time.Second))
	defer cancel()
	res, err := f.s.Handle(ctx, p)
	if err != nil || res.Status != StatusContinued {
		t.Fatalf("first link: %+v, %v", res, err)
	}
	f.ecr.onCall = nil
	return f, plan, res
}

func TestContinuationCarriesDryRunAndResumesAfterTheLastName(t *testing.T) {
	f, plan, res := firstOfTwoLinks(t, Payload{DryRun: true})
	next := f.next.payloads[0]
	if lanes := next.Continuation.Lanes; !next.DryRun || len(lanes) != 1 || lanes[0].Index != res.Scanned || lanes[0].After != plan[res.Scanned-1].repoName {
		t.Fatalf("continuation %+v after %d repositories", next.Continuation, res.Scanned)
	}
	// Two repositories the first link finished are deleted before the
	// second link: it must still resume right after the last one finished.
	f.ecr.remove(plan[0].repoName)
	f.ecr.remove(plan[1].repoName)
	if _, err := f.s.Handle(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	for i, s := range plan {
		if n := f.ecr.perRepo[s.repoName]["Lifecycle"]; i >= 2 && n != 1 {
			t.Errorf("%s evaluated %d times", s.repoName, n)
		}
	}
	if w := f.ecr.writes(); w != 0 {
		t.Errorf("the dry-run chain made %d writes", w)
	}
	_, doc := digest(t, f.pub)
	if !doc.DryRun || doc.Counts.Scanned != 40 || doc.Counts.Remediated != 40 {
		t.Errorf("digest %+v", doc)
	}
}

// When the repository a link finished last is itself deleted before the
// next link, the page has shifted: the next link resumes at the first
// repository not started (Position.Next), each repository counted once;
// when that one is gone too, it sweeps the page again from its start rather
// than skip one. (Before, it resumed at the old index, one past the first
// repository not started.)
func TestResumeWhenTheLastFinishedRepositoryIsGone(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gone      func(finished int) []int // plan indexes deleted between the links
		exactOnce bool
	}{
		{"the last finished gone", func(f int) []int { return []int{f - 1} }, true},
		{"the last finished and the next gone", func(f int) []int { return []int{f - 1, f} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, plan, res := firstOfTwoLinks(t, Payload{})
			finished, gone := res.Scanned, tc.gone(res.Scanned)
			for _, i := range gone {
				f.ecr.remove(plan[i].repoName)
			}
			if _, err := f.s.Handle(context.Background(), f.next.payloads[0]); err != nil {
				t.Fatal(err)
			}
			for i, s := range plan {
				if slices.Contains(gone, i) {
					continue
				}
				if got := f.ecr.repo(s.repoName); got.Mutability != guard.Immutable {
					t.Errorf("%s (index %d; the first link finished %d) is still %s: skipped", s.repoName, i, finished, got.Mutability)
				}
				most := 1
				if i < finished && !tc.exactOnce {
					most = 2 // finished by the first link, swept again with its page
				}
				if n := f.ecr.perRepo[s.repoName]["Lifecycle"]; n < 1 || n > most {
					t.Errorf("%s evaluated %d times, want 1 to %d", s.repoName, n, most)
				}
			}
			// The deleted one was finished, and counted, by the first link.
			if _, doc := digest(t, f.pub); tc.exactOnce && doc.Counts.Scanned != len(plan) {
				t.Errorf("digest scanned %d, want each repository once (%d)", doc.Counts.Scanned, len(plan))
			}
		})
	}
}

func TestChainIsBounded(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{MaxLinks: 3})
	f.ecr.onCall = func(op, _ string) {
		if op == "Lifecycle" {
			f.clock.Advance(5 * time.Second)
		}
	}
	seedFake(f.ecr, seedPlan(100, nil))
	results := runChain(t, f, Payload{}, 20*time.Second)
	if len(results) != 3 || results[2].Status != StatusStopped {
		t.Fatalf("%d links, last %+v; want 3, stopped", len(results), results[len(results)-1])
	}
	msg, doc := digest(t, f.pub)
	if doc.Complete || doc.Severity != "HIGH" || !strings.Contains(msg.Subject, "INCOMPLETE") || !strings.Contains(msg.Text, "INCOMPLETE") {
		t.Errorf("subject %q document %+v", msg.Subject, doc)
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR","msg":"sweep chain stopped before covering every repository`) {
		t.Error("the stopped chain was not logged at ERROR")
	}
	// A continuation beyond the bound (a replayed or crafted payload) does
	// no work and reports.
	f.pub.sent = nil
	f.ecr.resetCalls()
	res, err := f.s.Handle(context.Background(), Payload{Continuation: &Continuation{ChainID: "x", Link: 4, StartedAt: f.clock.Now(),
		Lanes: []Position{{Index: 3, After: "x"}}, NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}}})
	if err != nil || res.Status != StatusStopped || f.ecr.calls["ListPage"] != 0 {
		t.Errorf("link beyond the bound: %+v %v, %d listings", res, err, f.ecr.calls["ListPage"])
	}
}

func TestEveryLinkMakesProgress(t *testing.T) {
	// An invocation shorter than the margin still evaluates one repository.
	f := newFixture(t, 10, testRules(t), Options{})
	plan := seedPlan(3, nil)
	seedFake(f.ecr, plan)
	results := runChain(t, f, Payload{}, time.Second)
	if len(results) != 3 {
		t.Fatalf("%d links for 3 repositories, want 3", len(results))
	}
}

func TestMargin(t *testing.T) {
	s := New(nil, nil, nil, nil, nil, nil, Options{})
	for _, tt := range []struct{ total, want time.Duration }{
		{900 * time.Second, 90 * time.Second},
		{60 * time.Second, 10 * time.Second},
		{5 * time.Second, 10 * time.Second},
	} {
		begin := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), begin.Add(tt.total))
		got, _, ok := s.margin(ctx, begin)
		cancel()
		if !ok || got != tt.want {
			t.Errorf("margin for %v = %v, want %v", tt.total, got, tt.want)
		}
	}
	if _, _, ok := s.margin(context.Background(), time.Now()); ok {
		t.Error("a context without deadline has a margin")
	}
}

func TestContinueFailureFailsTheLink(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{})
	f.next.err = errors.New("invoke refused")
	f.ecr.onCall = func(op, _ string) { f.clock.Advance(time.Minute) }
	seedFake(f.ecr, seedPlan(5, nil))
	ctx, cancel := context.WithDeadline(context.Background(), f.clock.Now().Add(time.Minute))
	defer cancel()
	if _, err := f.s.Handle(ctx, Payload{}); err == nil || !strings.Contains(err.Error(), "invoke refused") {
		t.Fatalf("err = %v", err)
	}
	if len(f.pub.sent) != 0 {
		t.Error("a link that could not continue published the digest")
	}
	// The retry from the same payload would miss what this attempt fixed:
	// its state is in the log.
	if !strings.Contains(f.logs.String(), `"payload":{"dryRun":false,"continuation":{`) || !strings.Contains(f.logs.String(), `"counts":{"scanned":`) {
		t.Errorf("the continuation payload is not in the log:\n%s", f.logs)
	}
}

func TestMalformedContinuation(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{})
	for _, c := range []*Continuation{
		{Link: 2, StartedAt: time.Now()},
		{ChainID: "x", Link: 1, StartedAt: time.Now()},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), Lanes: []Position{{Index: -1}}, NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), Lanes: []Position{{Target: 1}}, NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 2, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}},
		{ChainID: "x", Link: 2},
		// What a hand-written payload could claim: a complete sweep of
		// nothing, registries that are not, counts or failures of targets
		// the chain does not cover.
		{ChainID: "x", Link: 2, StartedAt: time.Now(), Counts: Tally{Scanned: 10, Compliant: 10}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}, Counts: Tally{Scanned: 10, Compliant: 10}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1\nCOMPLIANT"}}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 1, Targets: []Target{{Account: "12345678901x", Region: "us-east-1"}}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}}, PerTarget: map[int]Tally{1: {Scanned: 1}}},
		{ChainID: "x", Link: 2, StartedAt: time.Now(), NextTarget: 1, Targets: []Target{{Account: "123456789012", Region: "us-east-1"}},
			FailedTargets: []FailedTarget{{Target: Target{Account: "111111111111", Region: "us-east-1"}, Error: "x"}}},
	} {
		if _, err := f.s.Handle(context.Background(), Payload{Continuation: c}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
}

// The smallest valid continuation is accepted: the checks above reject
// what is wrong, not what a chain carries.
func TestWellFormedContinuationIsAccepted(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{})
	target := Target{Account: "123456789012", Region: "us-east-1"}
	c := &Continuation{ChainID: "x", Link: 2, StartedAt: f.clock.Now(), Lanes: []Position{{}}, NextTarget: 1, Targets: []Target{target},
		PerTarget: map[int]Tally{0: {Scanned: 1, Remediated: 1}}, FailedTargets: []FailedTarget{{Target: target, Error: "refused"}}}
	if res, err := f.s.Handle(context.Background(), Payload{Continuation: c}); err != nil || res.Status != StatusComplete {
		t.Fatalf("Handle = %+v, %v", res, err)
	}
}

func TestDigestPublishFailureFailsTheLink(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{})
	seedFake(f.ecr, seedPlan(3, nil))
	f.pub.err = apiError("KMSAccessDeniedException")
	if _, err := f.s.Handle(context.Background(), Payload{}); err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(f.logs.String(), `"msg":"notice not published"`) || !strings.Contains(f.logs.String(), `"notice_message"`) {
		t.Errorf("the unpublished report was not logged in full:\n%s", f.logs.String())
	}
}

// The cap on the carried list applies to lifecycle-only entries: every
// revert is carried and named.
func TestChangedListIsCappedAcrossLinks(t *testing.T) {
	f := newFixture(t, 10, testRules(t), Options{MaxChanged: 5})
	f.ecr.onCall = func(op, _ string) {
		if op == "Lifecycle" {
			f.clock.Advance(time.Second)
		}
	}
	plan := seedPlan(60, map[string]int{"missing-lifecycle": 1, "mutable": 1})
	seedFake(f.ecr, plan)
	results := runChain(t, f, Payload{}, 20*time.Second)
	if len(results) < 2 {
		t.Fatalf("%d links", len(results))
	}
	for _, p := range f.next.payloads {
		low := 0
		for _, c := range p.Continuation.Changed {
			low += b2i(!c.MustName())
		}
		if low > 5 {
			t.Errorf("continuation carries %d lifecycle-only entries, cap 5", low)
		}
	}
	msg, doc := digest(t, f.pub)
	listed := map[string]bool{}
	for _, c := range doc.Changed {
		listed[c.Name] = true
	}
	for _, s := range plan {
		if s.want.remediated && !listed[s.repoName] {
			t.Errorf("reverted %s not named", s.repoName)
		}
	}
	if len(doc.Changed) != 35 || doc.Truncated != 25 || !strings.Contains(msg.Text, "and 25 more lifecycle-only") {
		t.Errorf("changed %d truncated %d text:\n%s", len(doc.Changed), doc.Truncated, msg.Text)
	}
}

// A revert that went through is reported even when the lifecycle write that
// follows it fails: the sweep has no retry that would report it later.
func TestARevertIsCountedWhenTheLifecycleWriteThenFails(t *testing.T) {
	f := newFixture(t, 5, testRules(t), Options{})
	f.ecr.add(guard.Repository{Name: "legacy/app", ARN: "arn:aws:ecr:us-east-1:123456789012:repository/legacy/app", RegistryID: "123456789012", Mutability: guard.Mutable})
	f.ecr.failOn("legacy/app", "PutLifecycle", apiError("ThrottlingException"))
	if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
		t.Fatal(err)
	}
	if got := f.ecr.repo("legacy/app").Mutability; got != guard.Immutable {
		t.Fatalf("mutability = %s", got)
	}
	_, doc := digest(t, f.pub)
	if doc.Counts.Remediated != 1 || doc.Counts.Failed != 1 || len(doc.Changed) != 1 ||
		!slices.Equal(doc.Changed[0].Actions, []guard.Kind{guard.KindRemediated, guard.KindFailed}) {
		t.Fatalf("digest counts %+v changed %+v", doc.Counts, doc.Changed)
	}
	if failed := f.pub.byKind(string(guard.KindFailed)); len(failed) != 1 {
		t.Fatalf("want one FAILED notice for the repository, got %d", len(failed))
	}
}

// TestREADMEContinuationExample decodes the README's continuation example
// strictly (every field one the chain carries) and checks it as a link
// would, so the example stays the real shape.
func TestREADMEContinuationExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```json\n  {\"dryRun\": false,\n   \"continuation\"")
	if !ok {
		t.Fatal("README.md has no continuation example")
	}
	block, _, _ := strings.Cut("{\"dryRun\": false,\n   \"continuation\""+rest, "```")
	dec := json.NewDecoder(strings.NewReader(block))
	dec.DisallowUnknownFields()
	var p Payload
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("the README's continuation example: %v\n%s", err, block)
	}
	f := newFixture(t, 10, testRules(t), Options{})
	if _, err := f.s.state(context.Background(), p, f.clock.Now()); err != nil {
		t.Errorf("the README's continuation example is refused: %v", err)
	}
	if c := p.Continuation; c.Link != 3 || len(c.Lanes) != 1 || c.Lanes[0].After != "team-b/api" || c.PerTarget[0].Remediated != 1220 {
		t.Errorf("decoded %+v", c)
	}
}

// The chain carries at most maxFailedTargets failed targets, each error
// cut to maxFailedTargetError bytes, and counts the rest: an organization
// where every member fails still fits the continuation, and the report
// counts every one.
func TestFailedTargetsAreBounded(t *testing.T) {
	st := &state{}
	for i := range maxFailedTargets + 50 {
		st.failTarget(FailedTarget{Target: Target{Account: fmt.Sprintf("%012d", i), Region: "us-east-1"}, Error: strings.Repeat("é", 400)})
	}
	if len(st.failedTargets) != maxFailedTargets || st.failedOmitted != 50 {
		t.Fatalf("%d carried, %d omitted; want %d and 50", len(st.failedTargets), st.failedOmitted, maxFailedTargets)
	}
	for _, f := range st.failedTargets {
		if len(f.Error) > maxFailedTargetError+len("…") || !utf8.ValidString(f.Error) {
			t.Fatalf("error of %d bytes (valid UTF-8: %v)", len(f.Error), utf8.ValidString(f.Error))
		}
	}
	f := newFixture(t, 10, testRules(t), Options{})
	in := f.s.digest(st, nil)
	if len(in.FailedTargets) != maxFailedTargets || in.FailedTargetsOmitted != 50 {
		t.Errorf("digest input: %d named, %d omitted", len(in.FailedTargets), in.FailedTargetsOmitted)
	}
}
