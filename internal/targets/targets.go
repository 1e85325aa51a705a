// Package targets tells the sweep and the audit which registries they
// cover: the function's own account, or the organization's accounts
// (TARGET_ACCOUNTS, else every ACTIVE one, from Organizations
// ListAccounts), in each of its regions. It is apart from registries so
// that the event function, which lists no accounts, does not link the
// Organizations client: its package init is about 0.8 ms of every cold
// start.
package targets

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
)

// Registries are what a sweep lists: its targets, and through the
// Resolver each target's repositories and templates.
type Registries struct {
	*registries.Resolver
	org      *organizations.Client
	scope    guard.Scope
	accounts []string
}

// New returns the registries of scope (the function's own, from
// callerid.Scope); accounts are TARGET_ACCOUNTS, empty for every ACTIVE
// account of the organization.
func New(cfg aws.Config, clients *registries.Resolver, scope guard.Scope, accounts []string) *Registries {
	return &Registries{Resolver: clients, org: organizations.NewFromConfig(cfg), scope: scope, accounts: accounts}
}

// Targets are the registries a sweep covers, as (account, region) pairs in
// a stable order: accounts sorted, each in every region.
func (r *Registries) Targets(ctx context.Context) ([]sweep.Target, error) {
	accounts := []string{r.scope.Account}
	if r.scope.Organization {
		var err error
		if accounts, err = r.organizationAccounts(ctx); err != nil {
			return nil, err
		}
	}
	regions := r.scope.Regions
	if len(regions) == 0 {
		regions = []string{r.scope.Region}
	}
	var targets []sweep.Target
	for _, a := range accounts {
		for _, region := range regions {
			targets = append(targets, sweep.Target{Account: a, Region: region})
		}
	}
	return targets, nil
}

func (r *Registries) organizationAccounts(ctx context.Context) ([]string, error) {
	if len(r.accounts) > 0 {
		return slices.Sorted(slices.Values(r.accounts)), nil
	}
	var accounts []string
	pages := organizations.NewListAccountsPaginator(r.org, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("organizations ListAccounts: %w", awsfail.Classify(err))
		}
		for _, a := range out.Accounts {
			if active(a) {
				accounts = append(accounts, aws.ToString(a.Id))
			}
		}
	}
	if len(accounts) == 0 {
		// An organization always has its management account: an empty
		// list is a broken answer, and a sweep of nothing must not look
		// like a clean one.
		return nil, errors.New("organizations ListAccounts listed no ACTIVE account")
	}
	slices.Sort(accounts)
	return accounts, nil
}

// active reports whether a is ACTIVE. Organizations retires the account's
// Status (from September 9, 2026, its API reference says) for State, so
// State decides and Status counts only when State is absent.
func active(a orgtypes.Account) bool {
	if a.State != "" {
		return a.State == orgtypes.AccountStateActive
	}
	return a.Status == orgtypes.AccountStatusActive
}
