package securityhub_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/ecr-guard/ecr-guard/internal/findings"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/securityhub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// Organization mode: a finding about a member account's repository is
// imported in that account, through the member role, with the clients the
// functions use (registries.Resolver.SecurityHub). Security Hub accepts a
// default product finding only from the account in its AwsAccountId. In
// moto, AssumeRole on arn:aws:iam::222222222222:role/... gives credentials
// that act as 222222222222, with that account's own Security Hub state.
func TestOrganizationFindingIsImportedInTheMemberAccount(t *testing.T) {
	const member = "222222222222"
	moto.Reset(t)
	ctx := context.Background()
	proxy := testenv.NewProxy(t, moto.URL())
	memberECR := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), member, testenv.Region))
	if _, err := memberECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("member/app"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityMutable}); err != nil {
		t.Fatal(err)
	}
	central := scope
	central.Organization = true
	res := registries.New(moto.AWSConfig(t, proxy.URL()), func(context.Context) (guard.Scope, error) { return central, nil },
		registries.Options{MemberRole: "ecr-guard-member"})
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	rules := guard.Rules{Baseline: baseline, LifecycleMode: guard.LifecycleEnforce}
	m := metrics.NewEMF(io.Discard, "ecr-guard", time.Now)
	pub := securityhub.New(securityhub.Of(res.SecurityHub), rules, m, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, securityhub.Options{})
	rec := reconcile.New(res, rules, m, time.Now).WithFindings(pub)

	k := reconcile.Key{Partition: "aws", Registry: member, Region: testenv.Region, Name: "member/app"}
	ev := &guard.Event{ID: "env-member", EventID: "ev-member", Name: guard.EventPutImageTagMutability, Time: time.Now(), Region: testenv.Region,
		Account: member, BusAccount: account, Repository: k.Name, Request: guard.Request{Mutability: guard.Mutable},
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::" + member + ":user/mallory"}}
	o := rec.Reconcile(ctx, reconcile.Request{Key: k, Checks: guard.ChecksFor(ev.Name), Event: ev})
	if o.Status != reconcile.Done {
		t.Fatalf("member repository: %+v", o)
	}
	rec.Record(ctx, k, o, ev)

	f := findingByID(t, sh.NewFromConfig(moto.AccountConfig(t, moto.URL(), member, testenv.Region)),
		findings.ID(findings.ControlTagImmutability, k.ARN()))
	if aws.ToString(f.AwsAccountId) != member || aws.ToString(f.ProductArn) != "arn:aws:securityhub:us-east-1:"+member+":product/"+member+"/default" ||
		f.ProductFields[findings.FieldKind] != "REMEDIATED" || f.ProductFields[findings.FieldEventID] != "ev-member" {
		t.Errorf("member finding: account %s product %s fields %v", aws.ToString(f.AwsAccountId), aws.ToString(f.ProductArn), f.ProductFields)
	}
	out, err := sh.NewFromConfig(moto.AWSConfig(t, moto.URL())).GetFindings(ctx, &sh.GetFindingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) != 0 {
		t.Errorf("the central account holds %d findings, want none", len(out.Findings))
	}
	// One role assumed for the ECR calls, the CreatedAt read and the
	// import (Security Hub's REST operations: POST /findings is
	// GetFindings, POST /findings/import BatchImportFindings).
	read, imported := proxy.Count("securityhub.POST /findings"), proxy.Count("securityhub.POST /findings/import")
	if proxy.Count("AssumeRole") != 1 || imported != 1 || read != 1 {
		t.Errorf("calls: %d AssumeRole, %d GetFindings, %d BatchImportFindings; want 1 each", proxy.Count("AssumeRole"), read, imported)
	}
}
