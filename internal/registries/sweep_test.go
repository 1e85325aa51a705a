package registries_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

type oneLink struct{}

func (oneLink) Continue(context.Context, sweep.Payload) error {
	panic("a few repositories need one link")
}

var (
	accounts = []string{"123456789012", "222222222222", "333333333333"}
	regions  = []string{"us-east-1", "eu-west-1"}
)

// One sweep over 3 accounts x 2 regions, against moto (AssumeRole into an
// account acts as that account, with ECR state per region), the member
// role of 333333333333 refused by the proxy: every reachable non-compliant
// repository is fixed, the unreachable registries are named, one digest.
func TestSweepOfAnOrganization(t *testing.T) {
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	ctx := context.Background()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[sweep.Target]*ecr.Client{}
	for _, a := range accounts {
		for _, r := range regions {
			api := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), a, r))
			for _, name := range []string{"team/mutable", "team/second"} {
				if err := scenario.Seed(ctx, api, name, &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, baseline.Text()); err != nil {
					t.Fatal(err)
				}
			}
			if err := scenario.Seed(ctx, api, "team/fine", &scenario.State{Mutability: guard.Immutable, Lifecycle: "baseline"}, baseline.Text()); err != nil {
				t.Fatal(err)
			}
			clients[sweep.Target{Account: a, Region: r}] = api
		}
	}
	proxy.InjectFaultIf("AssumeRole", "333333333333", testenv.APIErrorFault(403, "AccessDenied"), -1)

	inbox := testenv.NewInbox(t, moto.AWSConfig(t, moto.URL()))
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = inbox.TopicARN()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	scope := guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true, Regions: regions}
	via := moto.AWSConfig(t, proxy.URL())
	resolver := registries.New(via, func(context.Context) (guard.Scope, error) { return scope, nil },
		registries.Options{MemberRole: "ecr-guard-member"})
	emf := metrics.NewEMF(io.Discard, "sweep", time.Now)
	s := sweep.New(targets.New(via, resolver, scope, accounts), reconcile.New(resolver, cfg.Rules, emf, time.Now), notify.New(snspub.New(sns.NewFromConfig(via), cfg.TopicARN), emf),
		oneLink{}, emf, slog.New(slog.NewJSONHandler(io.Discard, nil)), sweep.Options{Scope: scope})

	res, err := s.Handle(ctx, sweep.Payload{})
	if err != nil || res.Status != sweep.StatusComplete {
		t.Fatalf("sweep %+v: %v", res, err)
	}
	for target, api := range clients {
		want := guard.Immutable
		if target.Account == "333333333333" {
			want = guard.Mutable // unreachable: untouched
		}
		for _, name := range []string{"team/mutable", "team/second"} {
			out, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
			if err != nil || string(out.Repositories[0].ImageTagMutability) != want {
				t.Errorf("%v %s: %v %v, want %s", target, name, out, err, want)
			}
		}
	}
	if n := proxy.Forwarded("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole answered, want 1: 222222222222's, cached across its regions", n)
	}

	// One digest, for the whole organization.
	if n := proxy.Count("Publish"); n != 1 {
		t.Fatalf("%d notices, want one digest", n)
	}
	var doc notice.SweepDocument
	for _, c := range proxy.Calls() {
		if c.Operation == "Publish" {
			form, _ := url.ParseQuery(string(c.Body))
			var structured map[string]string
			if err := json.Unmarshal([]byte(form.Get("Message")), &structured); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	if doc.Severity != "CRITICAL" || doc.Targets != 6 || doc.Counts.Scanned != 12 || doc.Counts.Remediated != 8 || len(doc.PerTarget) != 4 {
		t.Errorf("digest counts: severity %s, %d targets, %+v, per target %+v", doc.Severity, doc.Targets, doc.Counts, doc.PerTarget)
	}
	var failed []string
	for _, f := range doc.FailedTargets {
		failed = append(failed, f.Account+" "+f.Region)
		if !strings.Contains(f.Error, "arn:aws:iam::333333333333:role/ecr-guard-member") {
			t.Errorf("failed target without the role: %+v", f)
		}
	}
	if slices.Sort(failed); !slices.Equal(failed, []string{"333333333333 eu-west-1", "333333333333 us-east-1"}) {
		t.Errorf("failed targets %v", failed)
	}
	named := map[string]bool{}
	for _, c := range doc.Changed {
		named[c.Account+" "+c.Region+" "+c.Name] = true
	}
	if len(named) != 8 || !named["222222222222 eu-west-1 team/second"] {
		t.Errorf("changed %v, want every fixed repository named with its account and region", named)
	}
}
