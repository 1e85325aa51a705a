package targets_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

// The sweep and the audit use Registries as their lister.
var _ sweep.Lister = (*targets.Registries)(nil)

var regions = []string{"us-east-1", "eu-west-1"}

func newRegistries(t *testing.T, endpoint string, scope guard.Scope, accounts []string) *targets.Registries {
	cfg := moto.AWSConfig(t, endpoint)
	clients := registries.New(cfg, func(context.Context) (guard.Scope, error) { return scope, nil }, registries.Options{MemberRole: "ecr-guard-member"})
	return targets.New(cfg, clients, scope, accounts)
}

// accountsIn lists the accounts of targets that are in region.
func accountsIn(ts []sweep.Target, region string) []string {
	var accounts []string
	for _, tg := range ts {
		if tg.Region == region {
			accounts = append(accounts, tg.Account)
		}
	}
	return accounts
}

// Without TARGET_ACCOUNTS the targets are the organization's ACTIVE
// accounts, from moto's Organizations (a closed account is SUSPENDED), each
// in every region.
func TestTargetsAreTheOrganizationsActiveAccounts(t *testing.T) {
	moto.Reset(t)
	org := organizations.NewFromConfig(moto.AWSConfig(t, moto.URL()))
	ctx := context.Background()
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"123456789012"} // the management account
	for _, name := range []string{"dev", "prod", "closed"} {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := out.CreateAccountStatus.AccountId
		if name == "closed" {
			if _, err := org.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: id}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want = append(want, aws.ToString(id))
	}
	slices.Sort(want)
	scope := guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true, Regions: regions}
	got, err := newRegistries(t, moto.URL(), scope, nil).Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range regions {
		if accounts := accountsIn(got, region); !slices.Equal(accounts, want) {
			t.Errorf("accounts in %s: %v, want %v", region, accounts, want)
		}
	}
	if len(got) != len(want)*len(regions) || got[0] != (sweep.Target{Account: want[0], Region: regions[0]}) {
		t.Errorf("targets %v: want each account in every region, accounts first", got)
	}
}

// TARGET_ACCOUNTS replace the organization's list (no ListAccounts call:
// moto has no organization here, so one would fail); one account's
// function covers its own registry in its own region.
func TestTargetAccountsAndTheFunctionsOwnAccount(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	org := guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true, Regions: regions}
	got, err := newRegistries(t, moto.URL(), org, []string{"333333333333", "222222222222"}).Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []sweep.Target
	for _, a := range []string{"222222222222", "333333333333"} {
		for _, r := range regions {
			want = append(want, sweep.Target{Account: a, Region: r})
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("TARGET_ACCOUNTS: %v, want %v", got, want)
	}

	own := guard.Scope{Partition: "aws", Account: "123456789012", Region: "eu-west-1"}
	if got, err := newRegistries(t, moto.URL(), own, nil).Targets(ctx); err != nil || !slices.Equal(got, []sweep.Target{{Account: "123456789012", Region: "eu-west-1"}}) {
		t.Errorf("one account: %v, %v", got, err)
	}
}

// A ListAccounts that Organizations refuses is a classified error naming
// the call (AccessDenied permanent, throttling retryable), and an empty
// list (moto without an organization) is an error too: never a sweep of
// nothing that reports itself complete.
func TestARefusedOrEmptyAccountListIsAnError(t *testing.T) {
	moto.Reset(t)
	scope := guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1", Organization: true}
	proxy := testenv.NewProxy(t, moto.URL())
	lister := newRegistries(t, proxy.URL(), scope, nil)
	for _, tc := range []struct {
		code      string
		retryable bool
	}{{"AccessDeniedException", false}, {"TooManyRequestsException", true}} {
		proxy.InjectFault("organizations.ListAccounts", testenv.APIErrorFault(400, tc.code), -1)
		got, err := lister.Targets(context.Background())
		proxy.ClearFaults()
		if err == nil || !strings.Contains(err.Error(), "organizations ListAccounts") || fault.Code(err) != tc.code || fault.Retryable(err) != tc.retryable {
			t.Errorf("%s: targets %v, error %v (code %q, retryable %v); want an error naming the call, retryable %v",
				tc.code, got, err, fault.Code(err), fault.Retryable(err), tc.retryable)
		}
	}
	if got, err := lister.Targets(context.Background()); err == nil || !strings.Contains(err.Error(), "no ACTIVE account") {
		t.Errorf("no organization: targets %v, error %v; want an error", got, err)
	}
}

// Organizations retires the account's Status for State. moto 5.2.1 answers
// both, so this test serves ListAccounts itself, in its JSON 1.1 wire
// format, with the shapes moto does not produce: State alone (Status
// retired), State and Status disagreeing (State decides), and Status alone
// (before State existed).
func TestActiveIsTheAccountsState(t *testing.T) {
	accounts := `[
		{"Id": "111111111111", "State": "ACTIVE"},
		{"Id": "222222222222", "State": "SUSPENDED", "Status": "ACTIVE"},
		{"Id": "333333333333", "Status": "ACTIVE"},
		{"Id": "444444444444", "State": "PENDING_CLOSURE"},
		{"Id": "555555555555", "State": "CLOSED", "Status": "SUSPENDED"},
		{"Id": "666666666666", "Status": "SUSPENDED"}
	]`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if target := r.Header.Get("X-Amz-Target"); target != "AWSOrganizationsV20161128.ListAccounts" {
			http.Error(w, "unexpected "+target, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"Accounts": %s}`, accounts)
	}))
	defer srv.Close()
	scope := guard.Scope{Partition: "aws", Account: "111111111111", Region: "us-east-1", Organization: true}
	got, err := newRegistries(t, srv.URL, scope, nil).Targets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"111111111111", "333333333333"}; !slices.Equal(accountsIn(got, "us-east-1"), want) {
		t.Errorf("targets %v, want the accounts %v", got, want)
	}
}
