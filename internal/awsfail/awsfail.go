// Package awsfail classifies AWS call failures in one place: retryable ones
// (throttling, 5xx, timeouts, broken connections) are left to the SDK's
// retryer and then to Lambda's async retries; everything else is permanent.
// The AWS adapters wrap their errors with Classify, so the flows read the
// class from internal/fault and need no SDK.
package awsfail

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecr-guard/ecr-guard/internal/fault"
)

// Classify wraps err (nil stays nil) with its class.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	return &fault.Error{Err: err, Code: Code(err), Retryable: Retryable(err)}
}

var (
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// Retryable reports whether err may succeed if the call is made again later.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	if retryables.IsErrorRetryable(err) == aws.TrueTernary || throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var resp *smithyhttp.ResponseError
	return errors.As(err, &resp) && resp.HTTPStatusCode() >= 500
}

// Code is the AWS error code of err ("" when it has none), for logs and notices.
func Code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
