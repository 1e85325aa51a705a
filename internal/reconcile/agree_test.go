package reconcile_test

// The event path and the sweep are two drivers of one step: run against
// moto from every scenario's starting state, they must write the same and
// find the same, as far as the event's rules reach (an event about tag
// mutability does not read the lifecycle policy; the sweep checks both).

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/cloudtrail"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

// observed is what one driver did to one repository, in the areas checked.
type observed struct {
	mutabilityWrites []string // "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION [latest]"
	lifecycleWrites  int
	kinds            []guard.Kind // what was done, would be done, or failed
	state            scenario.State
}

// actionKinds are the kinds both drivers report; OBSERVED, EXEMPT and the
// exemption changes are about an event, which the sweep has not.
var actionKinds = map[guard.Kind]guard.Area{
	guard.KindRemediated: guard.AreaMutability, guard.KindWouldRemediate: guard.AreaMutability,
	guard.KindLifecycleRestored: guard.AreaLifecycle, guard.KindWouldRestoreLifecycle: guard.AreaLifecycle,
	guard.KindFailed: "",
}

type rig struct {
	via   aws.Config // through the proxy
	proxy *testenv.Proxy
	ecr   *ecr.Client
	cfg   config.Config
	repos *ecrrepo.Client
	pub   *snspub.Publisher
	emf   *metrics.EMF
	log   *slog.Logger
}

func newRig(t *testing.T) *rig {
	t.Helper()
	moto.Reset(t)
	direct := moto.AWSConfig(t, moto.URL())
	proxy := testenv.NewProxy(t, moto.URL())
	inbox := testenv.NewInbox(t, direct)
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = inbox.TopicARN()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	via := moto.AWSConfig(t, proxy.URL())
	return &rig{
		via: via, proxy: proxy, ecr: ecr.NewFromConfig(direct), cfg: cfg,
		repos: ecrrepo.New(ecr.NewFromConfig(via)), pub: snspub.New(sns.NewFromConfig(via), cfg.TopicARN),
		emf: metrics.NewEMF(io.Discard, "agree", time.Now), log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
}

type noNextLink struct{}

func (noNextLink) Continue(context.Context, sweep.Payload) error {
	panic("one repository needs one link")
}

// run seeds the scenario's repository, runs drive, and reads what happened.
func (r *rig) run(t *testing.T, sc scenario.Scenario, checks guard.Checks, drive func()) observed {
	t.Helper()
	if err := scenario.Seed(context.Background(), r.ecr, sc.Repo, sc.Seed, r.cfg.Rules.Baseline.Text()); err != nil {
		t.Fatal(err)
	}
	r.proxy.Reset()
	drive()
	var o observed
	for _, c := range r.proxy.Calls() {
		switch c.Operation {
		case "PutImageTagMutability":
			var in struct {
				ImageTagMutability string
				Filters            []struct{ Filter string } `json:"imageTagMutabilityExclusionFilters"`
			}
			if err := json.Unmarshal(c.Body, &in); err != nil {
				t.Fatal(err)
			}
			var filters []string
			for _, f := range in.Filters {
				filters = append(filters, f.Filter)
			}
			o.mutabilityWrites = append(o.mutabilityWrites, guard.DescribeMutability(in.ImageTagMutability, filters))
		case "PutLifecyclePolicy":
			o.lifecycleWrites++
		case "Publish":
			o.kinds = append(o.kinds, publishedKinds(t, c.Body, sc.Repo)...)
		}
	}
	o.kinds = restrict(o.kinds, checks)
	got, err := scenario.Read(context.Background(), r.ecr, sc.Repo, r.cfg.Rules.Baseline)
	if err != nil {
		t.Fatal(err)
	}
	o.state = *got
	if !checks.Mutability {
		o.state.Mutability, o.state.Filters, o.mutabilityWrites = "", nil, nil
	}
	if !checks.Lifecycle {
		o.state.Lifecycle, o.lifecycleWrites = "", 0
	}
	return o
}

// publishedKinds reads the action kinds a Publish reported for repo: an
// event notice's actions, or the sweep digest's entry for it.
func publishedKinds(t *testing.T, body []byte, repo string) []guard.Kind {
	t.Helper()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]string
	if err := json.Unmarshal([]byte(form.Get("Message")), &structured); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kind    string
		Actions []notice.Action
		Changed []notice.SweepChange
	}
	if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	var kinds []guard.Kind
	for _, a := range doc.Actions {
		kinds = append(kinds, a.Kind)
	}
	for _, c := range doc.Changed {
		if c.Name == repo {
			kinds = append(kinds, c.Actions...)
		}
	}
	return kinds
}

// restrict keeps the kinds both drivers report, in the areas checked.
func restrict(kinds []guard.Kind, checks guard.Checks) []guard.Kind {
	var out []guard.Kind
	for _, k := range kinds {
		area, ok := actionKinds[k]
		if !ok || area == guard.AreaMutability && !checks.Mutability || area == guard.AreaLifecycle && !checks.Lifecycle {
			continue
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestEventPathAndSweepAgree(t *testing.T) {
	compared := 0
	for _, sc := range scenario.All {
		if sc.Seed == nil || sc.Rejected {
			continue // nothing to reconcile
		}
		t.Run(sc.Title, func(t *testing.T) {
			raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), sc.Event, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			ev, err := cloudtrail.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			checks := guard.ChecksFor(ev.Name)

			r := newRig(t)
			rec := reconcile.New(reconcile.One{Repositories: r.repos}, r.cfg.Rules, r.emf, time.Now)
			handler := remediate.New(rec, notify.New(r.pub, r.emf), r.emf, remediate.FixedScope(scenario.Scope), r.log)
			byEvent := r.run(t, sc, checks, func() {
				if err := handler.Handle(context.Background(), raw); err != nil {
					t.Fatal(err)
				}
			})

			r = newRig(t)
			rec = reconcile.New(reconcile.One{Repositories: r.repos}, r.cfg.Rules, r.emf, time.Now)
			clients := registries.New(r.via, func(context.Context) (guard.Scope, error) { return scenario.Scope, nil }, registries.Options{})
			sweeper := sweep.New(targets.New(r.via, clients, scenario.Scope, nil), rec, notify.New(r.pub, r.emf), noNextLink{}, r.emf, r.log, sweep.Options{Scope: scenario.Scope})
			bySweep := r.run(t, sc, checks, func() {
				if res, err := sweeper.Handle(context.Background(), sweep.Payload{}); err != nil || res.Status != sweep.StatusComplete {
					t.Fatalf("sweep %+v: %v", res, err)
				}
			})

			if !slices.Equal(byEvent.mutabilityWrites, bySweep.mutabilityWrites) || byEvent.lifecycleWrites != bySweep.lifecycleWrites {
				t.Errorf("writes differ: event %v + %d lifecycle, sweep %v + %d lifecycle",
					byEvent.mutabilityWrites, byEvent.lifecycleWrites, bySweep.mutabilityWrites, bySweep.lifecycleWrites)
			}
			if !slices.Equal(byEvent.kinds, bySweep.kinds) {
				t.Errorf("findings differ: event %v, sweep %v", byEvent.kinds, bySweep.kinds)
			}
			if !scenario.Equal(&byEvent.state, &bySweep.state) {
				t.Errorf("end states differ: event %v, sweep %v", byEvent.state, bySweep.state)
			}
		})
		compared++
	}
	if compared < 10 {
		t.Fatalf("only %d scenarios compared", compared)
	}
}
