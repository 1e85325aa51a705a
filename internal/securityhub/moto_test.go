package securityhub_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/findings"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/securityhub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

const account = "123456789012"

var scope = guard.Scope{Partition: "aws", Account: account, Region: testenv.Region}

type world struct {
	direct  aws.Config
	proxy   *testenv.Proxy
	ecr     *ecr.Client
	hub     *sh.Client
	rec     *reconcile.Reconciler
	pub     *securityhub.Publisher
	res     *registries.Resolver
	emf     *bytes.Buffer
	mu      sync.Mutex
	batches []int // findings per BatchImportFindings request
	rules   guard.Rules
}

func newWorld(t *testing.T, dryRun bool, batch bool) *world {
	t.Helper()
	moto.Reset(t)
	direct := moto.AWSConfig(t, moto.URL())
	proxy := testenv.NewProxy(t, moto.URL())
	proxied := moto.AWSConfig(t, proxy.URL())
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := guard.Rules{ExemptTags: []guard.TagMatcher{{Key: "environment", Value: "dev"}}, ExemptionExpiresTag: "exemption-expires",
		Baseline: baseline, LifecycleMode: guard.LifecycleEnforce, DryRun: dryRun}
	var emf bytes.Buffer
	m := metrics.NewEMF(&emf, "ecr-guard", time.Now)
	// The production resolver: ECR and Security Hub clients with the same
	// credentials, through the recording proxy.
	res := registries.New(proxied, func(context.Context) (guard.Scope, error) { return scope, nil }, registries.Options{})
	w := &world{direct: direct, proxy: proxy, ecr: ecr.NewFromConfig(direct), hub: sh.NewFromConfig(direct),
		rec: reconcile.New(res, rules, m, time.Now), res: res, emf: &emf, rules: rules}
	w.pub = securityhub.New(securityhub.ClientsFunc(func(ctx context.Context, a, r string) (securityhub.API, error) {
		c, err := res.SecurityHub(ctx, a, r)
		return counting{c, w}, err
	}), rules, m, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, securityhub.Options{Batch: batch})
	return w
}

// counting records the size of every import request.
type counting struct {
	securityhub.API
	w *world
}

func (c counting) BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, opts ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error) {
	c.w.mu.Lock()
	c.w.batches = append(c.w.batches, len(in.Findings))
	c.w.mu.Unlock()
	return c.API.BatchImportFindings(ctx, in, opts...)
}

func (w *world) create(t *testing.T, name string, m ecrtypes.ImageTagMutability, tags ...ecrtypes.Tag) {
	t.Helper()
	if _, err := w.ecr.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: m, Tags: tags}); err != nil {
		t.Fatal(err)
	}
}

func key(name string) reconcile.Key {
	return reconcile.Key{Partition: "aws", Registry: account, Region: testenv.Region, Name: name}
}

// event reconciles name as the event path does for a PutImageTagMutability
// to MUTABLE, and publishes its findings.
func (w *world) event(t *testing.T, name, id string) reconcile.Outcome {
	t.Helper()
	ev := &guard.Event{ID: "env-" + id, EventID: id, Name: guard.EventPutImageTagMutability, Time: time.Now(),
		Region: testenv.Region, Account: account, Repository: name, Request: guard.Request{Mutability: guard.Mutable},
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::" + account + ":user/mallory"}}
	o := w.rec.Reconcile(context.Background(), reconcile.Request{Key: key(name), Checks: guard.ChecksFor(ev.Name), Event: ev})
	w.pub.Publish(context.Background(), key(name), o, ev)
	return o
}

// finding reads one finding back from Security Hub (moto).
func (w *world) finding(t *testing.T, control, name string) types.AwsSecurityFinding {
	t.Helper()
	id := findings.ID(control, key(name).ARN())
	out, err := w.hub.GetFindings(context.Background(), &sh.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(id)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Findings {
		if aws.ToString(f.Id) == id {
			return f
		}
	}
	t.Fatalf("no finding %s among %d", id, len(out.Findings))
	return types.AwsSecurityFinding{}
}

func (w *world) count(t *testing.T) int {
	t.Helper()
	n := 0
	var token *string
	for {
		out, err := w.hub.GetFindings(context.Background(), &sh.GetFindingsInput{NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Findings)
		if token = out.NextToken; token == nil || *token == "" {
			return n
		}
	}
}

func parseTime(t *testing.T, s *string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, aws.ToString(s))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

type want struct {
	status     types.ComplianceStatus
	record     types.RecordState
	label      types.SeverityLabel
	kind       string
	eventID    string
	mutability string
	desc       []string
}

func check(t *testing.T, f types.AwsSecurityFinding, control, name string, w want) {
	t.Helper()
	arn := key(name).ARN()
	eq := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s %s: %s = %q, want %q", control, name, what, got, want)
		}
	}
	eq("GeneratorId", aws.ToString(f.GeneratorId), "ecr-guard/"+control)
	eq("ProductArn", aws.ToString(f.ProductArn), "arn:aws:securityhub:us-east-1:"+account+":product/"+account+"/default")
	eq("AwsAccountId", aws.ToString(f.AwsAccountId), account)
	eq("SchemaVersion", aws.ToString(f.SchemaVersion), "2018-10-08")
	eq("Types", strings.Join(f.Types, ","), "Software and Configuration Checks/AWS Security Best Practices")
	eq("RecordState", string(f.RecordState), string(w.record))
	eq("Severity", string(f.Severity.Label), string(w.label))
	if f.Compliance != nil || w.status != "" {
		eq("Compliance", string(f.Compliance.Status), string(w.status))
	}
	eq("ProductFields kind", f.ProductFields[findings.FieldKind], w.kind)
	eq("ProductFields eventId", f.ProductFields[findings.FieldEventID], w.eventID)
	if len(f.Resources) != 1 {
		t.Fatalf("%d resources", len(f.Resources))
	}
	r := f.Resources[0]
	eq("Resource.Type", aws.ToString(r.Type), "AwsEcrRepository")
	eq("Resource.Id", aws.ToString(r.Id), arn)
	if r.Details == nil || r.Details.AwsEcrRepository == nil {
		t.Fatalf("no Details.AwsEcrRepository: %+v", r)
	}
	eq("RepositoryName", aws.ToString(r.Details.AwsEcrRepository.RepositoryName), name)
	eq("ImageTagMutability", aws.ToString(r.Details.AwsEcrRepository.ImageTagMutability), w.mutability)
	if f.RecordState == types.RecordStateActive {
		eq("Recommendation.Url", aws.ToString(f.Remediation.Recommendation.Url), notice.ConsoleURL(testenv.Region, account, name))
	}
	if aws.ToString(f.CreatedAt) == "" || aws.ToString(f.UpdatedAt) == "" {
		t.Errorf("CreatedAt %q UpdatedAt %q", aws.ToString(f.CreatedAt), aws.ToString(f.UpdatedAt))
	}
	for _, s := range w.desc {
		if !strings.Contains(aws.ToString(f.Description), s) {
			t.Errorf("%s %s: description %q lacks %q", control, name, aws.ToString(f.Description), s)
		}
	}
}

func TestEventPathFindingsInMoto(t *testing.T) {
	w := newWorld(t, false, false)
	w.create(t, "reverted", ecrtypes.ImageTagMutabilityMutable)
	w.create(t, "exempt", ecrtypes.ImageTagMutabilityMutable,
		ecrtypes.Tag{Key: aws.String("environment"), Value: aws.String("dev")}, ecrtypes.Tag{Key: aws.String("exemption-expires"), Value: aws.String("2099-01-01")})
	w.create(t, "refused", ecrtypes.ImageTagMutabilityMutable)
	w.create(t, "deleted", ecrtypes.ImageTagMutabilityImmutable)

	if o := w.event(t, "reverted", "ev-revert"); o.Status != reconcile.Done {
		t.Fatalf("revert: %+v", o)
	}
	check(t, w.finding(t, findings.ControlTagImmutability, "reverted"), findings.ControlTagImmutability, "reverted", want{
		status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
		kind: "REMEDIATED", eventID: "ev-revert", mutability: guard.Immutable, desc: []string{"user/mallory", "[REMEDIATED]"}})

	w.event(t, "exempt", "ev-exempt")
	check(t, w.finding(t, findings.ControlTagImmutability, "exempt"), findings.ControlTagImmutability, "exempt", want{
		status: types.ComplianceStatusWarning, record: types.RecordStateActive, label: types.SeverityLabelMedium,
		kind: "EXEMPT", eventID: "ev-exempt", mutability: guard.Mutable, desc: []string{"environment=dev", "2099-01-01"}})

	w.proxy.InjectFault("ecr.PutImageTagMutability", testenv.APIErrorFault(http.StatusBadRequest, "AccessDeniedException"), -1)
	if o := w.event(t, "refused", "ev-refused"); o.Status != reconcile.Failed {
		t.Fatalf("refused: %+v", o)
	}
	w.proxy.ClearFaults()
	check(t, w.finding(t, findings.ControlTagImmutability, "refused"), findings.ControlTagImmutability, "refused", want{
		status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelCritical,
		kind: "FAILED", eventID: "ev-refused", mutability: guard.Mutable, desc: []string{"[FAILED]"}})

	// First imported while it exists, then archived once it is gone: the
	// same Id, upserted.
	w.event(t, "deleted", "ev-before")
	if _, err := w.ecr.DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("deleted")}); err != nil {
		t.Fatal(err)
	}
	if o := w.event(t, "deleted", "ev-after"); o.Status != reconcile.Gone {
		t.Fatalf("deleted: %+v", o)
	}
	check(t, w.finding(t, findings.ControlTagImmutability, "deleted"), findings.ControlTagImmutability, "deleted", want{
		status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational,
		kind: "DELETED", eventID: "ev-after", desc: []string{"no longer exists"}})

	// One finding per repository and control: re-importing upserts, and
	// keeps the CreatedAt Security Hub holds (moto stores what is sent).
	first := w.finding(t, findings.ControlTagImmutability, "reverted")
	w.event(t, "reverted", "ev-again")
	f := w.finding(t, findings.ControlTagImmutability, "reverted")
	if f.ProductFields[findings.FieldEventID] != "ev-again" {
		t.Errorf("re-import did not update the finding: %v", f.ProductFields)
	}
	if aws.ToString(f.CreatedAt) != aws.ToString(first.CreatedAt) || !parseTime(t, f.UpdatedAt).After(parseTime(t, first.UpdatedAt)) {
		t.Errorf("re-import: CreatedAt %s -> %s, UpdatedAt %s -> %s; want CreatedAt kept, UpdatedAt later",
			aws.ToString(first.CreatedAt), aws.ToString(f.CreatedAt), aws.ToString(first.UpdatedAt), aws.ToString(f.UpdatedAt))
	}
	if n := w.count(t); n != 5 { // 4 tag-immutability + deleted's lifecycle-policy (archived)
		t.Errorf("%d findings in Security Hub, want 5", n)
	}
	if strings.Contains(w.emf.String(), metrics.FindingFailures) {
		t.Errorf("finding failures counted: %s", w.emf.String())
	}
}

func TestDryRunFindingIsFailedInMoto(t *testing.T) {
	w := newWorld(t, true, false)
	w.create(t, "dry", ecrtypes.ImageTagMutabilityMutable)
	w.event(t, "dry", "ev-dry")
	check(t, w.finding(t, findings.ControlTagImmutability, "dry"), findings.ControlTagImmutability, "dry", want{
		status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelHigh,
		kind: "WOULD_REMEDIATE", eventID: "ev-dry", mutability: guard.Mutable, desc: []string{"Dry run"}})
}

type nopContinuer struct{}

func (nopContinuer) Continue(context.Context, sweep.Payload) error { return nil }

type nopNotices struct{}

func (nopNotices) Publish(context.Context, notice.Message) (string, error) { return "id", nil }

func TestSweepFindingsInMoto(t *testing.T) {
	w := newWorld(t, false, true)
	const n = 130 // more than one BatchImportFindings request
	for i := range n {
		m := ecrtypes.ImageTagMutabilityImmutable
		if i%10 == 0 {
			m = ecrtypes.ImageTagMutabilityMutable
		}
		w.create(t, "sweep-"+string(rune('a'+i/26))+string(rune('a'+i%26)), m)
	}
	m := metrics.NewEMF(io.Discard, "ecr-guard-sweep", time.Now)
	rec := reconcile.New(w.res, w.rules, m, time.Now).WithFindings(w.pub)
	s := sweep.New(targets.New(w.direct, w.res, scope, nil), rec, notify.New(nopNotices{}, m), nopContinuer{}, m, slog.New(slog.NewTextHandler(io.Discard, nil)),
		sweep.Options{Scope: scope, Now: time.Now})
	res, err := s.Handle(context.Background(), sweep.Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sweep.StatusComplete {
		t.Fatalf("sweep %+v", res)
	}
	// Two controls per repository, and two for the registry's missing
	// ROOT template (FAILED: ECR creates everything else MUTABLE);
	// batches of at most 100.
	const wantFindings = 2*n + 2
	if got := w.count(t); got != wantFindings {
		t.Errorf("%d findings after the sweep, want %d", got, wantFindings)
	}
	total := 0
	for _, b := range w.batches {
		if b > securityhub.MaxBatch {
			t.Errorf("a request of %d findings", b)
		}
		total += b
	}
	if total != wantFindings || len(w.batches) < 3 {
		t.Errorf("requests %v for %d findings", w.batches, wantFindings)
	}
	check(t, w.finding(t, findings.ControlTagImmutability, "sweep-aa"), findings.ControlTagImmutability, "sweep-aa", want{
		status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
		kind: "REMEDIATED", mutability: guard.Immutable, desc: []string{"scheduled sweep"}})
	check(t, w.finding(t, findings.ControlLifecyclePolicy, "sweep-ab"), findings.ControlLifecyclePolicy, "sweep-ab", want{
		status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
		kind: "LIFECYCLE_RESTORED", mutability: guard.Immutable})
	if f := w.finding(t, findings.ControlLifecyclePolicy, "sweep-ab"); f.Resources[0].Details.AwsEcrRepository.LifecyclePolicy == nil {
		t.Error("lifecycle-policy finding without LifecyclePolicyText")
	}
}
