package remediate_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

// world is one moto account with ecr-guard's handler wired to it through a
// recording proxy, exactly as main wires it, and an inbox on the topic.
type world struct {
	ecr     *ecr.Client // direct to moto, for seeding and checking
	proxy   *testenv.Proxy
	inbox   *testenv.Inbox
	cfg     config.Config
	handler *remediate.Handler
}

func newWorld(t *testing.T, extraEnv map[string]string) *world {
	t.Helper()
	moto.Reset(t)
	direct := moto.AWSConfig(t, moto.URL())
	w := &world{ecr: ecr.NewFromConfig(direct), proxy: testenv.NewProxy(t, moto.URL()), inbox: testenv.NewInbox(t, direct)}
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = w.inbox.TopicARN()
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	viaProxy := moto.AWSConfig(t, w.proxy.URL())
	log := slog.New(slog.NewJSONHandler(testWriter{t}, nil))
	w.handler = newHandler(ecrrepo.New(ecr.NewFromConfig(viaProxy)), snspub.New(sns.NewFromConfig(viaProxy), cfg.TopicARN),
		metrics.NewEMF(testWriter{t}, "ecr-guard-test", time.Now), cfg.Rules, log)
	return w
}

// newHandler wires the handler as functions/remediate/main.go does.
func newHandler(repos *ecrrepo.Client, pub *snspub.Publisher, emf *metrics.EMF, rules guard.Rules, log *slog.Logger) *remediate.Handler {
	return remediate.New(reconcile.New(reconcile.One{Repositories: repos}, rules, emf, time.Now), notify.New(pub, emf), emf, remediate.FixedScope(scenario.Scope), log)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (w *world) seed(t *testing.T, name string, s *scenario.State) {
	t.Helper()
	if err := scenario.Seed(context.Background(), w.ecr, name, s, w.cfg.Rules.Baseline.Text()); err != nil {
		t.Fatal(err)
	}
}

func (w *world) state(t *testing.T, name string) *scenario.State {
	t.Helper()
	s, err := scenario.Read(context.Background(), w.ecr, name, w.cfg.Rules.Baseline)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// published returns the structured Message of every Publish the function
// sent, decoded: "default"/"email" text and the JSON documents.
func (w *world) published(t *testing.T) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, c := range w.proxy.Calls() {
		if c.Operation != "Publish" {
			continue
		}
		form, err := url.ParseQuery(string(c.Body))
		if err != nil {
			t.Fatal(err)
		}
		if form.Get("MessageStructure") != "json" {
			t.Fatalf("Publish without MessageStructure json: %v", form)
		}
		var structured map[string]string
		if err := json.Unmarshal([]byte(form.Get("Message")), &structured); err != nil {
			t.Fatalf("Message is not the structured JSON: %v", err)
		}
		out = append(out, structured)
	}
	return out
}

// receive waits for the n notices the handler published: the proxy saw
// exactly n Publish calls, and the inbox got them.
func (w *world) receive(t *testing.T, n int) []testenv.Notice {
	t.Helper()
	if got := w.proxy.Count("Publish"); got != n {
		t.Fatalf("%d Publish calls, want %d", got, n)
	}
	return w.inbox.Receive(t, n, 5*time.Second)
}

// onlyNotice requires that exactly one notice was published and decodes its
// JSON document.
func (w *world) onlyNotice(t *testing.T) notice.EventDocument {
	t.Helper()
	notices := w.receive(t, 1)
	var doc notice.EventDocument
	if err := json.Unmarshal([]byte(notices[0].Message), &doc); err != nil {
		t.Fatalf("the sqs body is not the JSON document: %v", err)
	}
	return doc
}

// readEvent reads a sample as if it had just happened.
func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	return readEventAt(t, name, time.Now())
}

func readEventAt(t *testing.T, name string, at time.Time) []byte {
	t.Helper()
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), name, at)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// eventFacts reads the event's id, its principal as the notice's
// principalArn gives it (an AWS service's invokedBy when it has no ARN), and
// who the text report's Who line names: an assumed role's role and session.
func eventFacts(t *testing.T, raw []byte) (eventID, principal, who string) {
	t.Helper()
	var e struct {
		Detail struct {
			EventID      string `json:"eventID"`
			UserIdentity struct {
				ARN            string `json:"arn"`
				InvokedBy      string `json:"invokedBy"`
				SessionContext struct {
					SessionIssuer struct {
						ARN string `json:"arn"`
					} `json:"sessionIssuer"`
				} `json:"sessionContext"`
			} `json:"userIdentity"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	ui := e.Detail.UserIdentity
	principal, who = ui.ARN, ui.ARN
	if principal == "" {
		principal, who = ui.InvokedBy, ui.InvokedBy
	}
	if issuer := ui.SessionContext.SessionIssuer.ARN; issuer != "" && strings.Contains(ui.ARN, ":assumed-role/") {
		who = "role " + issuer + ", session " + ui.ARN[strings.LastIndex(ui.ARN, "/")+1:]
	}
	return e.Detail.EventID, principal, who
}

func TestScenariosAgainstMoto(t *testing.T) {
	for _, sc := range scenario.All {
		t.Run(sc.Title, func(t *testing.T) {
			w := newWorld(t, nil)
			w.seed(t, sc.Repo, sc.Seed)
			raw := readEvent(t, sc.Event)
			w.proxy.Reset()

			err := w.handler.Handle(context.Background(), raw)
			if (err != nil) != sc.Err {
				t.Fatalf("Handle err = %v, want error %v", err, sc.Err)
			}
			if sc.Rejected && len(w.proxy.Calls()) != 0 {
				t.Fatalf("a rejected event made AWS calls: %v", w.proxy.Calls())
			}
			if got := w.state(t, sc.Repo); !scenario.Equal(got, sc.Expected()) {
				t.Fatalf("state = %v, want %v", got, sc.Expected())
			}

			if sc.Kind == "" {
				w.receive(t, 0)
				return
			}
			notices := w.receive(t, 1)
			checkNotice(t, sc, raw, notices[0], w.published(t))
		})
	}
}

func checkNotice(t *testing.T, sc scenario.Scenario, raw []byte, n testenv.Notice, published []map[string]string) {
	t.Helper()
	eventID, principal, who := eventFacts(t, raw)
	if n.Subject != sc.Subject {
		t.Errorf("subject = %q, want %q", n.Subject, sc.Subject)
	}
	severity := map[guard.Kind]string{
		guard.KindRemediated: "HIGH", guard.KindObserved: "HIGH", guard.KindExempt: "MEDIUM",
		guard.KindExemptionGranted: "MEDIUM", guard.KindLifecycleRestored: "LOW",
	}[sc.Kind]
	wantAttrs := map[string]string{"kind": string(sc.Kind), "severity": severity, "repository": sc.Repo, "account": "123456789012", "region": "us-east-1"}
	for k, v := range wantAttrs {
		if n.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, n.Attributes[k], v)
		}
	}
	if n.Attributes["eventName"] == "" {
		t.Error("no eventName attribute")
	}

	// The machine body, as the SQS subscriber received it.
	var doc notice.EventDocument
	if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
		t.Fatalf("sqs body is not the JSON document: %v\n%s", err, n.Message)
	}
	if doc.SchemaVersion != notice.SchemaVersion || doc.Kind != sc.Kind || doc.Severity != severity || doc.Repository.Name != sc.Repo ||
		doc.Trigger == nil || doc.Trigger.EventID != eventID || doc.Trigger.PrincipalARN != principal || len(doc.Actions) == 0 ||
		doc.After.ImageTagMutability != sc.Expected().Mutability {
		t.Errorf("document = %+v", doc)
	}

	// The human body, as published for the default and email protocols.
	if len(published) != 1 {
		t.Fatalf("want one Publish call, got %d", len(published))
	}
	text := published[0]["default"]
	if published[0]["email"] != text {
		t.Error("email and default bodies differ")
	}
	for _, want := range []string{
		"ecr-guard " + string(sc.Kind) + " (" + severity + "): repository " + sc.Repo,
		"Who:          " + who,
		"CloudTrail event " + eventID,
		"Console:      https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/" + sc.Repo + "?region=us-east-1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, proto := range []string{"sqs", "lambda", "http", "https"} {
		if published[0][proto] != n.Message {
			t.Errorf("%s body differs from the sqs body", proto)
		}
	}
}

func TestDryRunAgainstMoto(t *testing.T) {
	w := newWorld(t, map[string]string{"DRY_RUN": "true"})
	seed := &scenario.State{Mutability: guard.Mutable, Lifecycle: "absent"}
	w.seed(t, "team-a/web", seed)
	if err := w.handler.Handle(context.Background(), readEvent(t, "create-repository-mutable.json")); err != nil {
		t.Fatal(err)
	}
	if got := w.state(t, "team-a/web"); !scenario.Equal(got, seed) {
		t.Fatalf("dry run changed the repository: %v", got)
	}
	if w.proxy.Count("PutImageTagMutability")+w.proxy.Count("PutLifecyclePolicy") != 0 {
		t.Fatal("dry run wrote to ECR")
	}
	notices := w.receive(t, 1)
	if notices[0].Attributes["kind"] != "WOULD_REMEDIATE" ||
		notices[0].Subject != "[ecr-guard] WOULD_REMEDIATE team-a/web -> IMMUTABLE (123456789012 us-east-1)" {
		t.Fatalf("notices = %+v", notices)
	}
}

func TestEventReadsOnlyWhatTheRulesNeed(t *testing.T) {
	w := newWorld(t, nil)
	w.seed(t, "team-b/api", &scenario.State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest", "dev-*"}, Lifecycle: "baseline"})
	w.proxy.Reset()
	if err := w.handler.Handle(context.Background(), readEvent(t, "put-image-tag-mutability-immutable-with-exclusion-allowed.json")); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range w.proxy.Calls() {
		ops = append(ops, c.Operation)
	}
	if slices.Sort(ops); strings.Join(ops, ",") != "DescribeRepositories,ListTagsForResource" {
		t.Fatalf("calls = %v, want DescribeRepositories and ListTagsForResource only", ops)
	}
}

// pushImage stores an image with a real manifest under tag.
func pushImage(t *testing.T, api *ecr.Client, repo, tag, layer string) {
	t.Helper()
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:` + strings.Repeat(layer, 64)[:64] + `"},` +
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:` + strings.Repeat(layer, 64)[:64] + `"}]}`
	if _, err := api.PutImage(context.Background(), &ecr.PutImageInput{RepositoryName: &repo, ImageManifest: &manifest, ImageTag: aws.String(tag)}); err != nil {
		t.Fatal(err)
	}
}

func TestNoticeListsImagesPushedWhileMutable(t *testing.T) {
	w := newWorld(t, nil)
	w.seed(t, "team-b/api", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"})
	pushImage(t, w.ecr, "team-b/api", "v0.9.0", "d")
	pushImage(t, w.ecr, "team-b/api", "v1.0.0", "a")
	before := digests(t, w.ecr)["v1.0.0"]
	time.Sleep(1100 * time.Millisecond) // ECR push times have second precision
	changedAt := time.Now().UTC().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	pushImage(t, w.ecr, "team-b/api", "v1.0.0", "b") // the overwrite
	pushImage(t, w.ecr, "team-b/api", "v1.0.1", "c")

	raw := readEventAt(t, "put-image-tag-mutability-mutable.json", changedAt)
	if err := w.handler.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	digestOf := digests(t, w.ecr)

	doc := w.onlyNotice(t)
	pw := doc.PushedWhileMutable
	if pw == nil || len(pw.Images) != 2 || pw.Truncated || pw.Since != changedAt.Format(time.RFC3339) {
		t.Fatalf("pushedWhileMutable = %+v", pw)
	}
	listed := map[string]bool{}
	for _, img := range pw.Images {
		listed[img.Digest] = true
	}
	if !listed[digestOf["v1.0.0"]] || !listed[digestOf["v1.0.1"]] || listed[before] || before == digestOf["v1.0.0"] || listed[digestOf["v0.9.0"]] || digestOf["v0.9.0"] == "" {
		t.Fatalf("listed %v, want the overwrite of v1.0.0 (%s) and v1.0.1 but not the image pushed before (%s)", listed, digestOf["v1.0.0"], before)
	}
	text := w.published(t)[0]["default"]
	if !strings.Contains(text, "Pushed while tags were mutable (since "+changedAt.Format(time.RFC3339)+"): verify these:") ||
		!strings.Contains(text, digestOf["v1.0.0"]+" tags v1.0.0") {
		t.Fatalf("text:\n%s", text)
	}
}

// digests maps each tag in team-b/api to its image digest.
func digests(t *testing.T, api *ecr.Client) map[string]string {
	t.Helper()
	images, err := api.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String("team-b/api")})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range images.ImageDetails {
		for _, tag := range d.ImageTags {
			out[tag] = aws.ToString(d.ImageDigest)
		}
	}
	return out
}

func TestRemediationIsIdempotentAcrossDuplicateDeliveries(t *testing.T) {
	w := newWorld(t, nil)
	w.seed(t, "team-a/web", &scenario.State{Mutability: guard.Mutable, Lifecycle: "absent"})
	raw := readEvent(t, "create-repository-mutable.json")
	for range 3 {
		if err := w.handler.Handle(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.proxy.Count("PutImageTagMutability"); n != 1 {
		t.Fatalf("PutImageTagMutability called %d times, want 1", n)
	}
	notices := w.receive(t, 3)
	kinds := []string{}
	for _, n := range notices {
		kinds = append(kinds, n.Attributes["kind"])
	}
	// The first delivery fixes it; later ones see it compliant and report
	// the window the event shows.
	if strings.Join(kinds, ",") != "REMEDIATED,OBSERVED,OBSERVED" {
		t.Fatalf("kinds = %v", kinds)
	}
}

func TestExemptionOutsideThePatternsIsRejected(t *testing.T) {
	w := newWorld(t, map[string]string{"EXEMPT_REPOSITORY_PATTERNS": "sandbox/*,team-c/*"})
	w.seed(t, "team-a/web", &scenario.State{Mutability: guard.Mutable, Tags: map[string]string{"environment": "dev"}, Lifecycle: "baseline"})
	if err := w.handler.Handle(context.Background(), readEvent(t, "tag-resource-adds-exemption.json")); err != nil {
		t.Fatal(err)
	}
	if got := w.state(t, "team-a/web"); got.Mutability != guard.Immutable {
		t.Fatalf("a repository outside the patterns must be reverted despite the tag: %v", got)
	}
	doc := w.onlyNotice(t)
	var rejected *notice.Action
	for i, a := range doc.Actions {
		if a.Kind == guard.KindExemptionRejected {
			rejected = &doc.Actions[i]
		}
	}
	if rejected == nil || rejected.Severity != "HIGH" || doc.Exemption == nil || doc.Exemption.Status != guard.ExemptionNameNotAllowed ||
		!strings.Contains(rejected.Summary, "jane.doe@example.com") {
		t.Fatalf("document = %+v", doc)
	}
}
