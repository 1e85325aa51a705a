// Package ecrrepo reads and writes the repository settings ecr-guard
// governs, translating between the ECR API and the guard types.
package ecrrepo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Client is the ECR adapter.
type Client struct {
	api *ecr.Client
}

// New wraps an ECR client.
func New(api *ecr.Client) *Client { return &Client{api: api} }

// PageSize is the number of repositories ListPage asks for, the most
// DescribeRepositories returns at once.
const PageSize = 1000

// ListPage reads one page of the registry's repositories (their mutability
// settings, not tags or lifecycle): the first page for token "", else the
// page a previous call's next token points at. next is "" on the last page.
func (c *Client) ListPage(ctx context.Context, token string) (repos []guard.Repository, next string, err error) {
	out, err := c.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{
		MaxResults: aws.Int32(PageSize),
		NextToken:  optional(token),
	})
	if err != nil {
		return nil, "", fmt.Errorf("DescribeRepositories (page): %w", awsfail.Classify(err))
	}
	repos = make([]guard.Repository, len(out.Repositories))
	for i, r := range out.Repositories {
		repos[i] = fromAPI(r)
	}
	return repos, aws.ToString(out.NextToken), nil
}

// WithRateLimit makes every ECR request attempt, retries included, wait for
// limiter first, so all the client's calls together stay within its rate.
// A nil limiter leaves the client unlimited.
//
//	ecr.NewFromConfig(cfg, ecrrepo.WithRateLimit(rate.NewLimiter(20, 1)))
func WithRateLimit(limiter *rate.Limiter) func(*ecr.Options) {
	return func(o *ecr.Options) {
		if limiter == nil {
			return
		}
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			wait := middleware.FinalizeMiddlewareFunc("ecr-guard/RateLimit", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := limiter.Wait(ctx); err != nil {
					// Either the context is done or the wait would outlast its
					// deadline: both are deadline failures to awsfail.
					cause := ctx.Err()
					if cause == nil {
						cause = context.DeadlineExceeded
					}
					return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("client-side rate limit: %w (%v)", cause, err)
				}
				return next.HandleFinalize(ctx, in)
			})
			// After the retry middleware: once per attempt, not once per call.
			return stack.Finalize.Insert(wait, "Retry", middleware.After)
		})
	}
}

// Describe reads the repository's mutability settings (not its tags or lifecycle).
func (c *Client) Describe(ctx context.Context, name, registryID string) (guard.Repository, error) {
	out, err := c.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{
		RepositoryNames: []string{name},
		RegistryId:      optional(registryID),
	})
	if err != nil {
		return guard.Repository{}, wrap("DescribeRepositories", name, err)
	}
	if len(out.Repositories) != 1 {
		return guard.Repository{}, fmt.Errorf("DescribeRepositories %s: got %d repositories: %w", name, len(out.Repositories), guard.ErrRepositoryNotFound)
	}
	return fromAPI(out.Repositories[0]), nil
}

// Tags reads the repository's tags.
func (c *Client) Tags(ctx context.Context, arn string) ([]guard.Tag, error) {
	out, err := c.api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil {
		return nil, wrap("ListTagsForResource", arn, err)
	}
	tags := make([]guard.Tag, 0, len(out.Tags))
	for _, t := range out.Tags {
		tags = append(tags, guard.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
	}
	return tags, nil
}

// Lifecycle reads the repository's lifecycle policy; a missing one is not an error.
func (c *Client) Lifecycle(ctx context.Context, name, registryID string) (guard.Lifecycle, error) {
	out, err := c.api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{
		RepositoryName: &name,
		RegistryId:     optional(registryID),
	})
	var missing *types.LifecyclePolicyNotFoundException
	if errors.As(err, &missing) {
		return guard.Lifecycle{}, nil
	}
	if err != nil {
		return guard.Lifecycle{}, wrap("GetLifecyclePolicy", name, err)
	}
	return guard.Lifecycle{Exists: true, Text: aws.ToString(out.LifecyclePolicyText)}, nil
}

// SetMutability writes the image tag mutability setting.
func (c *Client) SetMutability(ctx context.Context, name, registryID string, s guard.MutabilitySetting) error {
	in := &ecr.PutImageTagMutabilityInput{
		RepositoryName:     &name,
		RegistryId:         optional(registryID),
		ImageTagMutability: types.ImageTagMutability(s.Mutability),
	}
	for _, f := range s.ExclusionFilters {
		in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters, types.ImageTagMutabilityExclusionFilter{
			Filter:     aws.String(f),
			FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard,
		})
	}
	if _, err := c.api.PutImageTagMutability(ctx, in); err != nil {
		return wrap("PutImageTagMutability", name, err)
	}
	return nil
}

// PutLifecycle writes the lifecycle policy.
func (c *Client) PutLifecycle(ctx context.Context, name, registryID, text string) error {
	_, err := c.api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{
		RepositoryName:      &name,
		RegistryId:          optional(registryID),
		LifecyclePolicyText: &text,
	})
	if err != nil {
		return wrap("PutLifecyclePolicy", name, err)
	}
	return nil
}

// maxImagePages bounds the DescribeImages pages read for one listing.
const maxImagePages = 10

// ErrImagesNotAllRead says the listing stopped at maxImagePages pages
// without reaching the end: DescribeImages is not in push order, so an
// image pushed in the window may be among those not read.
var ErrImagesNotAllRead = errors.New("the repository has more images than ecr-guard reads (10 pages of 1,000): images pushed in the window may be missing from this list")

// ImagesPushedSince lists up to limit images pushed at or after since,
// newest first. truncated is true when there were more. A repository with
// more images than the bounded pages read returns what was found with
// ErrImagesNotAllRead: the notice must not read as complete.
func (c *Client) ImagesPushedSince(ctx context.Context, name, registryID string, since time.Time, limit int) (images []guard.Image, truncated bool, err error) {
	in := &ecr.DescribeImagesInput{RepositoryName: &name, RegistryId: optional(registryID), MaxResults: aws.Int32(1000)}
	pages := ecr.NewDescribeImagesPaginator(c.api, in)
	for page := 0; pages.HasMorePages(); page++ {
		if page == maxImagePages {
			err = fmt.Errorf("DescribeImages %s: %w", name, ErrImagesNotAllRead)
			truncated = true
			break
		}
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, false, wrap("DescribeImages", name, err)
		}
		for _, d := range out.ImageDetails {
			pushed := aws.ToTime(d.ImagePushedAt)
			if pushed.Before(since) {
				continue
			}
			images = append(images, guard.Image{Digest: aws.ToString(d.ImageDigest), Tags: d.ImageTags, PushedAt: pushed})
		}
	}
	sort.Slice(images, func(i, j int) bool { return images[i].PushedAt.After(images[j].PushedAt) })
	if len(images) > limit {
		images, truncated = images[:limit], true
	}
	return images, truncated, err
}

func fromAPI(r types.Repository) guard.Repository {
	repo := guard.Repository{
		Name:       aws.ToString(r.RepositoryName),
		ARN:        aws.ToString(r.RepositoryArn),
		RegistryID: aws.ToString(r.RegistryId),
		Mutability: string(r.ImageTagMutability),
		CreatedAt:  aws.ToTime(r.CreatedAt),
	}
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		repo.ExclusionFilters = append(repo.ExclusionFilters, aws.ToString(f.Filter))
	}
	return repo
}

// wrap names the operation and repository, classifies the failure, and
// maps a vanished repository to guard.ErrRepositoryNotFound while keeping
// the AWS error in the chain.
func wrap(op, repo string, err error) error {
	var notFound *types.RepositoryNotFoundException
	if errors.As(err, &notFound) {
		return fmt.Errorf("%s %s: %w: %w", op, repo, guard.ErrRepositoryNotFound, awsfail.Classify(err))
	}
	return fmt.Errorf("%s %s: %w", op, repo, awsfail.Classify(err))
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
