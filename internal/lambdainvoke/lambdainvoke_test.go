package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// request is what the fake Lambda endpoint saw of one request.
type request struct {
	method, path, invocationType string
	body                         []byte
}

// fakeLambda answers Invoke like Lambda's REST-JSON API: every request gets
// status and, when errorType is set, Lambda's error shape. It records the
// requests.
func fakeLambda(t *testing.T, status int, errorType string) (*httptest.Server, func() []request) {
	t.Helper()
	var mu sync.Mutex
	var seen []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, request{method: r.Method, path: r.URL.EscapedPath(), invocationType: r.Header.Get("X-Amz-Invocation-Type"), body: body})
		mu.Unlock()
		if errorType != "" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", errorType)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), seen...)
	}
}

func client(srv *httptest.Server, opts ...func(*lambda.Options)) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	}, opts...)
}

func oneAttempt(o *lambda.Options) { o.RetryMaxAttempts = 1 }

// payload stands for the sweep's continuation payload.
type payload struct {
	DryRun       bool `json:"dryRun"`
	Continuation struct {
		ChainID string `json:"chainId"`
		Link    int    `json:"link"`
	} `json:"continuation"`
}

func TestContinueInvokesAsynchronously(t *testing.T) {
	srv, requests := fakeLambda(t, http.StatusAccepted, "")
	inv := New[payload](client(srv), "ecr-guard-SweepFunction-1A2B3C")
	var p payload
	p.DryRun = true
	p.Continuation.ChainID, p.Continuation.Link = "9f2c4e1a7b3d5c60", 3
	if err := inv.Continue(context.Background(), p); err != nil {
		t.Fatalf("Continue: %v", err)
	}
	got := requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1: %+v", len(got), got)
	}
	r := got[0]
	if r.method != http.MethodPost || r.path != "/2015-03-31/functions/ecr-guard-SweepFunction-1A2B3C/invocations" {
		t.Errorf("request = %s %s, want POST /2015-03-31/functions/ecr-guard-SweepFunction-1A2B3C/invocations", r.method, r.path)
	}
	if r.invocationType != string(types.InvocationTypeEvent) {
		t.Errorf("X-Amz-Invocation-Type = %q, want Event", r.invocationType)
	}
	var sent payload
	if err := json.Unmarshal(r.body, &sent); err != nil {
		t.Fatalf("payload is not JSON: %v: %s", err, r.body)
	}
	if sent != p {
		t.Errorf("payload = %+v (%s), want %+v", sent, r.body, p)
	}
	if want := `{"dryRun":true,"continuation":{"chainId":"9f2c4e1a7b3d5c60","link":3}}`; string(r.body) != want {
		t.Errorf("body = %s, want %s", r.body, want)
	}
}

func TestContinueFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		errorType string
		code      string // the API error code the wrapped error keeps, when any
	}{
		{"throttled", http.StatusTooManyRequests, "TooManyRequestsException", "TooManyRequestsException"},
		{"access denied", http.StatusForbidden, "AccessDeniedException", "AccessDeniedException"},
		{"server error", http.StatusInternalServerError, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, requests := fakeLambda(t, tc.status, tc.errorType)
			inv := New[payload](client(srv, oneAttempt), "ecr-guard-sweep")
			err := inv.Continue(context.Background(), payload{})
			if err == nil {
				t.Fatal("Continue succeeded against a failing endpoint")
			}
			if !strings.Contains(err.Error(), "invoke ecr-guard-sweep asynchronously") {
				t.Errorf("err = %v, want it to name the function", err)
			}
			if tc.code != "" {
				var api interface{ ErrorCode() string }
				if !errors.As(err, &api) || api.ErrorCode() != tc.code {
					t.Errorf("err = %v, want the API error %s kept", err, tc.code)
				}
			}
			if n := len(requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestContinueRetriesThrottling(t *testing.T) {
	// The SDK's retryer is left in charge: a throttled invocation is retried
	// up to its attempts (here 2), then the error is returned.
	srv, requests := fakeLambda(t, http.StatusTooManyRequests, "TooManyRequestsException")
	inv := New[payload](client(srv, func(o *lambda.Options) { o.RetryMaxAttempts = 2 }), "ecr-guard-sweep")
	var throttled *types.TooManyRequestsException
	if err := inv.Continue(context.Background(), payload{}); !errors.As(err, &throttled) {
		t.Fatalf("err = %v, want a TooManyRequestsException", err)
	}
	if n := len(requests()); n != 2 {
		t.Errorf("%d requests, want 2 (one retry)", n)
	}
}

func TestContinueRefusesWhatItCannotSend(t *testing.T) {
	srv, requests := fakeLambda(t, http.StatusAccepted, "")
	if err := New[any](client(srv), "ecr-guard-sweep").Continue(context.Background(), make(chan int)); err == nil || !strings.Contains(err.Error(), "ecr-guard-sweep") {
		t.Errorf("unencodable payload: err = %v, want an error naming the function", err)
	}
	if err := New[payload](client(srv), "").Continue(context.Background(), payload{}); err == nil {
		t.Error("no function name: Continue succeeded")
	}
	if n := len(requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
