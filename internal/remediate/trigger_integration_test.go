package remediate_test

// What a triggering event may make ecr-guard do, against moto: nothing
// outside the function's account and region, nothing about a repository an
// old event could not have been about, and no loop on the echo of its own
// writes.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
)

// edit decodes a sample, applies fn to its envelope and record, encodes it.
func edit(t *testing.T, raw []byte, fn func(envelope, detail map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	fn(ev, ev["detail"].(map[string]any))
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventsFromAnotherRegionOrAccountTouchNothing(t *testing.T) {
	w := newWorld(t, nil)
	west := moto.AWSConfig(t, moto.URL())
	west.Region = "us-west-2"
	westECR := ecr.NewFromConfig(west)
	// The same name here and in us-west-2, both MUTABLE; and a name that
	// exists only in us-west-2.
	w.seed(t, "team-b/api", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"})
	for _, name := range []string{"team-b/api", "west/only"} {
		if _, err := westECR.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	westRegion := func(e, d map[string]any) { e["region"], d["awsRegion"] = "us-west-2", "us-west-2" }
	events := map[string][]byte{
		"awsRegion us-west-2":              edit(t, readEvent(t, "put-image-tag-mutability-mutable.json"), westRegion),
		"only in us-west-2":                edit(t, []byte(replaceRepo(t, readEvent(t, "put-image-tag-mutability-mutable.json"), "team-b/api", "west/only")), westRegion),
		"recipientAccountId 222222222222":  edit(t, readEvent(t, "put-image-tag-mutability-mutable.json"), func(e, d map[string]any) { e["account"], d["recipientAccountId"] = "222222222222", "222222222222" }),
		"registryId of another registry":   edit(t, readEvent(t, "put-image-tag-mutability-mutable.json"), func(_, d map[string]any) { d["requestParameters"].(map[string]any)["registryId"] = "222222222222" }),
		"envelope account of another one":  edit(t, readEvent(t, "put-image-tag-mutability-mutable.json"), func(e, _ map[string]any) { e["account"] = "222222222222" }),
		"TagResource on a us-west-2 ARN":   edit(t, readEvent(t, "tag-resource-adds-exemption.json"), westRegion),
		"CreateRepository in us-west-2":    edit(t, readEvent(t, "create-repository-mutable.json"), westRegion),
		"DeleteLifecyclePolicy elsewhere":  edit(t, readEvent(t, "delete-lifecycle-policy.json"), func(e, d map[string]any) { e["account"], d["recipientAccountId"] = "333333333333", "333333333333" }),
		"PutImageTagMutability no region":  edit(t, readEvent(t, "put-image-tag-mutability-mutable.json"), func(e, d map[string]any) { delete(e, "region"); delete(d, "awsRegion") }),
		"UntagResource in another account": edit(t, readEvent(t, "untag-resource-removes-exemption.json"), func(e, d map[string]any) { e["account"], d["recipientAccountId"] = "222222222222", "222222222222" }),
	}
	for name, raw := range events {
		t.Run(name, func(t *testing.T) {
			w.proxy.Reset()
			if err := w.handler.Handle(context.Background(), raw); err != nil {
				t.Fatalf("an out-of-scope event is not an error: %v", err)
			}
			if calls := w.proxy.Calls(); len(calls) != 0 {
				t.Fatalf("an out-of-scope event made AWS calls: %v", calls)
			}
		})
	}
	if got := w.state(t, "team-b/api"); got.Mutability != guard.Mutable {
		t.Fatalf("the same-named repository in us-east-1 was changed: %v", got)
	}
	for _, name := range []string{"team-b/api", "west/only"} {
		out, err := westECR.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		if err != nil || string(out.Repositories[0].ImageTagMutability) != guard.Mutable {
			t.Fatalf("us-west-2 %s: %v %v", name, out, err)
		}
	}
}

func replaceRepo(t *testing.T, raw []byte, from, to string) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	req := ev["detail"].(map[string]any)["requestParameters"].(map[string]any)
	if req["repositoryName"] != from {
		t.Fatalf("the sample names %v, not %s", req["repositoryName"], from)
	}
	req["repositoryName"] = to
	out, _ := json.Marshal(ev)
	return string(out)
}

func TestLateEventAboutARecreatedRepository(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour)
	t.Run("the new repository is compliant: no notice", func(t *testing.T) {
		w := newWorld(t, nil)
		w.seed(t, "team-b/api", &scenario.State{Mutability: guard.Immutable, Lifecycle: "baseline"})
		w.proxy.Reset()
		if err := w.handler.Handle(context.Background(), readEventAt(t, "put-image-tag-mutability-mutable.json", hourAgo)); err != nil {
			t.Fatal(err)
		}
		if n := w.proxy.Count("Publish"); n != 0 {
			t.Fatalf("%d notices about a repository the event could not have been about", n)
		}
		if w.proxy.Count("DescribeImages") != 0 {
			t.Fatal("listed images for a window the event does not describe")
		}
	})
	t.Run("the new repository is mutable: fixed and reported as found", func(t *testing.T) {
		w := newWorld(t, nil)
		w.seed(t, "team-b/api", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"})
		w.proxy.Reset()
		if err := w.handler.Handle(context.Background(), readEventAt(t, "put-image-tag-mutability-mutable.json", hourAgo)); err != nil {
			t.Fatal(err)
		}
		if got := w.state(t, "team-b/api"); got.Mutability != guard.Immutable {
			t.Fatalf("state %v", got)
		}
		doc := w.onlyNotice(t)
		if doc.Kind != guard.KindRemediated || !doc.Stale || doc.PushedWhileMutable != nil || w.proxy.Count("DescribeImages") != 0 {
			t.Fatalf("document = %+v", doc)
		}
		if text := w.published(t)[0]["default"]; !strings.Contains(text, "is older than this repository") || strings.Contains(text, "PutImageTagMutability to MUTABLE") {
			t.Fatalf("the text must not describe the event's change as this repository's:\n%s", text)
		}
	})
	t.Run("an event of the creation's own second is about this repository", func(t *testing.T) {
		w := newWorld(t, nil)
		w.seed(t, "team-b/api", &scenario.State{Mutability: guard.Immutable, Lifecycle: "baseline"})
		if err := w.handler.Handle(context.Background(), readEvent(t, "put-image-tag-mutability-mutable.json")); err != nil {
			t.Fatal(err)
		}
		if doc := w.onlyNotice(t); doc.Kind != guard.KindObserved || doc.Stale {
			t.Fatalf("document = %+v", doc)
		}
	})
}

func TestEchoOfOwnWriteWritesNothing(t *testing.T) {
	w := newWorld(t, nil)
	w.seed(t, "team-a/web", &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"})
	w.proxy.Reset()
	if err := w.handler.Handle(context.Background(), readEvent(t, "tag-resource-adds-exemption.json")); err != nil {
		t.Fatal(err)
	}
	if w.proxy.Count("PutImageTagMutability") != 1 || w.proxy.Count("Publish") != 1 {
		t.Fatalf("the revert: %d writes, %d notices", w.proxy.Count("PutImageTagMutability"), w.proxy.Count("Publish"))
	}
	// CloudTrail records the revert as a call made with ecr-guard's role,
	// and EventBridge delivers it back.
	for range 3 {
		if err := w.handler.Handle(context.Background(), readEvent(t, "put-image-tag-mutability-by-remediator-role.json")); err != nil {
			t.Fatal(err)
		}
	}
	if w.proxy.Count("PutImageTagMutability") != 1 || w.proxy.Count("PutLifecyclePolicy") != 0 || w.proxy.Count("Publish") != 1 {
		t.Fatalf("the echo led to writes or notices: %d PutImageTagMutability, %d PutLifecyclePolicy, %d Publish",
			w.proxy.Count("PutImageTagMutability"), w.proxy.Count("PutLifecyclePolicy"), w.proxy.Count("Publish"))
	}
	if w.proxy.Count("DescribeRepositories") != 4 {
		t.Fatalf("own calls must still be read and checked: %d DescribeRepositories", w.proxy.Count("DescribeRepositories"))
	}
}
