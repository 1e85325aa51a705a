package ecrrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// templatePageSize is the most DescribeRepositoryCreationTemplates returns at
// once (maxResults 1..1000, 100 when omitted):
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRepositoryCreationTemplates.html
const templatePageSize = 1000

// createdDescription is the description of the templates CreateTemplate
// creates, so that whoever finds one knows where it came from.
const createdDescription = "Created by ecr-guard (ROOT_TEMPLATE=ensure)"

// Templates reads every repository creation template of the registry, all pages.
func (c *Client) Templates(ctx context.Context) ([]guard.Template, error) {
	pages := ecr.NewDescribeRepositoryCreationTemplatesPaginator(c.api, &ecr.DescribeRepositoryCreationTemplatesInput{
		MaxResults: aws.Int32(templatePageSize),
	})
	var templates []guard.Template
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeRepositoryCreationTemplates (page): %w", awsfail.Classify(err))
		}
		for _, t := range out.RepositoryCreationTemplates {
			templates = append(templates, templateFromAPI(t))
		}
	}
	return templates, nil
}

// Template reads the template with prefix; a missing one is
// guard.ErrTemplateNotFound.
func (c *Client) Template(ctx context.Context, prefix string) (guard.Template, error) {
	t, err := c.describeTemplate(ctx, prefix)
	if err != nil {
		return guard.Template{}, err
	}
	return templateFromAPI(t), nil
}

// describeTemplate reads every member of the template with prefix. ECR's API
// model lists no TemplateNotFoundException for DescribeRepositoryCreationTemplates
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRepositoryCreationTemplates.html#API_DescribeRepositoryCreationTemplates_Errors):
// a prefix without a template is an empty list. wrapTemplate still maps the
// exception, should ECR send it.
func (c *Client) describeTemplate(ctx context.Context, prefix string) (types.RepositoryCreationTemplate, error) {
	out, err := c.api.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{
		Prefixes: []string{prefix},
	})
	if err != nil {
		return types.RepositoryCreationTemplate{}, wrapTemplate("DescribeRepositoryCreationTemplates", prefix, err)
	}
	// The one asked for, not just the first answered (ECR applies a "/" to
	// the end of every prefix: "prod/" is "prod").
	for _, t := range out.RepositoryCreationTemplates {
		if strings.TrimSuffix(aws.ToString(t.Prefix), "/") == strings.TrimSuffix(prefix, "/") {
			return t, nil
		}
	}
	return types.RepositoryCreationTemplate{}, fmt.Errorf("DescribeRepositoryCreationTemplates %s: %w", prefix, guard.ErrTemplateNotFound)
}

// UpdateTemplate writes change to the template with prefix and keeps every
// other member as it is. The documentation does not say what
// UpdateRepositoryCreationTemplate does with members left out (it says only
// that an omitted imageTagMutability means MUTABLE:
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_UpdateRepositoryCreationTemplate.html),
// so the template is read just before and every member is sent back as read
// except the changed ones. A template that no longer is what the decision
// read (change.Basis) is not written: a retryable guard.ErrTemplateChanged.
// A change someone makes between this read and the write is lost: the API
// has no conditional update. A template deleted in between is
// guard.ErrTemplateNotFound.
func (c *Client) UpdateTemplate(ctx context.Context, prefix string, change guard.TemplateChange) error {
	t, err := c.describeTemplate(ctx, prefix)
	if err != nil {
		return err
	}
	if change.Basis != nil && !templateFromAPI(t).SameForTheRules(*change.Basis) {
		return &fault.Error{Err: fmt.Errorf("UpdateRepositoryCreationTemplate %s: %w", prefix, guard.ErrTemplateChanged), Code: "TemplateChanged", Retryable: true}
	}
	in := &ecr.UpdateRepositoryCreationTemplateInput{
		Prefix:                             &prefix,
		AppliedFor:                         t.AppliedFor,
		CustomRoleArn:                      t.CustomRoleArn,
		Description:                        t.Description,
		EncryptionConfiguration:            t.EncryptionConfiguration,
		ImageTagMutability:                 t.ImageTagMutability,
		ImageTagMutabilityExclusionFilters: t.ImageTagMutabilityExclusionFilters,
		LifecyclePolicy:                    t.LifecyclePolicy,
		RepositoryPolicy:                   t.RepositoryPolicy,
		ResourceTags:                       t.ResourceTags,
	}
	if change.Mutability != nil {
		in.ImageTagMutability = types.ImageTagMutability(change.Mutability.Mutability)
		in.ImageTagMutabilityExclusionFilters = exclusionFilters(change.Mutability.ExclusionFilters)
	}
	if change.LifecyclePolicy != "" {
		in.LifecyclePolicy = &change.LifecyclePolicy
	}
	for _, a := range change.AddAppliedFor {
		if !slices.Contains(in.AppliedFor, types.RCTAppliedFor(a)) {
			in.AppliedFor = append(in.AppliedFor, types.RCTAppliedFor(a))
		}
	}
	if _, err := c.api.UpdateRepositoryCreationTemplate(ctx, in); err != nil {
		return wrapTemplate("UpdateRepositoryCreationTemplate", prefix, err)
	}
	return nil
}

// CreateTemplate creates t (ROOT_TEMPLATE=ensure) with its appliedFor,
// mutability and filters, lifecycle policy and resource tags, described as
// createdDescription. A template that exists already (someone created it
// first) is guard.ErrTemplateExists.
func (c *Client) CreateTemplate(ctx context.Context, t guard.Template) error {
	in := &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:                             &t.Prefix,
		Description:                        aws.String(createdDescription),
		ImageTagMutability:                 types.ImageTagMutability(t.Mutability),
		ImageTagMutabilityExclusionFilters: exclusionFilters(t.ExclusionFilters),
	}
	for _, a := range t.AppliedFor {
		in.AppliedFor = append(in.AppliedFor, types.RCTAppliedFor(a))
	}
	if t.Lifecycle.Exists {
		in.LifecyclePolicy = &t.Lifecycle.Text
	}
	for _, tag := range t.ResourceTags {
		in.ResourceTags = append(in.ResourceTags, types.Tag{Key: aws.String(tag.Key), Value: aws.String(tag.Value)})
	}
	if _, err := c.api.CreateRepositoryCreationTemplate(ctx, in); err != nil {
		return wrapTemplate("CreateRepositoryCreationTemplate", t.Prefix, err)
	}
	return nil
}

func templateFromAPI(t types.RepositoryCreationTemplate) guard.Template {
	g := guard.Template{
		Prefix:     aws.ToString(t.Prefix),
		Mutability: string(t.ImageTagMutability),
		CreatedAt:  aws.ToTime(t.CreatedAt),
	}
	for _, a := range t.AppliedFor {
		g.AppliedFor = append(g.AppliedFor, string(a))
	}
	for _, f := range t.ImageTagMutabilityExclusionFilters {
		g.ExclusionFilters = append(g.ExclusionFilters, aws.ToString(f.Filter))
	}
	if text := aws.ToString(t.LifecyclePolicy); text != "" {
		g.Lifecycle = guard.Lifecycle{Exists: true, Text: text}
	}
	for _, tag := range t.ResourceTags {
		g.ResourceTags = append(g.ResourceTags, guard.Tag{Key: aws.ToString(tag.Key), Value: aws.ToString(tag.Value)})
	}
	return g
}

func exclusionFilters(filters []string) []types.ImageTagMutabilityExclusionFilter {
	var out []types.ImageTagMutabilityExclusionFilter
	for _, f := range filters {
		out = append(out, types.ImageTagMutabilityExclusionFilter{
			Filter:     aws.String(f),
			FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard,
		})
	}
	return out
}

// wrapTemplate names the operation and prefix, classifies the failure, and
// maps ECR's template errors to the guard sentinels while keeping the AWS
// error in the chain.
func wrapTemplate(op, prefix string, err error) error {
	var notFound *types.TemplateNotFoundException
	var exists *types.TemplateAlreadyExistsException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%s %s: %w: %w", op, prefix, guard.ErrTemplateNotFound, awsfail.Classify(err))
	case errors.As(err, &exists):
		return fmt.Errorf("%s %s: %w: %w", op, prefix, guard.ErrTemplateExists, awsfail.Classify(err))
	}
	return fmt.Errorf("%s %s: %w", op, prefix, awsfail.Classify(err))
}
