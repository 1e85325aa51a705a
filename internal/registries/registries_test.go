package registries

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

func ownScope(context.Context) (guard.Scope, error) {
	return guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true}, nil
}

// Against moto, where AssumeRole into 222222222222 acts as that account,
// with its own ECR state per region.
func TestForActsInTheKeysAccountAndRegion(t *testing.T) {
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	ctx := context.Background()
	for _, at := range []struct{ account, region, repo string }{
		{"123456789012", "us-east-1", "own/app"},
		{"222222222222", "eu-west-1", "member/app"},
	} {
		api := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), at.account, at.region))
		if _, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(at.repo)}); err != nil {
			t.Fatal(err)
		}
	}
	r := New(moto.AWSConfig(t, proxy.URL()), ownScope, Options{MemberRole: "ecr-guard-member"})

	own, err := r.For(ctx, "123456789012", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.Describe(ctx, "own/app", ""); err != nil || proxy.Count("AssumeRole") != 0 {
		t.Fatalf("own account: %v, %d AssumeRole", err, proxy.Count("AssumeRole"))
	}

	member, err := r.For(ctx, "222222222222", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := member.Describe(ctx, "member/app", "")
	if err != nil || got.RegistryID != "222222222222" {
		t.Fatalf("member repository: %+v, %v", got, err)
	}
	if _, err := member.Describe(ctx, "own/app", ""); err == nil {
		t.Fatal("the member's client sees the central account's repository")
	}
	// Credentials are cached per account; clients per account and region.
	again, _ := r.For(ctx, "222222222222", "eu-west-1")
	other, _ := r.For(ctx, "222222222222", "us-east-1")
	if again != member || other == member || proxy.Count("AssumeRole") != 1 {
		t.Fatalf("%d AssumeRole calls, want 1; same client again %v, another for another region %v", proxy.Count("AssumeRole"), again == member, other != member)
	}
	if _, err := other.Describe(ctx, "member/app", ""); err == nil {
		t.Fatal("the member's us-east-1 client sees its eu-west-1 repository")
	}
	var session string
	for _, c := range proxy.Calls() {
		if c.Operation == "AssumeRole" {
			session = string(c.Body)
		}
	}
	if !strings.Contains(session, "RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fecr-guard-member") || !strings.Contains(session, "RoleSessionName=ecr-guard") {
		t.Fatalf("AssumeRole request %s", session)
	}
}

func TestARefusedOrThrottledAssumeRole(t *testing.T) {
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	proxy.InjectFaultIf("AssumeRole", "333333333333", testenv.APIErrorFault(403, "AccessDenied"), -1)
	proxy.InjectFaultIf("AssumeRole", "444444444444", testenv.APIErrorFault(400, "Throttling"), -1)
	r := New(moto.AWSConfig(t, proxy.URL()), ownScope, Options{MemberRole: "ecr-guard-member"})
	ctx := context.Background()

	_, err := r.For(ctx, "333333333333", "us-east-1")
	if err == nil || fault.Retryable(err) || fault.Code(err) != "AccessDenied" ||
		!strings.Contains(err.Error(), "arn:aws:iam::333333333333:role/ecr-guard-member") {
		t.Fatalf("refused: %v (retryable %v, code %q)", err, fault.Retryable(err), fault.Code(err))
	}
	if _, err := r.For(ctx, "444444444444", "us-east-1"); err == nil || !fault.Retryable(err) {
		t.Fatalf("throttled: %v, want a retryable error", err)
	}
	if _, err := r.For(ctx, "222222222222", "us-east-1"); err != nil {
		t.Fatalf("another account is not affected: %v", err)
	}
}
