package awsfail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecr-guard/ecr-guard/internal/fault"
)

func responseError(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"too many requests", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, true},
		{"HTTP 500", responseError(500, &smithy.GenericAPIError{Code: "ServerException"}), true},
		{"HTTP 503 without code", responseError(503, errors.New("unavailable")), true},
		{"retries exhausted on throttling", &retry.MaxAttemptsError{Attempt: 3, Err: &smithy.GenericAPIError{Code: "ThrottlingException"}}, true},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), true},
		{"access denied", responseError(400, &smithy.GenericAPIError{Code: "AccessDeniedException"}), false},
		{"validation", responseError(400, &smithy.GenericAPIError{Code: "InvalidParameterException"}), false},
		{"plain error", errors.New("encode notice"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &smithy.GenericAPIError{Code: "AccessDeniedException"})
	if Code(err) != "AccessDeniedException" || Code(errors.New("x")) != "" {
		t.Fatal("Code does not find the API error code")
	}
}

func TestClassify(t *testing.T) {
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) must be nil")
	}
	throttled := fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: "ThrottlingException"})
	denied := responseError(400, &smithy.GenericAPIError{Code: "AccessDeniedException"})
	if err := Classify(throttled); !fault.Retryable(err) || fault.Code(err) != "ThrottlingException" || !errors.Is(err, throttled) {
		t.Fatalf("throttling classified as %v %q", fault.Retryable(err), fault.Code(err))
	}
	if err := Classify(denied); fault.Retryable(err) || fault.Code(err) != "AccessDeniedException" {
		t.Fatalf("access denied classified as %v %q", fault.Retryable(err), fault.Code(err))
	}
}
