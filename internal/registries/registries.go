// Package registries resolves the ECR client for an account and region, in
// one place for both functions: the function's own credentials in its own
// account, the member role's (MEMBER_ROLE_NAME, in an organization)
// anywhere else, assumed with STS AssumeRole (session name ecr-guard).
// Credentials are cached per account until shortly before they expire;
// clients per account and region live for the warm container. A cold start
// assumes nothing. For the sweep it lists a registry's repositories and
// templates; which registries, package targets tells.
package registries

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
)

// SessionName names ecr-guard's sessions in member accounts' CloudTrail.
const SessionName = "ecr-guard"

// expiryWindow renews credentials this long before they expire, so no call
// starts with credentials about to lapse.
const expiryWindow = 5 * time.Minute

// Options say where a Resolver may act beyond the function's own account.
type Options struct {
	// MemberRole is the role assumed in other accounts (MEMBER_ROLE_NAME);
	// empty means the function acts in its own account only.
	MemberRole string
	// ECR configures every ECR client made, e.g. a rate limit per account
	// and region for the sweep (ECR's quotas are per account and region).
	ECR func(account, region string) []func(*ecr.Options)
}

// Resolver hands out clients per account and region.
type Resolver struct {
	cfg   aws.Config
	sts   *sts.Client
	scope func(context.Context) (guard.Scope, error)
	opt   Options

	mu      sync.Mutex
	creds   map[string]*aws.CredentialsCache  // account -> member role credentials
	clients map[[2]string]*ecrrepo.Client     // account, region -> client
	hubs    map[[2]string]*securityhub.Client // account, region -> Security Hub client
}

// New returns a Resolver for the function whose scope scope tells (e.g.
// callerid.Resolver.Scope).
func New(cfg aws.Config, scope func(context.Context) (guard.Scope, error), opt Options) *Resolver {
	return &Resolver{
		cfg: cfg, sts: sts.NewFromConfig(cfg), scope: scope, opt: opt,
		creds: map[string]*aws.CredentialsCache{}, clients: map[[2]string]*ecrrepo.Client{}, hubs: map[[2]string]*securityhub.Client{},
	}
}

// For returns the client for account's registry in region. In another
// account it first makes sure the member role can be assumed, so a refusal
// is its own classified error naming the role and the account (AccessDenied
// is permanent: the member stack is missing or broken; throttling is
// retryable), not a failure of whatever ECR call came first.
func (r *Resolver) For(ctx context.Context, account, region string) (reconcile.Repositories, error) {
	return r.client(ctx, account, region)
}

// credentials are the function's own in its account, the member role's
// (assumed once, cached) in any other.
func (r *Resolver) credentials(ctx context.Context, account string) (aws.CredentialsProvider, error) {
	own, err := r.scope(ctx)
	if err != nil {
		return nil, err
	}
	if account == own.Account {
		return r.cfg.Credentials, nil
	}
	if r.opt.MemberRole == "" {
		return nil, fmt.Errorf("account %s is not this function's (%s) and MEMBER_ROLE_NAME is not set", account, own.Account)
	}
	roleARN := "arn:" + own.Partition + ":iam::" + account + ":role/" + r.opt.MemberRole
	cache := r.memberCredentials(account, roleARN)
	// Not under the lock: the cache is safe for concurrent use and makes
	// one AssumeRole call for concurrent callers.
	if _, err := cache.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("assume role %s (account %s): %w", roleARN, account, awsfail.Classify(err))
	}
	return cache, nil
}

// SecurityHub returns the Security Hub client of account in region, with
// the same credentials as its registry's client: findings for the default
// product are imported in the repository's own account.
func (r *Resolver) SecurityHub(ctx context.Context, account, region string) (*securityhub.Client, error) {
	creds, err := r.credentials(ctx, account)
	if err != nil {
		return nil, err
	}
	return cached(r, r.hubs, [2]string{account, region}, func() *securityhub.Client {
		return securityhub.NewFromConfig(r.cfg, func(o *securityhub.Options) { o.Region, o.Credentials = region, creds })
	}), nil
}

func (r *Resolver) client(ctx context.Context, account, region string) (*ecrrepo.Client, error) {
	creds, err := r.credentials(ctx, account)
	if err != nil {
		return nil, err
	}
	return cached(r, r.clients, [2]string{account, region}, func() *ecrrepo.Client {
		opts := []func(*ecr.Options){func(o *ecr.Options) { o.Region, o.Credentials = region, creds }}
		if r.opt.ECR != nil {
			opts = append(opts, r.opt.ECR(account, region)...)
		}
		return ecrrepo.New(ecr.NewFromConfig(r.cfg, opts...))
	}), nil
}

// cached returns clients[key], made by build the first time, so a client
// per account and region lives for the warm container.
func cached[C any](r *Resolver, clients map[[2]string]C, key [2]string, build func() C) C {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := clients[key]
	if !ok {
		c = build()
		clients[key] = c
	}
	return c
}

func (r *Resolver) memberCredentials(account, roleARN string) *aws.CredentialsCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	cache, ok := r.creds[account]
	if !ok {
		cache = aws.NewCredentialsCache(
			stscreds.NewAssumeRoleProvider(r.sts, roleARN, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = SessionName }),
			func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
		r.creds[account] = cache
	}
	return cache
}

// ListPage reads one page of t's repositories (see ecrrepo.Client.ListPage).
func (r *Resolver) ListPage(ctx context.Context, t sweep.Target, token string) ([]guard.Repository, string, error) {
	c, err := r.client(ctx, t.Account, t.Region)
	if err != nil {
		return nil, "", err
	}
	return c.ListPage(ctx, token)
}

// ListTemplates lists t's repository creation templates.
func (r *Resolver) ListTemplates(ctx context.Context, t sweep.Target) ([]guard.Template, error) {
	c, err := r.client(ctx, t.Account, t.Region)
	if err != nil {
		return nil, err
	}
	return c.Templates(ctx)
}
