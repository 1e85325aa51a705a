// Package scenario holds the events/ samples with the repository state each
// starts from and what ecr-guard must do. The moto integration tests, the
// end-to-end tests under the Lambda RIE and `make demo` all run this table,
// against real ECR and SNS APIs (moto).
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Scope is the account and region of every sample: where the function under
// test runs (moto's default account).
var Scope = guard.Scope{Partition: "aws", Account: "123456789012", Region: "us-east-1"}

// SelfRoleARN is the role the sample of ecr-guard's own call carries.
const SelfRoleARN = "arn:aws:iam::123456789012:role/ecr-guard-RemediatorFunctionRole-1A2B3C4D5E6F"

// Env is the function configuration the scenarios assume (plus SNS_TOPIC_ARN).
func Env() map[string]string {
	return map[string]string{
		"SELF_ROLE_ARN":               SelfRoleARN,
		"ALLOWED_MUTABLE_TAG_FILTERS": "latest,dev-*",
		"EXEMPT_TAGS":                 "environment=dev",
		"LIFECYCLE_MODE":              "enforce",
	}
}

// WeakPolicy is a lifecycle policy that is valid but not the baseline.
const WeakPolicy = `{"rules":[{"rulePriority":1,"description":"Keep last 1000 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1000},"action":{"type":"expire"}}]}`

// State is a repository's governed state. Lifecycle is a notice's word for
// the policy (guard.LifecyclePolicy.State): "absent", "baseline",
// "contains-baseline" or "other"; Seed writes the first, second and last.
type State struct {
	Mutability string
	Filters    []string
	Tags       map[string]string
	Lifecycle  string
}

// Scenario is one events/ sample and the state it starts from.
type Scenario struct {
	Event string // file in events/
	Title string
	Repo  string // the repository the event names
	Seed  *State // nil: the repository does not exist
	// Want is the state afterwards (nil: unchanged or absent).
	Want *State
	// Kind is the notice kind ("" for no notice); Subject the exact subject.
	Kind    guard.Kind
	Subject string
	// Rejected events make no AWS call; Err says whether the handler fails.
	Rejected bool
	Err      bool
}

var dev = map[string]string{"environment": "dev"}

// All is every scenario, in the samples' time order.
var All = []Scenario{
	{Event: "create-repository-mutable.json", Title: "new repository created MUTABLE",
		Repo: "team-a/web", Seed: &State{Mutability: guard.Mutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-a/web -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "create-repository-immutable.json", Title: "new repository created IMMUTABLE, no lifecycle policy",
		Repo: "team-b/api", Seed: &State{Mutability: guard.Immutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindLifecycleRestored, Subject: "[ecr-guard] LIFECYCLE_RESTORED team-b/api (123456789012 us-east-1)"},
	{Event: "create-repository-mutable-with-dev-tag.json", Title: "dev repository created MUTABLE with environment=dev",
		Repo: "team-c/sandbox", Seed: &State{Mutability: guard.Mutable, Tags: dev, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Mutable, Tags: dev, Lifecycle: "baseline"},
		Kind: guard.KindExempt, Subject: "[ecr-guard] EXEMPT team-c/sandbox (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-mutable.json", Title: "someone flips a repository to MUTABLE",
		Repo: "team-b/api", Seed: &State{Mutability: guard.Mutable, Lifecycle: "baseline"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-b/api -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-mutable.json", Title: "flipped to MUTABLE but already IMMUTABLE again: the window is reported",
		Repo: "team-b/api", Seed: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindObserved, Subject: "[ecr-guard] OBSERVED team-b/api (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-immutable-with-exclusion-allowed.json", Title: "IMMUTABLE_WITH_EXCLUSION with allowed filters only",
		Repo: "team-b/api", Seed: &State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest", "dev-*"}, Lifecycle: "baseline"}},
	{Event: "put-image-tag-mutability-immutable-with-exclusion-not-allowed.json", Title: "IMMUTABLE_WITH_EXCLUSION with a filter that is not allowed",
		Repo: "team-b/api", Seed: &State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest", "v*"}, Lifecycle: "baseline"},
		Want: &State{Mutability: guard.ImmutableWithExclusion, Filters: []string{"latest"}, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-b/api -> IMMUTABLE_WITH_EXCLUSION (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-mutable-with-exclusion.json", Title: "MUTABLE_WITH_EXCLUSION",
		Repo: "team-b/api", Seed: &State{Mutability: guard.MutableWithExclusion, Filters: []string{"release-*"}, Lifecycle: "baseline"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-b/api -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-by-remediator-role.json", Title: "ecr-guard's own revert, checked and compliant: no notice",
		Repo: "team-a/web", Seed: &State{Mutability: guard.Immutable, Lifecycle: "baseline"}},
	{Event: "put-image-tag-mutability-by-remediator-role.json", Title: "a call with ecr-guard's own role left the repository mutable: fixed and reported",
		Repo: "team-a/web", Seed: &State{Mutability: guard.Mutable, Lifecycle: "baseline"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-a/web -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-failed.json", Title: "a failed call (errorCode) changed nothing",
		Repo: "team-b/api", Seed: &State{Mutability: guard.Mutable, Lifecycle: "baseline"}, Rejected: true},
	{Event: "put-lifecycle-policy.json", Title: "lifecycle policy weakened",
		Repo: "team-b/api", Seed: &State{Mutability: guard.Immutable, Lifecycle: "other"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindLifecycleRestored, Subject: "[ecr-guard] LIFECYCLE_RESTORED team-b/api (123456789012 us-east-1)"},
	{Event: "delete-lifecycle-policy.json", Title: "lifecycle policy deleted",
		Repo: "team-a/web", Seed: &State{Mutability: guard.Immutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindLifecycleRestored, Subject: "[ecr-guard] LIFECYCLE_RESTORED team-a/web (123456789012 us-east-1)"},
	{Event: "untag-resource-removes-exemption.json", Title: "exemption tag removed from a mutable dev repository",
		Repo: "team-c/sandbox", Seed: &State{Mutability: guard.Mutable, Lifecycle: "baseline"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-c/sandbox -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "tag-resource-adds-exemption.json", Title: "exemption tag added to a repository",
		Repo: "team-a/web", Seed: &State{Mutability: guard.Mutable, Tags: dev, Lifecycle: "baseline"},
		Kind: guard.KindExemptionGranted, Subject: "[ecr-guard] EXEMPTION_GRANTED team-a/web (123456789012 us-east-1)"},
	{Event: "put-image-tag-mutability-mutable.json", Title: "the repository was deleted before the event arrived",
		Repo: "team-b/api"},
	{Event: "delete-repository.json", Title: "an event ecr-guard does not handle",
		Repo: "team-c/sandbox", Rejected: true},
	{Event: "create-repository-by-pull-through-cache.json", Title: "pull-through cache created a MUTABLE repository (requestParameters null)",
		Repo: "docker-hub/library/nginx", Seed: &State{Mutability: guard.Mutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED docker-hub/library/nginx -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "create-repository-by-replication.json", Title: "replication created a MUTABLE repository (requestParameters hold only its ARN)",
		Repo: "team-d/worker", Seed: &State{Mutability: guard.Mutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-d/worker -> IMMUTABLE (123456789012 us-east-1)"},
	{Event: "create-repository-on-push.json", Title: "create-on-push created a MUTABLE repository (only resources name it)",
		Repo: "team-e/batch", Seed: &State{Mutability: guard.Mutable, Lifecycle: "absent"},
		Want: &State{Mutability: guard.Immutable, Lifecycle: "baseline"},
		Kind: guard.KindRemediated, Subject: "[ecr-guard] REMEDIATED team-e/batch -> IMMUTABLE (123456789012 us-east-1)"},
}

// ReadEvent reads a sample from events/ under root (the module root), with
// its times (the envelope's time, the record's eventTime) moved to at. A
// sample replayed against a repository seeded just now must not be older
// than that repository: ecr-guard would rightly take it for an event about
// a deleted repository of the same name.
func ReadEvent(root, name string, at time.Time) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("events/%s: %w", name, err)
	}
	stamp := at.UTC().Format(time.RFC3339)
	ev["time"] = stamp
	if detail, ok := ev["detail"].(map[string]any); ok {
		detail["eventTime"] = stamp
	}
	return json.Marshal(ev)
}

// Seed deletes the repository and, when s is not nil, creates it in state s.
func Seed(ctx context.Context, api *ecr.Client, name string, s *State, baseline string) error {
	_, err := api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: &name, Force: true})
	var notFound *types.RepositoryNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if s == nil {
		return nil
	}
	in := &ecr.CreateRepositoryInput{RepositoryName: &name, ImageTagMutability: types.ImageTagMutability(s.Mutability)}
	for _, f := range s.Filters {
		in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters,
			types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	for _, k := range sortedKeys(s.Tags) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(s.Tags[k])})
	}
	if _, err := api.CreateRepository(ctx, in); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	policy := map[string]string{"baseline": baseline, "other": WeakPolicy}[s.Lifecycle]
	if policy != "" {
		if _, err := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: &name, LifecyclePolicyText: &policy}); err != nil {
			return fmt.Errorf("put lifecycle policy on %s: %w", name, err)
		}
	}
	return nil
}

// Read returns the repository's state (nil when it does not exist).
func Read(ctx context.Context, api *ecr.Client, name string, baseline guard.LifecyclePolicy) (*State, error) {
	out, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	var notFound *types.RepositoryNotFoundException
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := out.Repositories[0]
	s := &State{Mutability: string(r.ImageTagMutability)}
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		s.Filters = append(s.Filters, aws.ToString(f.Filter))
	}
	tags, err := api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: r.RepositoryArn})
	if err != nil {
		return nil, err
	}
	for _, t := range tags.Tags {
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	lc, err := api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: &name})
	var noPolicy *types.LifecyclePolicyNotFoundException
	var policy guard.Lifecycle
	switch {
	case errors.As(err, &noPolicy):
	case err != nil:
		return nil, err
	default:
		policy = guard.Lifecycle{Exists: true, Text: aws.ToString(lc.LifecyclePolicyText)}
	}
	s.Lifecycle = baseline.State(policy)
	return s, nil
}

// Expected is the state a scenario must leave: Want, or else the seed.
func (s Scenario) Expected() *State {
	if s.Want != nil {
		return s.Want
	}
	return s.Seed
}

// Equal compares two states (nil means no repository).
func Equal(a, b *State) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Mutability == b.Mutability && slices.Equal(a.Filters, b.Filters) && a.Lifecycle == b.Lifecycle && maps.Equal(a.Tags, b.Tags)
}

func (s *State) String() string {
	if s == nil {
		return "(no repository)"
	}
	out := guard.DescribeMutability(s.Mutability, s.Filters) + ", lifecycle " + s.Lifecycle
	for _, k := range sortedKeys(s.Tags) {
		out += ", tag " + k + "=" + s.Tags[k]
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
