// Package callerid tells a function which account and region it acts in:
// the account from STS GetCallerIdentity, the region from the SDK
// configuration. It is never taken from an event or from a configured ARN,
// which could name another account.
package callerid

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Targets is what the configuration adds to the scope STS tells: whether
// the function guards an organization, and the regions it acts in.
type Targets struct {
	Organization bool
	Regions      []string
}

// Scope asks STS now: for a function whose start-up time does not matter.
func Scope(ctx context.Context, api *sts.Client, region string, targets Targets) (guard.Scope, error) {
	if region == "" {
		return guard.Scope{}, errors.New("the AWS region is not configured (AWS_REGION)")
	}
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return guard.Scope{}, fmt.Errorf("sts GetCallerIdentity: %w", awsfail.Classify(err))
	}
	caller, err := arn.Parse(aws.ToString(out.Arn))
	if err != nil {
		return guard.Scope{}, fmt.Errorf("sts GetCallerIdentity: the caller ARN: %w", err)
	}
	return guard.Scope{Partition: caller.Partition, Account: aws.ToString(out.Account), Region: region,
		Organization: targets.Organization, Regions: targets.Regions}, nil
}

// Resolver asks STS once per container, in the background from the cold
// start on, so the start-up does not wait for it: the first event that needs
// the scope does, if it must. A failed call is made again on the next use.
type Resolver struct {
	api     *sts.Client
	region  string
	targets Targets

	mu    sync.Mutex
	ready chan struct{} // closed when the call started at cold start ended
	scope guard.Scope
	err   error
}

// Start returns a Resolver whose call is already under way.
func Start(api *sts.Client, region string, targets Targets) *Resolver {
	r := &Resolver{api: api, region: region, targets: targets, ready: make(chan struct{})}
	go func() {
		defer close(r.ready)
		r.scope, r.err = Scope(context.Background(), api, region, targets)
	}()
	return r
}

// Scope returns the function's scope, waiting for the call under way (or
// making it again after a failure) within ctx.
func (r *Resolver) Scope(ctx context.Context) (guard.Scope, error) {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return guard.Scope{}, fmt.Errorf("waiting for sts GetCallerIdentity: %w", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		r.scope, r.err = Scope(ctx, r.api, r.region, r.targets)
	}
	return r.scope, r.err
}
