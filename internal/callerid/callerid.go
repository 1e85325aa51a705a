// Package callerid tells a function which account and region it acts in:
// the account from STS GetCallerIdentity, asked once at cold start, the
// region from the SDK configuration. It is never taken from an event or from
// a configured ARN, which could name another account.
package callerid

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Scope returns the account the credentials of api belong to and region.
func Scope(ctx context.Context, api *sts.Client, region string) (guard.Scope, error) {
	if region == "" {
		return guard.Scope{}, errors.New("the AWS region is not configured (AWS_REGION)")
	}
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return guard.Scope{}, fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	return guard.Scope{Account: aws.ToString(out.Account), Region: region}, nil
}
