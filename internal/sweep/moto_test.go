package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// moto is one server for every test and benchmark of the package; each
// test that uses it starts with moto.Reset.
var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

// seedMoto creates the planned repositories in moto, concurrently.
func seedMoto(tb testing.TB, cfg aws.Config, plan []seeded) {
	tb.Helper()
	api := ecr.NewFromConfig(cfg)
	ctx := context.Background()
	jobs := make(chan seeded)
	errs := make(chan error, len(plan))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for s := range jobs {
				if err := seedOne(ctx, api, s); err != nil {
					errs <- fmt.Errorf("seed %s: %w", s.repoName, err)
				}
			}
		})
	}
	for _, s := range plan {
		jobs <- s
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func seedOne(ctx context.Context, api *ecr.Client, s seeded) error {
	in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(s.repoName), ImageTagMutability: ecrtypes.ImageTagMutability(s.mutability)}
	for _, f := range s.filters {
		in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters,
			ecrtypes.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	for _, t := range s.tags {
		in.Tags = append(in.Tags, ecrtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	if _, err := api.CreateRepository(ctx, in); err != nil {
		return err
	}
	if lc := lifecycleText(s.lifecycle); lc.Exists {
		_, err := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(s.repoName), LifecyclePolicyText: aws.String(lc.Text)})
		return err
	}
	return nil
}

// motoSweep is a sweeper wired as in production, except that ECR calls go
// through a recording proxy and notices, through another one, to an inbox.
type motoSweep struct {
	direct   aws.Config
	proxy    *testenv.Proxy // ECR
	snsProxy *testenv.Proxy // Publish, never reset
	received int            // notices taken from the inbox so far
	inbox    *testenv.Inbox
	repos    *ecrrepo.Client
	pub      *snspub.Publisher
	next     *fakeContinuer
	rules    guard.Rules
}

func newMotoSweep(tb testing.TB) *motoSweep {
	tb.Helper()
	moto.Reset(tb)
	direct := moto.AWSConfig(tb, moto.URL())
	proxy := testenv.NewProxy(tb, moto.URL())
	snsProxy := testenv.NewProxy(tb, moto.URL())
	inbox := testenv.NewInbox(tb, direct)
	proxied := moto.AWSConfig(tb, proxy.URL())
	proxied.RetryMode = aws.RetryModeAdaptive
	return &motoSweep{
		direct: direct, proxy: proxy, snsProxy: snsProxy, inbox: inbox,
		repos: ecrrepo.New(ecr.NewFromConfig(proxied)),
		pub:   snspub.New(sns.NewFromConfig(moto.AWSConfig(tb, snsProxy.URL())), inbox.TopicARN()),
		next:  &fakeContinuer{},
		rules: testRules(tb),
	}
}

func (m *motoSweep) sweeper(repos pager, log *slog.Logger, opt Options) *Sweeper {
	if repos == nil {
		repos = m.repos
	}
	return wire(repos, m.pub, m.next, metrics.NewEMF(io.Discard, "ecr-guard-sweep", time.Now), m.rules, log, opt)
}

// notices receives what was published since the last call, one notice per
// Publish: the SWEEP_REPORT documents and the other notices.
func (m *motoSweep) notices(t *testing.T) ([]notice.SweepDocument, []testenv.Notice) {
	t.Helper()
	published := m.snsProxy.Count("sns.Publish")
	want := published - m.received
	m.received = published
	var reports []notice.SweepDocument
	var others []testenv.Notice
	for _, n := range m.inbox.Receive(t, want, 10*time.Second) {
		if n.Attributes["kind"] != notice.KindSweepReport {
			others = append(others, n)
			continue
		}
		var doc notice.SweepDocument
		if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
			t.Fatalf("SWEEP_REPORT is not the JSON document: %v\n%s", err, n.Message)
		}
		reports = append(reports, doc)
	}
	return reports, others
}

// live reads every repository's state from moto directly.
func (m *motoSweep) live(t *testing.T) map[string]guard.Repository {
	t.Helper()
	api := ecr.NewFromConfig(m.direct)
	ctx := context.Background()
	out, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := ecrrepo.New(api)
	live := map[string]guard.Repository{}
	for _, r := range out.Repositories {
		repo := guard.Repository{Name: aws.ToString(r.RepositoryName), Mutability: string(r.ImageTagMutability)}
		for _, f := range r.ImageTagMutabilityExclusionFilters {
			repo.ExclusionFilters = append(repo.ExclusionFilters, aws.ToString(f.Filter))
		}
		if repo.Lifecycle, err = c.Lifecycle(ctx, repo.Name, ""); err != nil {
			t.Fatal(err)
		}
		live[repo.Name] = repo
	}
	return live
}

func discard() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func TestSweepAgainstMoto(t *testing.T) {
	m := newMotoSweep(t)
	weights := map[string]int{}
	for _, st := range repoStates {
		weights[st.name] = 1
	}
	weights["compliant"] = 10
	plan := seedPlan(240, weights)
	seedMoto(t, m.direct, plan)
	s := m.sweeper(nil, discard(), Options{})

	res, err := s.Handle(context.Background(), Payload{DryRun: false})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusComplete || res.Scanned != len(plan) {
		t.Fatalf("result %+v", res)
	}

	// Exactly the non-compliant, non-exempt repositories were fixed.
	live := m.live(t)
	for _, p := range plan {
		got := live[p.repoName]
		if got.Mutability != p.wantMutability || strings.Join(got.ExclusionFilters, ",") != strings.Join(p.wantFilters, ",") {
			t.Errorf("%s: %s %v, want %s %v", p.repoName, got.Mutability, got.ExclusionFilters, p.wantMutability, p.wantFilters)
		}
		if lc := lifecycleState(t, m.rules, got.Lifecycle); lc != p.wantLifecycle {
			t.Errorf("%s: lifecycle %s, want %s", p.repoName, lc, p.wantLifecycle)
		}
	}

	// One digest whose counts match; no other notice.
	reports, others := m.notices(t)
	want := wantCounts(plan)
	if len(reports) != 1 || reports[0].Counts != want || reports[0].Truncated != 0 || len(reports[0].Changed) != want.Remediated+want.LifecycleRestored-countBoth(plan) {
		t.Fatalf("reports %+v\nwant one with counts %+v", reports, want)
	}
	if len(others) != 0 {
		t.Errorf("%d other notices, first %q", len(others), others[0].Subject)
	}

	// Calls: one listing page; per repository one GetLifecyclePolicy; tags
	// only where mutability is not compliant; writes only where needed.
	nonCompliant, lifecycleWrites := 0, 0
	for _, p := range plan {
		if !m.rules.MutabilityCompliant(p.mutability, p.filters) {
			nonCompliant++
		}
		lifecycleWrites += b2i(p.want.lifecycle)
	}
	for op, want := range map[string]int{
		"ecr.DescribeRepositories":  1,
		"ecr.GetLifecyclePolicy":    len(plan),
		"ecr.ListTagsForResource":   nonCompliant,
		"ecr.PutImageTagMutability": want.Remediated,
		"ecr.PutLifecyclePolicy":    lifecycleWrites,
	} {
		if got := m.proxy.Count(op); got != want {
			t.Errorf("%s: %d calls, want %d", op, got, want)
		}
	}
	// A compliant repository cost exactly its GetLifecyclePolicy.
	compliantCalls := map[string]int{}
	for _, c := range m.proxy.Calls() {
		var body struct {
			RepositoryName string `json:"repositoryName"`
			ResourceArn    string `json:"resourceArn"`
		}
		_ = json.Unmarshal(c.Body, &body)
		name := body.RepositoryName
		if i := strings.Index(body.ResourceArn, ":repository/"); i >= 0 {
			name = body.ResourceArn[i+len(":repository/"):]
		}
		compliantCalls[name]++
	}
	for _, p := range plan {
		if p.want.compliant && compliantCalls[p.repoName] != 1 {
			t.Errorf("compliant %s cost %d calls, want 1", p.repoName, compliantCalls[p.repoName])
		}
	}

	// A second sweep changes nothing and reports zero remediations.
	m.proxy.Reset()
	if _, err := s.Handle(context.Background(), Payload{}); err != nil {
		t.Fatal(err)
	}
	if n := m.proxy.Count("ecr.PutImageTagMutability") + m.proxy.Count("ecr.PutLifecyclePolicy"); n != 0 {
		t.Errorf("second sweep made %d writes", n)
	}
	reports, _ = m.notices(t)
	if len(reports) != 1 || reports[0].Counts != wantSecondCounts(plan) || reports[0].Counts.Remediated != 0 || reports[0].Severity != "INFO" {
		t.Fatalf("second reports %+v\nwant counts %+v", reports, wantSecondCounts(plan))
	}
}

// countBoth counts the repositories both remediated and given a lifecycle
// policy (listed once in the changed list).
func countBoth(plan []seeded) int {
	n := 0
	for _, p := range plan {
		n += b2i(p.want.remediated && p.want.lifecycle)
	}
	return n
}

func TestSweepAgainstMotoSurvivesFailures(t *testing.T) {
	m := newMotoSweep(t)
	plan := seedPlan(30, map[string]int{"mutable": 1})
	seedMoto(t, m.direct, plan)
	// One tag read and one write refused for good; one repository deleted
	// after the listing.
	m.proxy.InjectFault("ecr.ListTagsForResource", testenv.APIErrorFault(400, "AccessDeniedException"), 1)
	m.proxy.InjectFault("ecr.PutImageTagMutability", testenv.APIErrorFault(400, "AccessDeniedException"), 1)
	gone := plan[len(plan)-1].repoName
	repos := &deleteOnFirstRead{Client: m.repos, api: ecr.NewFromConfig(m.direct), name: gone}

	res, err := m.sweeper(repos, discard(), Options{Concurrency: 4}).Handle(context.Background(), Payload{})
	if err != nil {
		t.Fatal(err)
	}
	reports, others := m.notices(t)
	if res.Status != StatusComplete || len(reports) != 1 {
		t.Fatalf("result %+v, %d reports", res, len(reports))
	}
	c := reports[0].Counts
	if c.Scanned != 30 || c.Failed != 2 || c.Deleted != 1 || c.Remediated != 27 || reports[0].Severity != "CRITICAL" {
		t.Errorf("counts %+v severity %s", c, reports[0].Severity)
	}
	if len(others) != 2 {
		t.Fatalf("%d FAILED notices, want 2", len(others))
	}
	for _, n := range others {
		if n.Attributes["kind"] != "FAILED" || !strings.Contains(n.Message, "AccessDeniedException") || strings.Contains(n.Message, `"trigger"`) {
			t.Errorf("notice %q attributes %v:\n%s", n.Subject, n.Attributes, n.Message)
		}
	}
}

// deleteOnFirstRead deletes one repository (in moto) when the sweep first
// reads anything: it was listed, then vanished.
type deleteOnFirstRead struct {
	*ecrrepo.Client
	api  *ecr.Client
	name string
	once sync.Once
}

func (d *deleteOnFirstRead) Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error) {
	d.once.Do(func() {
		if _, err := d.api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(d.name), Force: true}); err != nil {
			panic(err)
		}
	})
	return d.Client.Lifecycle(ctx, name, registryID)
}

func (d *deleteOnFirstRead) Tags(ctx context.Context, arn string) ([]guard.Tag, error) {
	d.once.Do(func() {
		if _, err := d.api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(d.name), Force: true}); err != nil {
			panic(err)
		}
	})
	return d.Client.Tags(ctx, arn)
}

// slowRepos makes every lifecycle read take a (fake) second.
type slowRepos struct {
	*ecrrepo.Client
	clock *clock
}

func (s slowRepos) Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error) {
	s.clock.Advance(time.Second)
	return s.Client.Lifecycle(ctx, name, registryID)
}

func TestContinuationChainAgainstMoto(t *testing.T) {
	m := newMotoSweep(t)
	plan := seedPlan(120, nil)
	seedMoto(t, m.direct, plan)
	f := &fixture{clock: newClock(), next: m.next}
	f.s = m.sweeper(slowRepos{Client: m.repos, clock: f.clock}, discard(), Options{Now: f.clock.Now})

	// 30 s invocations keep a 10 s margin: about 20 repositories a link.
	results := runChain(t, f, Payload{}, 30*time.Second)
	if len(results) < 4 {
		t.Fatalf("%d links", len(results))
	}
	// Every repository was evaluated exactly once across the chain.
	evaluated := map[string]int{}
	for _, c := range m.proxy.Calls() {
		if c.Operation == "GetLifecyclePolicy" {
			var body struct{ RepositoryName string }
			_ = json.Unmarshal(c.Body, &body)
			evaluated[body.RepositoryName]++
		}
	}
	for _, p := range plan {
		if evaluated[p.repoName] != 1 {
			t.Errorf("%s evaluated %d times", p.repoName, evaluated[p.repoName])
		}
	}
	if len(evaluated) != len(plan) {
		t.Errorf("%d repositories evaluated, want %d", len(evaluated), len(plan))
	}
	// One digest for the chain, not one per link.
	reports, _ := m.notices(t)
	if len(reports) != 1 || reports[0].Counts != wantCounts(plan) || reports[0].Invocations != len(results) {
		t.Fatalf("reports %+v\nwant one with counts %+v over %d invocations", reports, wantCounts(plan), len(results))
	}
}
