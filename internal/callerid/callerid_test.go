package callerid

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// Against moto, whose credentials act as account 123456789012.
func TestResolverAsksOnceAndAgainAfterAFailure(t *testing.T) {
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	api := sts.NewFromConfig(moto.AWSConfig(t, proxy.URL()))
	want := guard.Scope{Partition: "aws", Account: "123456789012", Region: "eu-west-1", Organization: true, Regions: []string{"eu-west-1", "us-east-1"}}

	// The call started at cold start is refused, and so is the one the first
	// use makes again; the next use asks once more and is answered.
	proxy.InjectFault("GetCallerIdentity", testenv.APIErrorFault(403, "AccessDenied"), 2)
	r := Start(api, "eu-west-1", Targets{Organization: true, Regions: []string{"eu-west-1", "us-east-1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.Scope(ctx); err == nil || fault.Code(err) != "AccessDenied" {
		t.Fatalf("the refused call: %v", err)
	}
	for range 3 {
		got, err := r.Scope(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Scope = %+v, %v; want %+v", got, err, want)
		}
	}
	if n := proxy.Count("GetCallerIdentity"); n != 3 {
		t.Fatalf("%d GetCallerIdentity calls, want 3: two refused, one answered, then none", n)
	}
}

func TestResolverWaitsWithinTheDeadline(t *testing.T) {
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	proxy.InjectFault("GetCallerIdentity", testenv.DelayFault(time.Second), 1)
	r := Start(sts.NewFromConfig(moto.AWSConfig(t, proxy.URL())), "us-east-1", Targets{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := r.Scope(ctx); err == nil || !fault.Retryable(err) {
		t.Fatalf("Scope = %v, want the deadline (retryable)", err)
	}
}
