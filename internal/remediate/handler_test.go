package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/fault"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// fakeRepos is an in-memory stand-in behind reconcile.Repositories; the
// real ECR adapter is exercised against moto in the integration tests. The
// step reads concurrently, so it locks.
type fakeRepos struct {
	mu     sync.Mutex
	repos  map[string]*guard.Repository
	images []guard.Image // every repository's images
	calls  []string
	fail   map[string]error // operation -> error
	panic  string           // operation that panics
	// The registry's repository creation templates; their calls are
	// recorded and fail like the others (newFixture hooks them).
	testenv.MemTemplates
}

// op records a call and returns its injected failure; it takes the lock,
// which the caller releases.
func (f *fakeRepos) op(name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	if f.panic == name {
		f.mu.Unlock()
		panic("boom in " + name)
	}
	return f.fail[name]
}

func (f *fakeRepos) Describe(_ context.Context, name, _ string) (guard.Repository, error) {
	err := f.op("Describe")
	defer f.mu.Unlock()
	if err != nil {
		return guard.Repository{}, err
	}
	r, ok := f.repos[name]
	if !ok {
		return guard.Repository{}, fmt.Errorf("describe %s: %w", name, guard.ErrRepositoryNotFound)
	}
	c := *r
	c.Tags, c.Lifecycle = nil, guard.Lifecycle{}
	return c, nil
}

func (f *fakeRepos) byARN(arn string) *guard.Repository {
	for _, r := range f.repos {
		if r.ARN == arn {
			return r
		}
	}
	return nil
}

func (f *fakeRepos) Tags(_ context.Context, arn string) ([]guard.Tag, error) {
	err := f.op("Tags")
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r := f.byARN(arn)
	if r == nil {
		return nil, fmt.Errorf("tags of %s: %w", arn, guard.ErrRepositoryNotFound)
	}
	return r.Tags, nil
}

func (f *fakeRepos) Lifecycle(_ context.Context, name, _ string) (guard.Lifecycle, error) {
	err := f.op("Lifecycle")
	defer f.mu.Unlock()
	if err != nil {
		return guard.Lifecycle{}, err
	}
	return f.repos[name].Lifecycle, nil
}

func (f *fakeRepos) ImagesPushedSince(_ context.Context, _, _ string, since time.Time, limit int) ([]guard.Image, bool, error) {
	err := f.op("ImagesPushedSince")
	defer f.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	var out []guard.Image
	for _, img := range f.images {
		if !img.PushedAt.Before(since) {
			out = append(out, img)
		}
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (f *fakeRepos) SetMutability(_ context.Context, name, _ string, s guard.MutabilitySetting) error {
	err := f.op("SetMutability")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	f.repos[name].Mutability, f.repos[name].ExclusionFilters = s.Mutability, s.ExclusionFilters
	return nil
}

func (f *fakeRepos) PutLifecycle(_ context.Context, name, _, text string) error {
	err := f.op("PutLifecycle")
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	f.repos[name].Lifecycle = guard.Lifecycle{Exists: true, Text: text}
	return nil
}

type fakePublisher struct {
	sent []notice.Message
	err  error
}

func (p *fakePublisher) Publish(_ context.Context, m notice.Message) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	p.sent = append(p.sent, m)
	return fmt.Sprintf("msg-%d", len(p.sent)), nil
}

type fixture struct {
	repos   *fakeRepos
	pub     *fakePublisher
	logs    *testenv.Buffer
	metrics *testenv.Buffer
	h       *Handler
}

func newFixture(t *testing.T, mutate func(*guard.Rules)) *fixture {
	t.Helper()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := guard.Rules{
		ExemptTags:          []guard.TagMatcher{{Key: "environment", Value: "dev"}},
		ExemptionExpiresTag: "exemption-expires",
		Baseline:            baseline,
		LifecycleMode:       guard.LifecycleEnforce,
		SelfRoleARNs:        []string{"arn:aws:iam::123456789012:role/ecr-guard-RemediatorFunctionRole-1A2B3C4D5E6F"},
	}
	if mutate != nil {
		mutate(&rules)
	}
	f := &fixture{
		repos:   &fakeRepos{repos: map[string]*guard.Repository{}, fail: map[string]error{}},
		pub:     &fakePublisher{},
		logs:    &testenv.Buffer{},
		metrics: &testenv.Buffer{},
	}
	f.repos.Hook = func(op, _ string) error {
		err := f.repos.op(op)
		f.repos.mu.Unlock()
		return err
	}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	now := func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	emf := metrics.NewEMF(f.metrics, "ecr-guard-remediate", now)
	f.h = New(reconcile.New(reconcile.One{Repositories: f.repos}, rules, emf, now), notify.New(f.pub, emf), emf, FixedScope{Partition: "aws", Account: "123456789012", Region: "us-east-1"}, log)
	return f
}

func (f *fixture) add(name, mutability string, lifecycle bool, tags ...guard.Tag) {
	r := &guard.Repository{Name: name, ARN: "arn:aws:ecr:us-east-1:123456789012:repository/" + name, RegistryID: "123456789012", Mutability: mutability, Tags: tags}
	if lifecycle {
		r.Lifecycle = guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
	}
	f.repos.repos[name] = r
}

func event(t *testing.T, name string) json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var (
	// As the ECR adapter classifies them (internal/awsfail).
	accessDenied = &fault.Error{Err: errors.New("api error AccessDeniedException: not authorized"), Code: "AccessDeniedException"}
	throttled    = &fault.Error{Err: errors.New("api error ThrottlingException: rate exceeded"), Code: "ThrottlingException", Retryable: true}
)

func TestRejectedEventsMakeNoCallAndLogOneWarning(t *testing.T) {
	tests := []struct {
		name    string
		raw     json.RawMessage
		wantErr bool
		id      string
	}{
		{"failed call", event(t, "put-image-tag-mutability-failed.json"), false, "6f1d8c2e-4b7a-2c1e-9d3f-0a1b2c3d4e07"},
		{"unhandled event", event(t, "delete-repository.json"), false, "6f1d8c2e-4b7a-2c1e-9d3f-0a1b2c3d4e12"},
		{"malformed", json.RawMessage(`{"id":"broken-1","source":"aws.ecr"`), true, ""},
		{"other source", json.RawMessage(`{"id":"s3-1","source":"aws.s3","detail-type":"AWS API Call via CloudTrail","detail":{}}`), true, "s3-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			err := f.h.Handle(context.Background(), tt.raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(f.repos.calls) != 0 || len(f.pub.sent) != 0 {
				t.Fatalf("calls %v, notices %d: a rejected event must cause no AWS call", f.repos.calls, len(f.pub.sent))
			}
			lines := f.logs.JSONLines(t)
			if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["event_id"] != tt.id || lines[0]["reason"] == "" {
				t.Fatalf("log = %v", lines)
			}
		})
	}
}

func TestRemediatesAndNotifiesOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Mutable, false)
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	r := f.repos.repos["team-a/web"]
	if r.Mutability != guard.Immutable || !r.Lifecycle.Exists {
		t.Fatalf("repository = %+v", r)
	}
	if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "REMEDIATED" {
		t.Fatalf("notices = %+v", f.pub.sent)
	}
	// The same event again: live state is compliant, so the request to
	// create it MUTABLE is reported as an observed window, with no write.
	f.repos.calls = nil
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.repos.calls {
		if c == "SetMutability" || c == "PutLifecycle" {
			t.Fatalf("second delivery wrote: %v", f.repos.calls)
		}
	}
	if len(f.pub.sent) != 2 || f.pub.sent[1].Attributes["kind"] != "OBSERVED" {
		t.Fatalf("notices = %+v", f.pub.sent)
	}
}

func TestCompliantRepositoryGetsNoNotice(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Immutable, true)
	if err := f.h.Handle(context.Background(), event(t, "create-repository-immutable.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 0 {
		t.Fatalf("notices = %+v", f.pub.sent)
	}
}

func TestRepositoryGoneIsSuccessWithoutNotice(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	// The description and the tags are read at once; nothing follows.
	if calls := slices.Sorted(slices.Values(f.repos.calls)); len(f.pub.sent) != 0 || !slices.Equal(calls, []string{"Describe", "Tags"}) {
		t.Fatalf("calls %v notices %d", f.repos.calls, len(f.pub.sent))
	}
}

func TestPermanentWriteFailureSendsFailedNoticeAndReturnsError(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Mutable, false)
	f.repos.fail["SetMutability"] = accessDenied
	err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json"))
	if !errors.Is(err, accessDenied) {
		t.Fatalf("err = %v, want the AccessDenied error", err)
	}
	if len(f.pub.sent) != 1 {
		t.Fatalf("notices = %d", len(f.pub.sent))
	}
	m := f.pub.sent[0]
	doc := m.Document.(notice.EventDocument)
	if m.Attributes["kind"] != "FAILED" || m.Attributes["severity"] != "CRITICAL" || len(doc.Actions) != 2 ||
		doc.Actions[0].Kind != guard.KindFailed || doc.Actions[1].Kind != guard.KindLifecycleRestored {
		t.Fatalf("notice = %+v actions %+v", m.Attributes, doc.Actions)
	}
	if !f.repos.repos["team-a/web"].Lifecycle.Exists {
		t.Fatal("the lifecycle write must still be made after the mutability write failed")
	}
	var sawError bool
	for _, l := range f.logs.JSONLines(t) {
		sawError = sawError || (l["level"] == "ERROR" && l["error_code"] == "AccessDeniedException")
	}
	if !sawError {
		t.Fatalf("no ERROR log: %s", f.logs)
	}
}

func TestPermanentReadFailureSendsFailedNotice(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.repos.fail["Tags"] = accessDenied
	err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json"))
	if !errors.Is(err, accessDenied) || len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "FAILED" {
		t.Fatalf("err %v notices %+v", err, f.pub.sent)
	}
	if f.repos.repos["team-b/api"].Mutability != guard.Mutable {
		t.Fatal("nothing may be written when the state could not be read")
	}
}

func TestRetryableFailureIsLeftToLambdasRetry(t *testing.T) {
	for _, op := range []string{"Describe", "Tags", "Lifecycle", "SetMutability", "PutLifecycle"} {
		t.Run(op, func(t *testing.T) {
			f := newFixture(t, nil)
			f.add("team-a/web", guard.Mutable, false)
			f.repos.fail[op] = throttled
			err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json"))
			if !errors.Is(err, throttled) {
				t.Fatalf("err = %v", err)
			}
			// Nothing is reported until the retry, unless a write already
			// went through: then the first attempt says what happened.
			if wantNow := op == "PutLifecycle"; (len(f.pub.sent) == 1) != wantNow || (wantNow && f.pub.sent[0].Attributes["kind"] != "FAILED") {
				t.Fatalf("notices = %+v", f.pub.sent)
			}
			f.pub.sent = nil
			// Lambda retries the event: the retry reports what it finds.
			delete(f.repos.fail, op)
			if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
				t.Fatal(err)
			}
			want := "REMEDIATED"
			if op == "PutLifecycle" { // the mutability revert went through on the first attempt
				want = "OBSERVED"
			}
			if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != want {
				t.Fatalf("retry notices = %+v, want one %s", f.pub.sent, want)
			}
		})
	}
}

func TestPublishFailureIsLoggedInFullAndFails(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.pub.err = throttled
	err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json"))
	if !errors.Is(err, throttled) {
		t.Fatalf("err = %v", err)
	}
	var logged map[string]any
	for _, l := range f.logs.JSONLines(t) {
		if l["msg"] == "notice not published" {
			logged = l
		}
	}
	if logged == nil || logged["level"] != "ERROR" || !strings.Contains(fmt.Sprint(logged["notice_message"]), "set image tag mutability MUTABLE -> IMMUTABLE") ||
		!strings.HasPrefix(fmt.Sprint(logged["notice_subject"]), "[ecr-guard] REMEDIATED team-b/api") {
		t.Fatalf("log = %s", f.logs)
	}
	// The retry after a failed publish re-notifies (OBSERVED), never silent.
	f.pub.err = nil
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "OBSERVED" {
		t.Fatalf("notices = %+v", f.pub.sent)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, func(r *guard.Rules) { r.DryRun = true })
	f.add("team-a/web", guard.Mutable, false)
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.repos.calls {
		if c == "SetMutability" || c == "PutLifecycle" {
			t.Fatalf("dry run wrote: %v", f.repos.calls)
		}
	}
	if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "WOULD_REMEDIATE" {
		t.Fatalf("notices = %+v", f.pub.sent)
	}
}

func TestPanicIsRecoveredIntoAnError(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.repos.panic = "Tags"
	err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json"))
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(f.logs.String(), "boom in Tags") {
		t.Fatalf("log = %s", f.logs)
	}
}

// counts sums the EMF metric values written so far by "metric/Kind".
func (f *fixture) counts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range f.metrics.JSONLines(t) {
		for _, d := range m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			for _, metric := range d.(map[string]any)["Metrics"].([]any) {
				name := metric.(map[string]any)["Name"].(string)
				out[name+"/"+fmt.Sprint(m["Kind"])] += int(m[name].(float64))
			}
		}
	}
	return out
}

func TestMetricsCountOutcomes(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Mutable, false)
	f.add("team-b/api", guard.Immutable, true)
	for _, name := range []string{
		"create-repository-mutable.json",                   // Remediated + LifecycleRestored
		"create-repository-immutable.json",                 // compliant
		"put-image-tag-mutability-failed.json",             // not applicable
		"put-image-tag-mutability-by-remediator-role.json", // self
		"put-image-tag-mutability-mutable.json",            // OBSERVED (team-b/api is immutable)
		"untag-resource-removes-exemption.json",            // team-c/sandbox does not exist
	} {
		if err := f.h.Handle(context.Background(), event(t, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_ = f.h.Handle(context.Background(), json.RawMessage(`{`))
	f.pub.err = throttled
	f.repos.repos["team-a/web"].Mutability = guard.Mutable
	_ = f.h.Handle(context.Background(), event(t, "create-repository-mutable.json"))

	want := map[string]int{
		"Remediated/REMEDIATED":                2,
		"LifecycleRestored/LIFECYCLE_RESTORED": 1,
		"Observed/OBSERVED":                    1,
		"Skipped/compliant":                    1,
		"Skipped/not-applicable":               1,
		"Skipped/self":                         1,
		"Skipped/repository-gone":              1,
		"Skipped/malformed":                    1,
		"NoticeFailures/REMEDIATED":            1,
	}
	got := f.counts(t)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected metrics: %v", got)
	}
}

func TestMutableWindowListsImagesPushedSinceTheChange(t *testing.T) {
	changed := time.Date(2025, 6, 10, 14, 20, 11, 0, time.UTC) // the sample's eventTime
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.repos.images = []guard.Image{
		{Digest: "sha256:before", Tags: []string{"v1.0.0"}, PushedAt: changed.Add(-time.Hour)},
		{Digest: "sha256:after", Tags: []string{"v1.0.0"}, PushedAt: changed.Add(time.Minute)},
	}
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	m := f.pub.sent[0]
	doc := m.Document.(notice.EventDocument)
	if pw := doc.PushedWhileMutable; pw == nil || len(pw.Images) != 1 || pw.Images[0].Digest != "sha256:after" || pw.Since != "2025-06-10T14:20:11Z" {
		t.Fatalf("pushedWhileMutable = %+v", doc.PushedWhileMutable)
	}
	if !strings.Contains(m.Text, "Pushed while tags were mutable (since 2025-06-10T14:20:11Z): verify these:") || !strings.Contains(m.Text, "sha256:after tags v1.0.0") || strings.Contains(m.Text, "sha256:before") {
		t.Fatalf("text:\n%s", m.Text)
	}
}

func TestNoImageListingWithoutAMutableWindow(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Immutable, false)
	if err := f.h.Handle(context.Background(), event(t, "delete-lifecycle-policy.json")); err != nil {
		t.Fatal(err)
	}
	if doc := f.pub.sent[0].Document.(notice.EventDocument); doc.PushedWhileMutable != nil || slices.Contains(f.repos.calls, "ImagesPushedSince") {
		t.Fatalf("listed images for a lifecycle-only notice: %v", f.repos.calls)
	}
}

func TestImageListingFailureStillNotifies(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-b/api", guard.Mutable, true)
	f.repos.fail["ImagesPushedSince"] = accessDenied
	if err := f.h.Handle(context.Background(), event(t, "put-image-tag-mutability-mutable.json")); err != nil {
		t.Fatal(err)
	}
	m := f.pub.sent[0]
	if m.Attributes["kind"] != "REMEDIATED" || !strings.Contains(m.Text, "could not list the images pushed since") {
		t.Fatalf("notice %v text:\n%s", m.Attributes, m.Text)
	}
}

func TestPermanentFailureIsNotHiddenByALaterRetryableOne(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Mutable, false)
	f.repos.fail["SetMutability"] = accessDenied
	f.repos.fail["PutLifecycle"] = throttled
	err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json"))
	if !errors.Is(err, accessDenied) || !errors.Is(err, throttled) {
		t.Fatalf("err = %v, want both failures", err)
	}
	if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "FAILED" {
		t.Fatalf("notices = %+v, want one FAILED", f.pub.sent)
	}
	doc := f.pub.sent[0].Document.(notice.EventDocument)
	if len(doc.Actions) != 2 || doc.Actions[0].Kind != guard.KindFailed || doc.Actions[1].Kind != guard.KindFailed {
		t.Fatalf("actions = %+v", doc.Actions)
	}
}

func TestRetryAfterFailedPublishReNotifiesForAnUntag(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-c/sandbox", guard.Mutable, true) // the exemption tag is gone
	f.pub.err = throttled
	if err := f.h.Handle(context.Background(), event(t, "untag-resource-removes-exemption.json")); !errors.Is(err, throttled) {
		t.Fatalf("err = %v", err)
	}
	if f.repos.repos["team-c/sandbox"].Mutability != guard.Immutable {
		t.Fatal("not reverted")
	}
	f.pub.err = nil
	if err := f.h.Handle(context.Background(), event(t, "untag-resource-removes-exemption.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 1 || f.pub.sent[0].Attributes["kind"] != "OBSERVED" || f.pub.sent[0].Attributes["severity"] != "MEDIUM" {
		t.Fatalf("notices = %+v, want the retry to report OBSERVED", f.pub.sent)
	}
}

func TestReadFailureNoticeDescribesOnlyWhatWasRead(t *testing.T) {
	f := newFixture(t, nil)
	f.add("team-a/web", guard.Mutable, false)
	f.repos.fail["Tags"] = accessDenied
	if err := f.h.Handle(context.Background(), event(t, "create-repository-mutable.json")); !errors.Is(err, accessDenied) {
		t.Fatalf("err = %v", err)
	}
	doc := f.pub.sent[0].Document.(notice.EventDocument)
	if doc.Before.LifecyclePolicy != "" || doc.After.LifecyclePolicy != "" || doc.Before.ImageTagMutability != guard.Mutable {
		t.Fatalf("before %+v after %+v: the lifecycle policy was never read", doc.Before, doc.After)
	}
}
