package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestSweepBootstrapUnderRIE runs the built sweep bootstrap under the Lambda
// Runtime Interface Emulator against moto: a dry run, then a real sweep.
func TestSweepBootstrapUnderRIE(t *testing.T) {
	moto := testenv.StartMoto(t)
	cfg := moto.AWSConfig(t, moto.URL())
	api := ecr.NewFromConfig(cfg)
	ctx := context.Background()
	inbox := testenv.NewInbox(t, cfg)
	proxy := testenv.NewProxy(t, moto.URL()) // counts the function's Publish calls

	create := func(name string, m ecrtypes.ImageTagMutability, lifecycle bool) {
		t.Helper()
		if _, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: m}); err != nil {
			t.Fatal(err)
		}
		if lifecycle {
			if _, err := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(name), LifecyclePolicyText: aws.String(guard.DefaultLifecyclePolicy)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create("rie/compliant", ecrtypes.ImageTagMutabilityImmutable, true)
	create("rie/mutable", ecrtypes.ImageTagMutabilityMutable, true)
	create("rie/no-lifecycle", ecrtypes.ImageTagMutabilityImmutable, false)

	bootstrap := testenv.BuildBootstrap(t, "./functions/sweep")
	env := append(moto.Env(proxy.URL()),
		"SNS_TOPIC_ARN="+inbox.TopicARN(),
		"SWEEP_CONCURRENCY=2",
		"SWEEP_MAX_TPS=10",
		// No other link is expected; the continuation client points nowhere.
		"AWS_LAMBDA_FUNCTION_NAME=ecr-guard-sweep-test",
	)
	rie := testenv.StartRIE(t, bootstrap, env)

	invoke := func(payload string) sweep.Result {
		t.Helper()
		proxy.Reset()
		status, body := rie.Invoke(t, []byte(payload))
		var res sweep.Result
		if err := json.Unmarshal(body, &res); status != 200 || err != nil || res.Status != sweep.StatusComplete {
			t.Fatalf("invoke %s: status %d body %s (%v)\n--- RIE output ---\n%s", payload, status, body, err, rie.Output())
		}
		return res
	}
	report := func() notice.SweepDocument {
		t.Helper()
		if n := proxy.Count("sns.Publish"); n != 1 {
			t.Fatalf("%d Publish calls, want the one SWEEP_REPORT\n--- RIE output ---\n%s", n, rie.Output())
		}
		var docs []notice.SweepDocument
		for _, n := range inbox.Receive(t, 1, 10*time.Second) {
			if n.Attributes["kind"] != notice.KindSweepReport {
				t.Errorf("unexpected notice %q", n.Subject)
				continue
			}
			var doc notice.SweepDocument
			if err := json.Unmarshal([]byte(n.Message), &doc); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, doc)
		}
		if len(docs) != 1 {
			t.Fatalf("%d SWEEP_REPORT notices, want 1\n--- RIE output ---\n%s", len(docs), rie.Output())
		}
		return docs[0]
	}
	mutability := func(name string) string {
		t.Helper()
		out, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Repositories[0].ImageTagMutability)
	}

	// The scheduled input may ask for a dry run: nothing is written.
	if res := invoke(`{"dryRun": true}`); !res.DryRun || res.Scanned != 3 {
		t.Errorf("dry run result %+v", res)
	}
	doc := report()
	if want := (notice.SweepCounts{Scanned: 3, Compliant: 1, Remediated: 1, LifecycleRestored: 1}); !doc.DryRun || doc.Counts != want {
		t.Errorf("dry-run report %+v, want counts %+v", doc, want)
	}
	if m := mutability("rie/mutable"); m != "MUTABLE" {
		t.Errorf("the dry run changed rie/mutable to %s", m)
	}
	// The registry has no repository creation template at all: the
	// digest says its ROOT template is missing (ROOT_TEMPLATE=report),
	// read through the template API the test proxy serves beside moto.
	if r := doc.RootTemplates; len(r) != 1 || r[0].Status != notice.RootTemplateMissing || r[0].Account != "123456789012" || r[0].Region != "us-east-1" {
		t.Errorf("root templates %+v, want the one registry's ROOT template missing", r)
	}

	// The schedule's own input: a real sweep.
	invoke(`{"dryRun": false}`)
	doc = report()
	if want := (notice.SweepCounts{Scanned: 3, Compliant: 1, Remediated: 1, LifecycleRestored: 1}); doc.DryRun || doc.Counts != want {
		t.Errorf("report %+v, want counts %+v", doc, want)
	}
	if m := mutability("rie/mutable"); m != "IMMUTABLE" {
		t.Errorf("rie/mutable is %s after the sweep", m)
	}
	if _, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("rie/no-lifecycle")}); err != nil {
		t.Errorf("rie/no-lifecycle has no lifecycle policy after the sweep: %v", err)
	}
	for _, want := range []string{`"msg":"sweep function ready"`, `"msg":"sweep link started"`, `"msg":"sweep finished"`, `"max_tps":10`} {
		if !rie.WaitOutput(want, 10*time.Second) {
			t.Errorf("function logs lack %s\n%s", want, rie.Output())
		}
	}
}
