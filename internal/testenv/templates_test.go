package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// These tests drive the template fake (moto 5.2.1 has no repository creation
// template API) over HTTP through the real SDK and the proxy, as the code
// under test does.

// unvalidated drops the SDK's client-side check of required members, so that
// the fake's own check is what answers.
func unvalidated(o *ecr.Options) {
	o.RetryMaxAttempts = 1
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		if _, ok := s.Initialize.Get("OperationInputValidation"); !ok {
			return nil // the operation has no required members
		}
		_, err := s.Initialize.Remove("OperationInputValidation")
		return err
	})
}

func templateInput(prefix string) *ecr.CreateRepositoryCreationTemplateInput {
	return &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:     aws.String(prefix),
		AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication},
	}
}

func wildcard(filters ...string) []types.ImageTagMutabilityExclusionFilter {
	out := []types.ImageTagMutabilityExclusionFilter{}
	for _, f := range filters {
		out = append(out, types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	return out
}

func TestMotoLacksTemplates(t *testing.T) {
	// The premise of the fake: if moto learns the API, this fails and the
	// fake can go.
	client := ecr.NewFromConfig(moto.AWSConfig(t, moto.URL()), oneAttempt)
	_, err := client.DescribeRepositoryCreationTemplates(context.Background(), &ecr.DescribeRepositoryCreationTemplatesInput{})
	if err == nil {
		t.Fatal("moto answered DescribeRepositoryCreationTemplates: the template fake may no longer be needed")
	}
	t.Logf("moto: %v", err)
}

func TestTemplateFakeValidation(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), unvalidated)
	ctx := context.Background()
	if _, err := client.CreateRepositoryCreationTemplate(ctx, templateInput("taken")); err != nil {
		t.Fatal(err)
	}
	create := func(edit func(in *ecr.CreateRepositoryCreationTemplateInput)) func() error {
		return func() error {
			in := templateInput("team-a/app_1.x")
			edit(in)
			_, err := client.CreateRepositoryCreationTemplate(ctx, in)
			return err
		}
	}
	long := func(n int) *string { return aws.String(strings.Repeat("a", n)) }

	for _, tc := range []struct {
		name string
		call func() error
		want string // error code, "" for success
	}{
		{"create valid", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {}), ""},
		{"create ROOT", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = aws.String("ROOT") }), ""},
		{"create every appliedFor", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.Prefix = aws.String("all")
			in.AppliedFor = []types.RCTAppliedFor{"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"}
		}), ""},
		{"create with exclusions", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.Prefix = aws.String("excl")
			in.ImageTagMutability = types.ImageTagMutabilityImmutableWithExclusion
			in.ImageTagMutabilityExclusionFilters = wildcard("latest", "dev-*")
		}), ""},
		{"create taken prefix", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = aws.String("taken") }), "TemplateAlreadyExistsException"},
		{"create without prefix", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = nil }), "InvalidParameterException"},
		{"create upper-case prefix", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = aws.String("Prod") }), "InvalidParameterException"},
		{"create prefix with a double slash", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = aws.String("a//b") }), "InvalidParameterException"},
		{"create prefix of 257", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Prefix = long(257) }), "InvalidParameterException"},
		{"create without appliedFor", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.AppliedFor = nil }), "InvalidParameterException"},
		{"create unknown appliedFor", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.AppliedFor = []types.RCTAppliedFor{"PUSH"} }), "InvalidParameterException"},
		{"create unknown mutability", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.ImageTagMutability = "SOMETIMES" }), "InvalidParameterException"},
		{"create filters with IMMUTABLE", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutability = types.ImageTagMutabilityImmutable
			in.ImageTagMutabilityExclusionFilters = wildcard("latest")
		}), "InvalidParameterException"},
		{"create filters without mutability (MUTABLE)", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutabilityExclusionFilters = wildcard("latest")
		}), "InvalidParameterException"},
		{"create IMMUTABLE_WITH_EXCLUSION without filters", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutability = types.ImageTagMutabilityImmutableWithExclusion
		}), "InvalidParameterException"},
		{"create six filters", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutability = types.ImageTagMutabilityMutableWithExclusion
			in.ImageTagMutabilityExclusionFilters = wildcard("a", "b", "c", "d", "e", "f")
		}), "InvalidParameterException"},
		{"create non-wildcard filter", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutability = types.ImageTagMutabilityImmutableWithExclusion
			in.ImageTagMutabilityExclusionFilters = []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("v1"), FilterType: "REGEX"}}
		}), "InvalidParameterException"},
		{"create filter with a slash", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ImageTagMutability = types.ImageTagMutabilityImmutableWithExclusion
			in.ImageTagMutabilityExclusionFilters = wildcard("a/b")
		}), "InvalidParameterException"},
		{"create unknown encryption", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.EncryptionConfiguration = &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: "ROT13"}
		}), "InvalidParameterException"},
		{"create KMS key not an ARN", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.EncryptionConfiguration = &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String("my-key")}
		}), "InvalidParameterException"},
		{"create description of 257", create(func(in *ecr.CreateRepositoryCreationTemplateInput) { in.Description = long(257) }), "InvalidParameterException"},
		{"create tag key of 129", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ResourceTags = []types.Tag{{Key: long(129), Value: aws.String("v")}}
		}), "InvalidParameterException"},
		{"create tag without value", create(func(in *ecr.CreateRepositoryCreationTemplateInput) {
			in.ResourceTags = []types.Tag{{Key: aws.String("k")}}
		}), "InvalidParameterException"},
		{"update missing template", func() error {
			_, err := client.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("missing")})
			return err
		}, "TemplateNotFoundException"},
		{"update filters with MUTABLE", func() error {
			_, err := client.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{
				Prefix: aws.String("taken"), ImageTagMutability: types.ImageTagMutabilityMutable, ImageTagMutabilityExclusionFilters: wildcard("x"),
			})
			return err
		}, "InvalidParameterException"},
		{"update without prefix", func() error {
			_, err := client.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{})
			return err
		}, "InvalidParameterException"},
		{"delete missing template", func() error {
			_, err := client.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("missing")})
			return err
		}, "TemplateNotFoundException"},
		{"describe maxResults 0", func() error {
			_, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(0)})
			return err
		}, "InvalidParameterException"},
		{"describe maxResults 1001", func() error {
			_, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(1001)})
			return err
		}, "InvalidParameterException"},
		{"describe forged nextToken", func() error {
			_, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{NextToken: aws.String("not a token!")})
			return err
		}, "InvalidParameterException"},
		{"describe invalid prefix", func() error {
			_, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"Bad Prefix"}})
			return err
		}, "InvalidParameterException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			var apiErr smithy.APIError
			var resp *smithyhttp.ResponseError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want || !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusBadRequest {
				t.Fatalf("err = %v, want %s with status 400", err, tc.want)
			}
		})
	}
}

func TestTemplateFakeTypedErrors(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	ctx := context.Background()
	_, err := client.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("missing")})
	var notFound *types.TemplateNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("err = %v (%T), want *types.TemplateNotFoundException", err, err)
	}
	if _, err := client.CreateRepositoryCreationTemplate(ctx, templateInput("twice")); err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateRepositoryCreationTemplate(ctx, templateInput("twice"))
	var exists *types.TemplateAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("err = %v (%T), want *types.TemplateAlreadyExistsException", err, err)
	}
	var invalid *types.InvalidParameterException
	_, err = client.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("x"), AppliedFor: []types.RCTAppliedFor{"PUSH"},
	})
	if !errors.As(err, &invalid) {
		t.Fatalf("err = %v (%T), want *types.InvalidParameterException", err, err)
	}
}

func TestTemplateFakeRoundTrip(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	ctx := context.Background()
	full := &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:                             aws.String("prod"),
		AppliedFor:                         []types.RCTAppliedFor{types.RCTAppliedForPullThroughCache, types.RCTAppliedForCreateOnPush},
		CustomRoleArn:                      aws.String("arn:aws:iam::123456789012:role/ecr-templates"),
		Description:                        aws.String("production"),
		EncryptionConfiguration:            &types.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String("arn:aws:kms:us-east-1:123456789012:key/abcd-1234")},
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: wildcard("latest"),
		LifecyclePolicy:                    aws.String(`{"rules":[]}`),
		RepositoryPolicy:                   aws.String(`{"Version":"2012-10-17","Statement":[]}`),
		ResourceTags:                       []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	}
	created, err := client.CreateRepositoryCreationTemplate(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.RegistryId) != "123456789012" || created.RepositoryCreationTemplate.CreatedAt == nil {
		t.Errorf("create answered %+v", created)
	}
	out, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod"}})
	if err != nil || len(out.RepositoryCreationTemplates) != 1 {
		t.Fatalf("describe: %+v, %v", out, err)
	}
	got := out.RepositoryCreationTemplates[0]
	if aws.ToString(got.Prefix) != "prod" || !slices.Equal(got.AppliedFor, full.AppliedFor) ||
		aws.ToString(got.CustomRoleArn) != aws.ToString(full.CustomRoleArn) || aws.ToString(got.Description) != "production" ||
		got.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKms || aws.ToString(got.EncryptionConfiguration.KmsKey) != aws.ToString(full.EncryptionConfiguration.KmsKey) ||
		got.ImageTagMutability != full.ImageTagMutability || aws.ToString(got.ImageTagMutabilityExclusionFilters[0].Filter) != "latest" ||
		aws.ToString(got.LifecyclePolicy) != aws.ToString(full.LifecyclePolicy) || aws.ToString(got.RepositoryPolicy) != aws.ToString(full.RepositoryPolicy) ||
		aws.ToString(got.ResourceTags[0].Key) != "team" || aws.ToString(got.ResourceTags[0].Value) != "platform" ||
		!got.CreatedAt.Equal(*created.RepositoryCreationTemplate.CreatedAt) {
		t.Errorf("described %+v", got)
	}

	// Update with only the prefix: the fake takes the strictest reading of
	// the undocumented semantics, every member left out is gone and the
	// mutability is the documented default, MUTABLE.
	if _, err := client.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	out, err = client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod"}})
	if err != nil {
		t.Fatal(err)
	}
	got = out.RepositoryCreationTemplates[0]
	if got.ImageTagMutability != types.ImageTagMutabilityMutable || got.AppliedFor != nil || got.CustomRoleArn != nil || got.Description != nil ||
		got.EncryptionConfiguration != nil || got.ImageTagMutabilityExclusionFilters != nil || got.LifecyclePolicy != nil ||
		got.RepositoryPolicy != nil || got.ResourceTags != nil || !got.CreatedAt.Equal(*created.RepositoryCreationTemplate.CreatedAt) {
		t.Errorf("after an update of the prefix alone: %+v", got)
	}

	deleted, err := client.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")})
	if err != nil || aws.ToString(deleted.RepositoryCreationTemplate.Prefix) != "prod" {
		t.Fatalf("delete: %+v, %v", deleted, err)
	}
	out, err = client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod"}})
	if err != nil || len(out.RepositoryCreationTemplates) != 0 {
		t.Fatalf("after delete, a prefix filter finds %+v, %v; want an empty list", out, err)
	}
}

func TestTemplateFakePaging(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	ctx := context.Background()
	var want []string
	for i := range 5 {
		prefix := fmt.Sprintf("team%d", i)
		want = append(want, prefix)
		if _, err := client.CreateRepositoryCreationTemplate(ctx, templateInput(prefix)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	pages := 0
	for p := ecr.NewDescribeRepositoryCreationTemplatesPaginator(client, &ecr.DescribeRepositoryCreationTemplatesInput{MaxResults: aws.Int32(2)}); p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tmpl := range out.RepositoryCreationTemplates {
			got = append(got, aws.ToString(tmpl.Prefix))
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}
	out, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"team3", "missing", "team1"}})
	if err != nil || len(out.RepositoryCreationTemplates) != 2 || out.NextToken != nil {
		t.Fatalf("prefix filter: %+v, %v; want team1 and team3 only", out, err)
	}
}

func TestTemplateFakeRegistries(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	ctx := context.Background()
	home := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	otherRegionCfg := moto.AWSConfig(t, proxy.URL())
	otherRegionCfg.Region = "eu-west-1"
	otherRegion := ecr.NewFromConfig(otherRegionCfg, oneAttempt)
	member := ecr.NewFromConfig(moto.AccountConfig(t, proxy.URL(), "111111111111", Region), oneAttempt)

	if _, err := home.CreateRepositoryCreationTemplate(ctx, templateInput("ROOT")); err != nil {
		t.Fatal(err)
	}
	for name, client := range map[string]*ecr.Client{"another region": otherRegion, "another account": member} {
		out, err := client.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
		if err != nil || len(out.RepositoryCreationTemplates) != 0 {
			t.Errorf("%s sees %+v, %v; want no templates", name, out, err)
		}
		if _, err := client.CreateRepositoryCreationTemplate(ctx, templateInput("ROOT")); err != nil {
			t.Errorf("%s cannot have its own ROOT: %v", name, err)
		}
	}
	out, err := member.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	if err != nil || aws.ToString(out.RegistryId) != "111111111111" || len(out.RepositoryCreationTemplates) != 1 {
		t.Errorf("member account: %+v, %v", out, err)
	}
}

func TestTemplateFakeBehindProxy(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	ctx := context.Background()
	proxy.InjectFault("ecr.UpdateRepositoryCreationTemplate", APIErrorFault(400, "ThrottlingException"), 1)

	if _, err := client.CreateRepositoryCreationTemplate(ctx, templateInput("app")); err != nil {
		t.Fatal(err)
	}
	update := &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("app"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication}}
	_, err := client.UpdateRepositoryCreationTemplate(ctx, update)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ThrottlingException" {
		t.Fatalf("err = %v, want the injected ThrottlingException", err)
	}
	if _, err := client.UpdateRepositoryCreationTemplate(ctx, update); err != nil {
		t.Fatal(err)
	}
	// Everything else still reaches moto.
	if _, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatal(err)
	}
	if proxy.Count("ecr.UpdateRepositoryCreationTemplate") != 2 || proxy.Forwarded("UpdateRepositoryCreationTemplate") != 1 ||
		proxy.Count("CreateRepositoryCreationTemplate") != 1 || proxy.Forwarded("ecr.DescribeRepositories") != 1 {
		t.Errorf("calls = %+v", proxy.Calls())
	}
}
