package ecrrepo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"golang.org/x/time/rate"
)

// fakeECR answers DescribeRepositories like ECR's JSON protocol; the first
// failFirst requests get a 500. It records the request bodies.
func fakeECR(t *testing.T, failFirst int32, respond func(req map[string]any) any) (*httptest.Server, *[]map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var bodies []map[string]any
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var req map[string]any
		_ = json.Unmarshal(raw, &req)
		mu.Lock()
		bodies = append(bodies, req)
		mu.Unlock()
		if n.Add(1) <= failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(respond(req))
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

func client(srv *httptest.Server, opts ...func(*ecr.Options)) *Client {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	return New(ecr.NewFromConfig(cfg, opts...))
}

func TestListPage(t *testing.T) {
	srv, bodies := fakeECR(t, 0, func(req map[string]any) any {
		if req["nextToken"] == nil {
			return map[string]any{"nextToken": "page-2", "repositories": []any{
				map[string]any{"repositoryName": "a", "repositoryArn": "arn:aws:ecr:us-east-1:123456789012:repository/a", "registryId": "123456789012", "imageTagMutability": "MUTABLE"},
				map[string]any{"repositoryName": "b", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
					"imageTagMutabilityExclusionFilters": []any{map[string]any{"filterType": "WILDCARD", "filter": "latest"}}},
			}}
		}
		return map[string]any{"repositories": []any{map[string]any{"repositoryName": "c", "imageTagMutability": "IMMUTABLE"}}}
	})
	c := client(srv)
	page, next, err := c.ListPage(context.Background(), "")
	if err != nil || next != "page-2" || len(page) != 2 {
		t.Fatalf("first page: %+v %q %v", page, next, err)
	}
	if page[0].ARN == "" || page[0].RegistryID != "123456789012" || page[0].Mutability != "MUTABLE" || page[0].Tags != nil ||
		page[1].ExclusionFilters[0] != "latest" {
		t.Errorf("page = %+v", page)
	}
	page, next, err = c.ListPage(context.Background(), next)
	if err != nil || next != "" || len(page) != 1 || page[0].Name != "c" {
		t.Fatalf("last page: %+v %q %v", page, next, err)
	}
	for i, b := range *bodies {
		if b["maxResults"] != float64(PageSize) || b["repositoryNames"] != nil {
			t.Errorf("request %d = %v, want maxResults %d and no names", i, b, PageSize)
		}
	}
	if (*bodies)[1]["nextToken"] != "page-2" {
		t.Errorf("second request = %v", (*bodies)[1])
	}
}

func TestWithRateLimitPacesEveryAttempt(t *testing.T) {
	// Two failed attempts (retried by the SDK) and ten calls: twelve
	// requests at 40 a second with burst 1 take at least 11/40 s.
	srv, bodies := fakeECR(t, 2, func(map[string]any) any { return map[string]any{"repositories": []any{}} })
	limiter := rate.NewLimiter(40, 1)
	c := client(srv, WithRateLimit(limiter))
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, _, err := c.ListPage(context.Background(), ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(*bodies) != 12 {
		t.Fatalf("%d requests, want 12 (10 calls, 2 retries)", len(*bodies))
	}
	if min := 11 * time.Second / 40; elapsed < min {
		t.Errorf("12 requests took %v, want at least %v at 40/s", elapsed, min)
	}
}

func TestWithRateLimitNilIsUnlimited(t *testing.T) {
	srv, _ := fakeECR(t, 0, func(map[string]any) any { return map[string]any{"repositories": []any{}} })
	c := client(srv, WithRateLimit(nil))
	if _, _, err := c.ListPage(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}

func TestWithRateLimitRespectsTheDeadline(t *testing.T) {
	srv, _ := fakeECR(t, 0, func(map[string]any) any { return map[string]any{"repositories": []any{}} })
	limiter := rate.NewLimiter(0.1, 1) // one request per 10 s
	c := client(srv, WithRateLimit(limiter))
	if _, _, err := c.ListPage(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.ListPage(ctx, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("waited %v for a limiter that cannot make the deadline", time.Since(start))
	}
}
