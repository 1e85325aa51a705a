package ecrrepo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestTemplates runs the template methods over HTTP through the real SDK
// against testenv's template fake behind the proxy: moto 5.2.1 has no
// repository creation template API, so the proxy serves those four
// operations from a fake speaking ECR's JSON 1.1 wire format, and everything
// else (the account lookup) from moto.
func TestTemplates(t *testing.T) {
	moto := testenv.StartMoto(t)
	// env gives each subtest its own proxy, so its own templates.
	env := func(t *testing.T, opts ...func(*ecr.Options)) (*Client, *ecr.Client, *testenv.Proxy) {
		proxy := testenv.NewProxy(t, moto.URL())
		api := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), opts...)
		return New(api), api, proxy
	}
	ctx := context.Background()

	t.Run("Templates reads every page", func(t *testing.T) {
		c, api, proxy := env(t)
		const n = templatePageSize + 1
		for i := range n {
			if _, err := api.CreateRepositoryCreationTemplate(ctx, minimalTemplate(fmt.Sprintf("team%04d", i))); err != nil {
				t.Fatal(err)
			}
		}
		proxy.Reset()
		got, err := c.Templates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n || got[0].Prefix != "team0000" || got[n-1].Prefix != fmt.Sprintf("team%04d", n-1) {
			t.Fatalf("got %d templates (%v ... %v), want %d", len(got), got[0].Prefix, got[len(got)-1].Prefix, n)
		}
		// Two pages, the first asking for 1000. An SDK retry of a page (a
		// transport hiccup on a loaded machine) is a later attempt of the
		// same call, not another page.
		var firsts []testenv.Call
		for _, c := range proxy.Calls() {
			if c.Attempt == 1 {
				firsts = append(firsts, c)
			}
		}
		if len(firsts) != 2 || !strings.Contains(string(firsts[0].Body), `"maxResults":1000`) || strings.Contains(string(firsts[0].Body), "nextToken") {
			for _, c := range proxy.Calls() {
				t.Logf("call %s attempt %d: %.200s", c.Operation, c.Attempt, c.Body)
			}
			t.Errorf("%d calls (first attempts); want 2 pages, the first of maxResults 1000", len(firsts))
		}
	})

	t.Run("Template and Templates read the rules' fields", func(t *testing.T) {
		c, api, _ := env(t)
		seeded := fullTemplate("prod")
		if _, err := api.CreateRepositoryCreationTemplate(ctx, seeded); err != nil {
			t.Fatal(err)
		}
		got, err := c.Template(ctx, "prod")
		if err != nil {
			t.Fatal(err)
		}
		want := guard.Template{
			Prefix:           "prod",
			AppliedFor:       []string{"PULL_THROUGH_CACHE", "CREATE_ON_PUSH"},
			Mutability:       "IMMUTABLE_WITH_EXCLUSION",
			ExclusionFilters: []string{"latest", "dev-*"},
			Lifecycle:        guard.Lifecycle{Exists: true, Text: aws.ToString(seeded.LifecyclePolicy)},
			ResourceTags:     []guard.Tag{{Key: "environment", Value: "dev"}, {Key: "team", Value: "platform"}},
			CreatedAt:        got.CreatedAt,
		}
		if !reflect.DeepEqual(got, want) || got.CreatedAt.IsZero() {
			t.Errorf("Template = %+v\nwant       %+v", got, want)
		}
		all, err := c.Templates(ctx)
		if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0], got) {
			t.Errorf("Templates = %+v, %v; want [%+v]", all, err, got)
		}
	})

	t.Run("a template without lifecycle policy has none", func(t *testing.T) {
		c, api, _ := env(t)
		if _, err := api.CreateRepositoryCreationTemplate(ctx, minimalTemplate("bare")); err != nil {
			t.Fatal(err)
		}
		got, err := c.Template(ctx, "bare")
		if err != nil || got.Lifecycle.Exists || got.Mutability != "MUTABLE" {
			t.Errorf("Template = %+v, %v; want MUTABLE (ECR's default) without lifecycle policy", got, err)
		}
	})

	t.Run("UpdateTemplate keeps every other member", func(t *testing.T) {
		c, api, proxy := env(t)
		if _, err := api.CreateRepositoryCreationTemplate(ctx, fullTemplate("prod")); err != nil {
			t.Fatal(err)
		}
		want := describeRaw(t, api, "prod")
		const baseline = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`
		// Steps apply in order to the same template; each says what it
		// changes in the template as read back, every other member must stay.
		for _, step := range []struct {
			name   string
			change guard.TemplateChange
			apply  func(w *types.RepositoryCreationTemplate)
		}{
			{"mutability only", guard.TemplateChange{Mutability: &guard.MutabilitySetting{Mutability: "IMMUTABLE"}}, func(w *types.RepositoryCreationTemplate) {
				w.ImageTagMutability, w.ImageTagMutabilityExclusionFilters = types.ImageTagMutabilityImmutable, nil
			}},
			{"lifecycle only", guard.TemplateChange{LifecyclePolicy: baseline}, func(w *types.RepositoryCreationTemplate) {
				w.LifecyclePolicy = aws.String(baseline)
			}},
			{"mutability with allowed filters", guard.TemplateChange{Mutability: &guard.MutabilitySetting{Mutability: "IMMUTABLE_WITH_EXCLUSION", ExclusionFilters: []string{"latest"}}}, func(w *types.RepositoryCreationTemplate) {
				w.ImageTagMutability = types.ImageTagMutabilityImmutableWithExclusion
				w.ImageTagMutabilityExclusionFilters = []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}
			}},
			{"appliedFor added, none repeated", guard.TemplateChange{AddAppliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}}, func(w *types.RepositoryCreationTemplate) {
				w.AppliedFor = append(w.AppliedFor, types.RCTAppliedForReplication)
			}},
		} {
			t.Run(step.name, func(t *testing.T) {
				proxy.Reset()
				if err := c.UpdateTemplate(ctx, "prod", step.change); err != nil {
					t.Fatal(err)
				}
				step.apply(&want)
				got := describeRaw(t, api, "prod")
				want.UpdatedAt = got.UpdatedAt
				if !reflect.DeepEqual(got, want) {
					t.Errorf("after the update:\n got %s\nwant %s", show(got), show(want))
				}
				if n := proxy.Count("UpdateRepositoryCreationTemplate"); n != 1 {
					t.Errorf("%d updates, want 1", n)
				}
			})
		}
	})

	t.Run("a missing template is ErrTemplateNotFound", func(t *testing.T) {
		c, _, proxy := env(t)
		if _, err := c.Template(ctx, "missing"); !errors.Is(err, guard.ErrTemplateNotFound) {
			t.Errorf("Template: err = %v, want ErrTemplateNotFound", err)
		}
		err := c.UpdateTemplate(ctx, "missing", guard.TemplateChange{LifecyclePolicy: "{}"})
		if !errors.Is(err, guard.ErrTemplateNotFound) || proxy.Count("UpdateRepositoryCreationTemplate") != 0 {
			t.Errorf("UpdateTemplate: err = %v after %d updates, want ErrTemplateNotFound and no update", err, proxy.Count("UpdateRepositoryCreationTemplate"))
		}
	})

	t.Run("a template deleted between read and write is ErrTemplateNotFound", func(t *testing.T) {
		c, api, proxy := env(t)
		if _, err := api.CreateRepositoryCreationTemplate(ctx, minimalTemplate("gone")); err != nil {
			t.Fatal(err)
		}
		// The read finds it; ECR then answers the update as it does for a
		// deleted template (the fault speaks the same wire format).
		proxy.InjectFault("UpdateRepositoryCreationTemplate", testenv.APIErrorFault(400, "TemplateNotFoundException"), 1)
		err := c.UpdateTemplate(ctx, "gone", guard.TemplateChange{LifecyclePolicy: "{}"})
		var notFound *types.TemplateNotFoundException
		if !errors.Is(err, guard.ErrTemplateNotFound) || !errors.As(err, &notFound) || fault.Retryable(err) {
			t.Errorf("err = %v, want a permanent ErrTemplateNotFound keeping the ECR error", err)
		}
	})

	t.Run("a template changed since the decision's read is not written", func(t *testing.T) {
		c, api, proxy := env(t)
		if _, err := api.CreateRepositoryCreationTemplate(ctx, minimalTemplate("prod")); err != nil {
			t.Fatal(err)
		}
		read, err := c.Template(ctx, "prod")
		if err != nil {
			t.Fatal(err)
		}
		// Someone gives it an exemption tag after the read.
		if _, err := api.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod"),
			AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication}, ResourceTags: []types.Tag{{Key: aws.String("environment"), Value: aws.String("dev")}}}); err != nil {
			t.Fatal(err)
		}
		proxy.Reset()
		err = c.UpdateTemplate(ctx, "prod", guard.TemplateChange{Mutability: &guard.MutabilitySetting{Mutability: guard.Immutable}, Basis: &read})
		if !errors.Is(err, guard.ErrTemplateChanged) || !fault.Retryable(err) || proxy.Count("UpdateRepositoryCreationTemplate") != 0 {
			t.Errorf("err = %v (retryable %v) after %d updates; want a retryable ErrTemplateChanged and no update", err, fault.Retryable(err), proxy.Count("UpdateRepositoryCreationTemplate"))
		}
		// Decided on what is there now, it is written.
		now, err := c.Template(ctx, "prod")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.UpdateTemplate(ctx, "prod", guard.TemplateChange{LifecyclePolicy: guard.DefaultLifecyclePolicy, Basis: &now}); err != nil {
			t.Errorf("an update on a fresh basis: %v", err)
		}
	})

	t.Run("CreateTemplate", func(t *testing.T) {
		c, api, _ := env(t)
		root := guard.Template{
			Prefix:       guard.RootPrefix,
			AppliedFor:   []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache},
			Mutability:   "IMMUTABLE",
			Lifecycle:    guard.Lifecycle{Exists: true, Text: `{"rules":[]}`},
			ResourceTags: []guard.Tag{{Key: "managed-by", Value: "ecr-guard"}},
		}
		if err := c.CreateTemplate(ctx, root); err != nil {
			t.Fatal(err)
		}
		got := describeRaw(t, api, guard.RootPrefix)
		if aws.ToString(got.Description) != createdDescription || got.ImageTagMutability != types.ImageTagMutabilityImmutable ||
			!slices.Equal(got.AppliedFor, []types.RCTAppliedFor{"REPLICATION", "PULL_THROUGH_CACHE"}) ||
			aws.ToString(got.LifecyclePolicy) != `{"rules":[]}` || len(got.ResourceTags) != 1 || aws.ToString(got.ResourceTags[0].Key) != "managed-by" ||
			got.ImageTagMutabilityExclusionFilters != nil || got.RepositoryPolicy != nil || got.CustomRoleArn != nil || got.EncryptionConfiguration != nil {
			t.Errorf("created %s", show(got))
		}

		err := c.CreateTemplate(ctx, root)
		var exists *types.TemplateAlreadyExistsException
		if !errors.Is(err, guard.ErrTemplateExists) || !errors.As(err, &exists) || fault.Retryable(err) {
			t.Errorf("second create: err = %v, want a permanent ErrTemplateExists keeping the ECR error", err)
		}
	})

	t.Run("a retryable fault is retried, then classified retryable", func(t *testing.T) {
		c, api, proxy := env(t)
		if _, err := api.CreateRepositoryCreationTemplate(ctx, minimalTemplate("app")); err != nil {
			t.Fatal(err)
		}
		proxy.InjectFault("UpdateRepositoryCreationTemplate", testenv.StatusFault(503), 1)
		if err := c.UpdateTemplate(ctx, "app", guard.TemplateChange{LifecyclePolicy: "{}"}); err != nil {
			t.Fatalf("UpdateTemplate after one 503: %v", err)
		}
		if n := proxy.Count("UpdateRepositoryCreationTemplate"); n != 2 {
			t.Errorf("%d update attempts, want 2 (503, then success)", n)
		}

		once, _, proxy := env(t, func(o *ecr.Options) { o.RetryMaxAttempts = 1 })
		proxy.InjectFault("DescribeRepositoryCreationTemplates", testenv.APIErrorFault(400, "ThrottlingException"), 1)
		_, err := once.Templates(ctx)
		if !fault.Retryable(err) || fault.Code(err) != "ThrottlingException" || !strings.Contains(err.Error(), "DescribeRepositoryCreationTemplates") {
			t.Errorf("err = %v, want a retryable ThrottlingException naming the operation", err)
		}
	})
}

// minimalTemplate is a template with only the required members.
func minimalTemplate(prefix string) *ecr.CreateRepositoryCreationTemplateInput {
	return &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String(prefix), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication}}
}

// fullTemplate is a template with every member set.
func fullTemplate(prefix string) *ecr.CreateRepositoryCreationTemplateInput {
	return &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:             aws.String(prefix),
		AppliedFor:         []types.RCTAppliedFor{types.RCTAppliedForPullThroughCache, types.RCTAppliedForCreateOnPush},
		CustomRoleArn:      aws.String("arn:aws:iam::123456789012:role/ecr-template"),
		Description:        aws.String("team templates"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
			{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard},
			{Filter: aws.String("dev-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard},
		},
		EncryptionConfiguration: &types.EncryptionConfigurationForRepositoryCreationTemplate{
			EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"),
		},
		LifecyclePolicy:  aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":500},"action":{"type":"expire"}}]}`),
		RepositoryPolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ecr:BatchGetImage"}]}`),
		ResourceTags:     []types.Tag{{Key: aws.String("environment"), Value: aws.String("dev")}, {Key: aws.String("team"), Value: aws.String("platform")}},
	}
}

// describeRaw reads every member of the template, as ECR returns it.
func describeRaw(t *testing.T, api *ecr.Client, prefix string) types.RepositoryCreationTemplate {
	t.Helper()
	out, err := api.DescribeRepositoryCreationTemplates(context.Background(), &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{prefix}})
	if err != nil || len(out.RepositoryCreationTemplates) != 1 {
		t.Fatalf("describe %s: %+v, %v", prefix, out, err)
	}
	return out.RepositoryCreationTemplates[0]
}

// show prints a template's members for a failure message.
func show(t types.RepositoryCreationTemplate) string {
	filters := make([]string, len(t.ImageTagMutabilityExclusionFilters))
	for i, f := range t.ImageTagMutabilityExclusionFilters {
		filters[i] = aws.ToString(f.Filter)
	}
	tags := make([]string, len(t.ResourceTags))
	for i, tag := range t.ResourceTags {
		tags[i] = aws.ToString(tag.Key) + "=" + aws.ToString(tag.Value)
	}
	enc := "<nil>"
	if e := t.EncryptionConfiguration; e != nil {
		enc = string(e.EncryptionType) + " " + aws.ToString(e.KmsKey)
	}
	return fmt.Sprintf("{prefix %q appliedFor %v role %q description %q encryption %q mutability %s filters %v lifecycle %q policy %q tags %v}",
		aws.ToString(t.Prefix), t.AppliedFor, aws.ToString(t.CustomRoleArn), aws.ToString(t.Description), enc,
		t.ImageTagMutability, filters, aws.ToString(t.LifecyclePolicy), aws.ToString(t.RepositoryPolicy), tags)
}

// Template takes the template asked for, not the first one answered, and
// takes ECR's trailing "/" as the same prefix (the answers here are ECR's
// JSON 1.1 shape; the template fake in testenv matches prefixes exactly, so
// it never answers with another).
func TestTemplateIsTheOneAskedFor(t *testing.T) {
	srv, _ := fakeECR(t, 0, func(map[string]any) any {
		return map[string]any{"repositoryCreationTemplates": []any{
			map[string]any{"prefix": "prod-eu", "imageTagMutability": "MUTABLE", "appliedFor": []any{"REPLICATION"}},
			map[string]any{"prefix": "prod/", "imageTagMutability": "IMMUTABLE", "appliedFor": []any{"REPLICATION"}},
		}}
	})
	got, err := client(srv).Template(context.Background(), "prod")
	if err != nil || got.Prefix != "prod/" || got.Mutability != "IMMUTABLE" {
		t.Errorf("Template(prod) = %+v, %v; want the prod/ template", got, err)
	}
	if _, err := client(srv).Template(context.Background(), "dev"); !errors.Is(err, guard.ErrTemplateNotFound) {
		t.Errorf("Template(dev) with none answered for it: err %v, want ErrTemplateNotFound", err)
	}
}
