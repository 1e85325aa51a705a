package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestOrganizationUnderRIE runs the real bootstrap under the RIE in the
// central account 123456789012 with MEMBER_ROLE_NAME set, against moto with
// member accounts 222222222222 and 333333333333 in us-east-1 and eu-west-1
// (moto's AssumeRole into an account acts as that account, whose ECR state
// is its own per region). Every call goes through the recording proxy,
// which refuses AssumeRole into 333333333333 when told to.
func TestOrganizationUnderRIE(t *testing.T) {
	moto.Reset(t)
	bootstrap := testenv.BuildBootstrap(t, "./functions/remediate")
	direct := moto.AWSConfig(t, moto.URL())
	inbox := testenv.NewInbox(t, direct)
	proxy := testenv.NewProxy(t, moto.URL())
	env := append(moto.Env(proxy.URL()), "SNS_TOPIC_ARN="+inbox.TopicARN(),
		"MEMBER_ROLE_NAME=ecr-guard-member", "TARGET_REGIONS=us-east-1,eu-west-1")
	for k, v := range scenario.Env() {
		env = append(env, k+"="+v)
	}
	rie := testenv.StartRIE(t, bootstrap, env)
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}

	// The same name, MUTABLE, in every account and region.
	const repo = "team-b/api"
	ctx := context.Background()
	registries := map[[2]string]*ecr.Client{}
	for _, account := range []string{"123456789012", "222222222222", "333333333333"} {
		for _, region := range []string{"us-east-1", "eu-west-1", "ap-south-1"} {
			api := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), account, region))
			if err := scenario.Seed(ctx, api, repo, &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, baseline.Text()); err != nil {
				t.Fatal(err)
			}
			registries[[2]string{account, region}] = api
		}
	}
	mutability := func(account, region string) string {
		out, err := registries[[2]string{account, region}].DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Repositories[0].ImageTagMutability)
	}
	// event is the MUTABLE sample as if recorded in account and region.
	event := func(name, account, region string, edit func(detail map[string]any)) []byte {
		raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), name, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		d := ev["detail"].(map[string]any)
		ev["account"], ev["region"], d["recipientAccountId"], d["awsRegion"] = account, region, account, region
		if req, ok := d["requestParameters"].(map[string]any); ok && req["registryId"] != nil {
			req["registryId"] = account
		}
		if edit != nil {
			edit(d)
		}
		out, _ := json.Marshal(ev)
		return out
	}
	invoke := func(raw []byte) string {
		t.Helper()
		status, body := rie.Invoke(t, raw)
		if status != 200 {
			t.Fatalf("status %d: %s\n%s", status, body, rie.Output())
		}
		return string(body)
	}
	notices := func(n int) []notice.EventDocument {
		t.Helper()
		var docs []notice.EventDocument
		for _, m := range inbox.Receive(t, n, 10*time.Second) {
			var doc notice.EventDocument
			if err := json.Unmarshal([]byte(m.Message), &doc); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, doc)
		}
		return docs
	}

	t.Run("a member's event in eu-west-1 is fixed there, and only there", func(t *testing.T) {
		proxy.Reset()
		if body := invoke(event("put-image-tag-mutability-mutable.json", "222222222222", "eu-west-1", nil)); strings.Contains(body, "errorType") {
			t.Fatalf("handler error %s\n%s", body, rie.Output())
		}
		for at, want := range map[[2]string]string{
			{"222222222222", "eu-west-1"}: guard.Immutable,
			{"222222222222", "us-east-1"}: guard.Mutable, {"123456789012", "eu-west-1"}: guard.Mutable,
			{"123456789012", "us-east-1"}: guard.Mutable, {"333333333333", "eu-west-1"}: guard.Mutable,
		} {
			if got := mutability(at[0], at[1]); got != want {
				t.Errorf("%s %s is %s, want %s", at[0], at[1], got, want)
			}
		}
		doc := notices(1)[0]
		if doc.Kind != guard.KindRemediated || doc.Repository.RegistryID != "222222222222" || doc.Repository.Region != "eu-west-1" ||
			!strings.Contains(doc.ConsoleURL, "eu-west-1.console.aws.amazon.com/ecr/repositories/private/222222222222/") {
			t.Fatalf("notice %+v", doc)
		}
		if proxy.Count("AssumeRole") != 1 {
			t.Fatalf("%d AssumeRole calls, want 1", proxy.Count("AssumeRole"))
		}
	})

	t.Run("a region outside TARGET_REGIONS is out of scope", func(t *testing.T) {
		proxy.Reset()
		invoke(event("put-image-tag-mutability-mutable.json", "222222222222", "ap-south-1", nil))
		if calls := proxy.Calls(); len(calls) != 0 || mutability("222222222222", "ap-south-1") != guard.Mutable {
			t.Fatalf("calls %v", calls)
		}
	})

	t.Run("the member role refused: a FAILED notice naming account, role and repository", func(t *testing.T) {
		proxy.InjectFaultIf("AssumeRole", "333333333333", testenv.APIErrorFault(403, "AccessDenied"), -1)
		defer proxy.ClearFaults()
		body := invoke(event("put-image-tag-mutability-mutable.json", "333333333333", "us-east-1", nil))
		if !strings.Contains(body, "errorType") {
			t.Fatalf("a refused member role must fail the invocation (kept for Lambda's retries): %s", body)
		}
		doc := notices(1)[0]
		if doc.Kind != guard.KindFailed || doc.Severity != "CRITICAL" || doc.Repository.Name != repo || doc.Repository.RegistryID != "333333333333" ||
			len(doc.Actions) != 1 || !strings.Contains(doc.Actions[0].Summary, "arn:aws:iam::333333333333:role/ecr-guard-member") {
			t.Fatalf("notice %+v", doc)
		}
		if mutability("333333333333", "us-east-1") != guard.Mutable {
			t.Fatal("changed without the member role")
		}
	})

	t.Run("the member role's own calls are own calls", func(t *testing.T) {
		proxy.Reset()
		own := func(d map[string]any) {
			req := d["requestParameters"].(map[string]any)
			req["imageTagMutability"], req["repositoryName"] = guard.Immutable, repo
			issuer := d["userIdentity"].(map[string]any)["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)
			issuer["arn"] = "arn:aws:iam::222222222222:role/ecr-guard-member"
		}
		// The echo of the revert above: compliant, so no write and no notice.
		invoke(event("put-image-tag-mutability-by-remediator-role.json", "222222222222", "eu-west-1", own))
		if n := proxy.Count("PutImageTagMutability") + proxy.Count("Publish"); n != 0 {
			t.Fatalf("the echo of an own write led to %d writes or notices", n)
		}
		if !rie.WaitOutput("own call: compliant", 10*time.Second) {
			t.Fatalf("not logged as an own call:\n%s", rie.Output())
		}
	})
}
