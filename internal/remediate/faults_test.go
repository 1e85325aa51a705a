package remediate_test

// Fault injection (GitHub issue 4, "Production hardening"): the recording
// proxy between the function and moto answers chosen operations with
// throttling, 5xx, connection resets or responses slower than the deadline.
// The clients are configured as functions/remediate/main.go configures them:
// adaptive retry mode, the SDK's default number of attempts.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// maxInvocation bounds an invocation against moto even when the adaptive
// retryer paces a throttled client (seconds; the function's timeout is 60 s).
const maxInvocation = 15 * time.Second

// sdkAttempts is the SDK's default number of attempts per call, which
// production keeps (main sets only the retry mode).
const sdkAttempts = retry.DefaultMaxAttempts

// faultWorld is a world whose handler uses production's retry configuration
// and whose log and EMF lines are kept for inspection.
type faultWorld struct {
	*world
	logs     *testenv.Buffer
	emf      *testenv.Buffer
	attempts *attemptClock
}

// attemptClock wraps the SDK's default HTTP client and records when each
// attempt started and how long it took, to show how the retryer paces them.
type attemptClock struct {
	inner aws.HTTPClient
	mu    sync.Mutex
	start time.Time
	log   []string
}

func (c *attemptClock) Do(r *http.Request) (*http.Response, error) {
	began := time.Now()
	resp, err := c.inner.Do(r)
	op := r.Header.Get("X-Amz-Target")
	if op == "" {
		op = "sns"
	} else {
		op = op[strings.LastIndex(op, ".")+1:]
	}
	status := "error"
	if resp != nil {
		status = fmt.Sprint(resp.StatusCode)
	}
	c.mu.Lock()
	c.log = append(c.log, fmt.Sprintf("+%v %s -> %s in %v", began.Sub(c.start).Round(time.Millisecond), op, status, time.Since(began).Round(time.Millisecond)))
	c.mu.Unlock()
	return resp, err
}

// reset starts a new timeline and returns the previous one.
func (c *attemptClock) reset() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.log
	c.log, c.start = nil, time.Now()
	return out
}

func newFaultWorld(t *testing.T) *faultWorld { return newProductionWorld(t, true) }

// newProductionWorld is a world whose handler uses production's retry
// configuration. Its log and EMF lines are kept in buffers and, when echo
// is set, also go to the test log.
func newProductionWorld(t *testing.T, echo bool) *faultWorld {
	t.Helper()
	w := &faultWorld{world: newWorld(t, nil), logs: &testenv.Buffer{}, emf: &testenv.Buffer{}, attempts: &attemptClock{inner: awshttp.NewBuildableClient(), start: time.Now()}}
	cfg := moto.AWSConfig(t, w.proxy.URL())
	cfg.RetryMode = aws.RetryModeAdaptive // as awsconfig.WithRetryMode(aws.RetryModeAdaptive) in main
	cfg.HTTPClient = w.attempts           // the SDK's default client, timed
	ecrClient, snsClient := ecr.NewFromConfig(cfg), sns.NewFromConfig(cfg)
	for name, r := range map[string]aws.Retryer{"ecr": ecrClient.Options().Retryer, "sns": snsClient.Options().Retryer} {
		if _, ok := r.(*retry.AdaptiveMode); !ok || r.MaxAttempts() != sdkAttempts {
			t.Fatalf("%s retryer = %T with %d attempts, want adaptive mode with the default %d", name, r, r.MaxAttempts(), sdkAttempts)
		}
	}
	logOut, emfOut := io.Writer(w.logs), io.Writer(w.emf)
	if echo {
		logOut, emfOut = io.MultiWriter(w.logs, testWriter{t}), io.MultiWriter(w.emf, testWriter{t})
	}
	log := slog.New(slog.NewJSONHandler(logOut, nil))
	w.handler = newHandler(ecrrepo.New(ecrClient), snspub.New(snsClient, w.cfg.TopicARN), metrics.NewEMF(emfOut, "ecr-guard-test", time.Now), w.cfg.Rules, log)
	return w
}

// handle runs the handler on raw and logs how long it took.
func (w *faultWorld) handle(t *testing.T, ctx context.Context, raw []byte) (time.Duration, error) {
	t.Helper()
	w.attempts.reset()
	start := time.Now()
	err := w.handler.Handle(ctx, raw)
	took := time.Since(start)
	t.Logf("Handle took %v, err = %v\nattempts:\n  %s", took.Round(time.Millisecond), err, strings.Join(w.attempts.reset(), "\n  "))
	return took, err
}

// oneNotice requires that exactly one Publish reached moto (faulted
// attempts aside) and receives that notice, of kind.
func oneNotice(t *testing.T, w *faultWorld, kind guard.Kind) (testenv.Notice, notice.EventDocument) {
	t.Helper()
	if got := w.proxy.Forwarded("sns.Publish"); got != 1 {
		t.Fatalf("%d Publish calls reached moto, want exactly one notice (%s)", got, kind)
	}
	n := w.inbox.Receive(t, 1, 5*time.Second)[0]
	var doc notice.EventDocument
	if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
		t.Fatalf("notice body is not the JSON document: %v\n%s", err, n.Message)
	}
	if n.Attributes["kind"] != string(kind) || doc.Kind != kind {
		t.Fatalf("notice kind = %q (document %q), want %s: %s", n.Attributes["kind"], doc.Kind, kind, n.Subject)
	}
	return n, doc
}

// kindsAndAreas is the kind and area of each of the document's actions.
func kindsAndAreas(doc notice.EventDocument) []notice.Action {
	var out []notice.Action
	for _, a := range doc.Actions {
		out = append(out, notice.Action{Kind: a.Kind, Area: a.Area})
	}
	return out
}

func noNotice(t *testing.T, w *faultWorld) {
	t.Helper()
	if n := w.proxy.Count("sns.Publish"); n != 0 {
		t.Fatalf("%d Publish calls, want none", n)
	}
}

func (w *faultWorld) wantState(t *testing.T, name string, want *scenario.State) {
	t.Helper()
	if got := w.state(t, name); !scenario.Equal(got, want) {
		t.Fatalf("%s: state = %v, want %v", name, got, want)
	}
}

type injected struct {
	op    string
	fault testenv.Fault
	times int
}

var (
	mutableWithBaseline = scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}
	mutableNoLifecycle  = scenario.State{Mutability: guard.Mutable, Lifecycle: "absent"}
	immutableBaseline   = scenario.State{Mutability: guard.Immutable, Lifecycle: "baseline"}
)

// Transient faults are absorbed by the SDK's retries: the invocation
// succeeds, the end state is right and the team gets exactly one notice.
func TestTransientFaultsAreRetried(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		repo   string
		seed   scenario.State
		faults []injected
		kind   guard.Kind
		want   scenario.State
		counts map[string]int // operation -> requests the proxy saw, faulted ones included
	}{
		{
			name: "ThrottlingException once on PutImageTagMutability", event: "put-image-tag-mutability-mutable.json",
			repo: "team-b/api", seed: mutableWithBaseline,
			faults: []injected{{"PutImageTagMutability", testenv.APIErrorFault(400, "ThrottlingException"), 1}},
			kind:   guard.KindRemediated, want: immutableBaseline,
			counts: map[string]int{"PutImageTagMutability": 2, "sns.Publish": 1},
		},
		{
			name: "HTTP 503 once on DescribeRepositories, HTTP 500 once on Publish", event: "put-image-tag-mutability-mutable.json",
			repo: "team-b/api", seed: mutableWithBaseline,
			faults: []injected{
				{"DescribeRepositories", testenv.StatusFault(503), 1},
				{"sns.Publish", testenv.StatusFault(500), 1},
			},
			kind: guard.KindRemediated, want: immutableBaseline,
			counts: map[string]int{"DescribeRepositories": 2, "PutImageTagMutability": 1, "sns.Publish": 2},
		},
		{
			name: "connection reset once on ListTagsForResource", event: "create-repository-mutable.json",
			repo: "team-a/web", seed: mutableNoLifecycle,
			faults: []injected{{"ecr.ListTagsForResource", testenv.ResetFault(), 1}},
			kind:   guard.KindRemediated, want: immutableBaseline,
			counts: map[string]int{"ListTagsForResource": 2, "PutImageTagMutability": 1, "PutLifecyclePolicy": 1, "sns.Publish": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFaultWorld(t)
			w.seed(t, tt.repo, &tt.seed)
			w.proxy.Reset()
			for _, f := range tt.faults {
				w.proxy.InjectFault(f.op, f.fault, f.times)
			}

			if _, err := w.handle(t, context.Background(), readEvent(t, tt.event)); err != nil {
				t.Fatalf("Handle = %v, want the fault retried away", err)
			}
			w.wantState(t, tt.repo, &tt.want)
			for op, want := range tt.counts {
				if got := w.proxy.Count(op); got != want {
					t.Errorf("proxy saw %d %s, want %d", got, op, want)
				}
			}
			n, _ := oneNotice(t, w, tt.kind)
			if n.Attributes["repository"] != tt.repo {
				t.Errorf("notice names %q, want %q", n.Attributes["repository"], tt.repo)
			}
		})
	}
}

// Faults that outlast the SDK's attempts fail the invocation without a
// notice; Lambda's retry of the same event reads the live state again and
// reports what it finds, so the team always hears.
func TestExhaustedRetriesFailThenLambdaRetryNotifies(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		repo      string
		seed      scenario.State
		fault     injected
		afterFail scenario.State // state after the failed invocation
		// firstActions are the failed invocation's notice (nil: none): what
		// did happen is reported at once when a write went through.
		firstActions []notice.Action
		retryKind    guard.Kind
		actions      []notice.Action // kind and area of the retry notice's actions
		want         scenario.State
	}{
		{
			name: "throttling on every PutLifecyclePolicy", event: "create-repository-mutable.json",
			repo: "team-a/web", seed: mutableNoLifecycle,
			fault: injected{"PutLifecyclePolicy", testenv.APIErrorFault(400, "ThrottlingException"), -1},
			// The mutability revert went through before the lifecycle write
			// failed: the first invocation reports both at once.
			afterFail:    scenario.State{Mutability: guard.Immutable, Lifecycle: "absent"},
			firstActions: []notice.Action{{Kind: guard.KindRemediated, Area: guard.AreaMutability}, {Kind: guard.KindFailed, Area: guard.AreaLifecycle}},
			retryKind:    guard.KindObserved,
			actions:      []notice.Action{{Kind: guard.KindObserved, Area: guard.AreaMutability}, {Kind: guard.KindLifecycleRestored, Area: guard.AreaLifecycle}},
			want:         immutableBaseline,
		},
		{
			name: "HTTP 503 on every PutImageTagMutability", event: "put-image-tag-mutability-mutable.json",
			repo: "team-b/api", seed: mutableWithBaseline,
			fault:     injected{"PutImageTagMutability", testenv.StatusFault(503), -1},
			afterFail: mutableWithBaseline,
			retryKind: guard.KindRemediated,
			actions:   []notice.Action{{Kind: guard.KindRemediated, Area: guard.AreaMutability}},
			want:      immutableBaseline,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFaultWorld(t)
			w.seed(t, tt.repo, &tt.seed)
			raw := readEvent(t, tt.event)
			w.proxy.Reset()
			w.proxy.InjectFault(tt.fault.op, tt.fault.fault, tt.fault.times)

			took, err := w.handle(t, context.Background(), raw)
			if err == nil || !fault.Retryable(err) {
				t.Fatalf("Handle = %v, want a retryable error (Lambda retries it)", err)
			}
			if got := w.proxy.Count(tt.fault.op); got != sdkAttempts {
				t.Errorf("proxy saw %d %s, want the SDK's %d attempts", got, tt.fault.op, sdkAttempts)
			}
			if tt.firstActions == nil {
				noNotice(t, w)
			} else {
				n, doc := oneNotice(t, w, guard.KindFailed)
				if got := kindsAndAreas(doc); !slices.Equal(got, tt.firstActions) {
					t.Fatalf("first notice actions = %+v, want %+v\n%s", doc.Actions, tt.firstActions, n.Message)
				}
			}
			w.wantState(t, tt.repo, &tt.afterFail)
			// The SDK gives up well within the function's 60 s timeout, so
			// the failure reaches Lambda rather than a timeout.
			if took > maxInvocation {
				t.Errorf("the failing invocation took %v, want under %v", took, maxInvocation)
			}

			// Lambda's async retry: the same event, the same warm clients.
			w.proxy.ClearFaults()
			w.proxy.Reset()
			took, err = w.handle(t, context.Background(), raw)
			if err != nil {
				t.Fatalf("retry: Handle = %v", err)
			}
			if took > maxInvocation {
				t.Errorf("the retry took %v, want under %v", took, maxInvocation)
			}
			w.wantState(t, tt.repo, &tt.want)
			n, doc := oneNotice(t, w, tt.retryKind)
			if got := kindsAndAreas(doc); !slices.Equal(got, tt.actions) {
				t.Fatalf("retry notice actions = %+v, want %+v\n%s", doc.Actions, tt.actions, n.Message)
			}
		})
	}
}

// A notice that cannot be published after a successful revert is never
// silent: the invocation fails, the whole notice is in the ERROR log, a
// NoticeFailures metric is written, and Lambda's retry re-notifies.
func TestPublishFailureAfterRevertIsNeverSilent(t *testing.T) {
	w := newFaultWorld(t)
	w.seed(t, "team-b/api", &mutableWithBaseline)
	raw := readEvent(t, "put-image-tag-mutability-mutable.json")
	w.proxy.Reset()
	w.proxy.InjectFault("sns.Publish", testenv.StatusFault(500), -1)

	if _, err := w.handle(t, context.Background(), raw); err == nil {
		t.Fatal("Handle = nil after every Publish failed, want an error")
	}
	w.wantState(t, "team-b/api", &immutableBaseline)
	if got := w.proxy.Count("sns.Publish"); got != sdkAttempts {
		t.Errorf("proxy saw %d Publish, want %d attempts", got, sdkAttempts)
	}
	if n := w.proxy.Forwarded("sns.Publish"); n != 0 {
		t.Fatalf("%d Publish calls got through the fault", n)
	}

	// The notice exactly as the function tried to send it.
	var sentSubject, sentMessage string
	for _, c := range w.proxy.Calls() {
		if c.Operation == "Publish" {
			form, err := url.ParseQuery(string(c.Body))
			if err != nil {
				t.Fatal(err)
			}
			sentSubject, sentMessage = form.Get("Subject"), form.Get("Message")
		}
	}
	const subject = "[ecr-guard] REMEDIATED team-b/api -> IMMUTABLE (123456789012 us-east-1)"
	if sentSubject != subject || sentMessage == "" {
		t.Fatalf("attempted Publish: subject %q, message %q", sentSubject, sentMessage)
	}
	var logged map[string]any
	for _, l := range w.logs.JSONLines(t) {
		if l["msg"] == "notice not published" {
			if logged != nil {
				t.Fatalf("logged twice: %v", l)
			}
			logged = l
		}
	}
	if logged == nil {
		t.Fatalf("no \"notice not published\" record in the log")
	}
	attrs, _ := logged["notice_attributes"].(map[string]any)
	if logged["level"] != "ERROR" || logged["notice_subject"] != subject || logged["notice_message"] != sentMessage ||
		attrs["kind"] != "REMEDIATED" || attrs["repository"] != "team-b/api" || logged["error"] == "" {
		t.Fatalf("log record = %v\nwant the full notice: subject %q, message %s", logged, subject, sentMessage)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(logged["notice_message"].(string)), &structured); err != nil ||
		!strings.Contains(structured["default"], "set image tag mutability MUTABLE -> IMMUTABLE") || !strings.Contains(structured["sqs"], `"kind":"REMEDIATED"`) {
		t.Fatalf("logged message is not the whole notice (%v): %v", err, structured)
	}
	var emfLine map[string]any
	for _, l := range w.emf.JSONLines(t) {
		if _, ok := l[metrics.NoticeFailures]; ok {
			emfLine = l
		}
	}
	if emfLine == nil || emfLine[metrics.NoticeFailures] != float64(1) || emfLine["Kind"] != "REMEDIATED" || emfLine["_aws"] == nil {
		t.Fatalf("EMF NoticeFailures line = %v", emfLine)
	}

	// Lambda's retry: the revert is already done, so the window is reported.
	w.proxy.ClearFaults()
	w.proxy.Reset()
	if _, err := w.handle(t, context.Background(), raw); err != nil {
		t.Fatalf("retry: Handle = %v", err)
	}
	if n := w.proxy.Count("PutImageTagMutability"); n != 0 {
		t.Errorf("retry wrote again (%d PutImageTagMutability)", n)
	}
	n, _ := oneNotice(t, w, guard.KindObserved)
	if n.Subject != "[ecr-guard] OBSERVED team-b/api (123456789012 us-east-1)" {
		t.Errorf("retry subject = %q", n.Subject)
	}
}

// A response slower than the invocation's deadline: the handler gives up
// at the deadline with a retryable error, having written and published
// nothing.
func TestResponseSlowerThanTheDeadline(t *testing.T) {
	w := newFaultWorld(t)
	w.seed(t, "team-b/api", &mutableWithBaseline)
	w.proxy.Reset()
	w.proxy.InjectFault("DescribeRepositories", testenv.DelayFault(10*time.Second), -1)

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	took, err := w.handle(t, ctx, readEvent(t, "put-image-tag-mutability-mutable.json"))
	if err == nil || !fault.Retryable(err) {
		t.Fatalf("Handle = %v, want a retryable error", err)
	}
	if took < time.Second || took > 3*time.Second {
		t.Fatalf("Handle took %v, want it to return at the 1.5s deadline", took)
	}
	if n := w.proxy.Count("DescribeRepositories"); n < 1 {
		t.Fatalf("proxy saw %d DescribeRepositories", n)
	}
	t.Logf("DescribeRepositories attempts before the deadline: %d", w.proxy.Count("DescribeRepositories"))
	// The tags are read beside the description (their ARN is known), so
	// one ListTagsForResource is expected; no write may follow.
	for _, op := range []string{"PutImageTagMutability", "PutLifecyclePolicy"} {
		if n := w.proxy.Count(op); n != 0 {
			t.Errorf("proxy saw %d %s after a read timed out", n, op)
		}
	}
	w.proxy.ClearFaults()
	w.wantState(t, "team-b/api", &mutableWithBaseline)
	noNotice(t, w)
}

// A permanent error is not retried: one FAILED (CRITICAL) notice, nothing
// written, and a failed invocation.
func TestPermanentErrorSendsOneFailedNotice(t *testing.T) {
	w := newFaultWorld(t)
	w.seed(t, "team-b/api", &mutableWithBaseline)
	w.proxy.Reset()
	w.proxy.InjectFault("PutImageTagMutability", testenv.APIErrorFault(400, "AccessDeniedException"), -1)

	_, err := w.handle(t, context.Background(), readEvent(t, "put-image-tag-mutability-mutable.json"))
	if err == nil || fault.Retryable(err) || fault.Code(err) != "AccessDeniedException" {
		t.Fatalf("Handle = %v (code %q), want the permanent AccessDeniedException", err, fault.Code(err))
	}
	if n := w.proxy.Count("PutImageTagMutability"); n != 1 {
		t.Errorf("proxy saw %d PutImageTagMutability, want 1 (a permanent error is not retried)", n)
	}
	if n := w.proxy.Count("PutLifecyclePolicy"); n != 0 {
		t.Errorf("proxy saw %d PutLifecyclePolicy", n)
	}
	w.wantState(t, "team-b/api", &mutableWithBaseline)
	n, doc := oneNotice(t, w, guard.KindFailed)
	if n.Attributes["severity"] != "CRITICAL" || doc.Severity != "CRITICAL" || len(doc.Actions) != 1 ||
		doc.Actions[0].Kind != guard.KindFailed || !strings.Contains(doc.Actions[0].Summary, "AccessDeniedException") {
		t.Fatalf("FAILED notice = %+v, document %+v", n.Attributes, doc)
	}
	var sawError bool
	for _, l := range w.logs.JSONLines(t) {
		sawError = sawError || (l["level"] == "ERROR" && l["error_code"] == "AccessDeniedException")
	}
	if !sawError {
		t.Fatal("no ERROR log with error_code AccessDeniedException")
	}
}
