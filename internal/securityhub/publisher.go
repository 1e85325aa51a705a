// Package securityhub imports ecr-guard's findings (internal/findings) into
// AWS Security Hub with BatchImportFindings, in the repository's own
// account and region (the default product accepts only findings whose
// AwsAccountId is the caller's), through the same credentials the registry
// clients use (internal/registries).
//
// Limits (Security Hub's BatchImportFindings guidelines): at most 100
// findings per request, and 10 requests per second per account and region
// (burst 30): one limiter per account and region. A finding Security Hub
// refuses (FailedFindings) is logged with its reason and counted
// (FindingFailures); a Security Hub that is not enabled is one WARN per
// account and region per cold start and a count (SecurityHubDisabled).
// Nothing here ever fails a remediation.
//
// CreatedAt: Security Hub keeps what the provider sends on every import,
// and ecr-guard keeps no state, so before each import it reads the
// CreatedAt of the batch's findings that already exist (GetFindings, Id
// EQUALS, at most MaxReadIDs a call, its own limiter) and sends it back
// unchanged; a finding not found keeps the decision's time. A failed read
// never holds back the import: those findings get the decision's time, one
// WARN per account and region per cold start, and a count
// (metrics.FindingReadFailures).
package securityhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/findings"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// Limits.
const (
	MaxBatch = 100
	// RateLimit and Burst stay under the documented quota, 10 requests per
	// second per account and region with a burst of 30, leaving room for
	// the other function.
	RateLimit = 5
	Burst     = 5
	// MaxReadIDs: GetFindings takes at most 20 values per filter attribute
	// (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_GetFindings.html,
	// Filters), so a batch of MaxBatch findings is read in five calls.
	MaxReadIDs = 20
	// ReadRateLimit and ReadBurst stay under GetFindings' own quota, 3
	// requests per second with a burst of 6
	// (https://docs.aws.amazon.com/securityhub/1.0/APIReference/Welcome.html),
	// leaving room for the other function and for people.
	ReadRateLimit = 2
	ReadBurst     = 2
)

// API is the calls made: the import, and the read of CreatedAt before it.
type API interface {
	BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, opts ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error)
	GetFindings(ctx context.Context, in *sh.GetFindingsInput, opts ...func(*sh.Options)) (*sh.GetFindingsOutput, error)
}

// Clients gives the Security Hub client of an account and region
// (registries.Resolver).
type Clients interface {
	SecurityHub(ctx context.Context, account, region string) (API, error)
}

// ClientsFunc adapts a function to Clients.
type ClientsFunc func(ctx context.Context, account, region string) (API, error)

// Of adapts a resolver of SDK clients (registries.Resolver.SecurityHub),
// so both functions wire it the same way.
func Of(get func(ctx context.Context, account, region string) (*sh.Client, error)) Clients {
	return ClientsFunc(func(ctx context.Context, account, region string) (API, error) {
		c, err := get(ctx, account, region)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
}

// SecurityHub calls f.
func (f ClientsFunc) SecurityHub(ctx context.Context, account, region string) (API, error) {
	return f(ctx, account, region)
}

// Options tune a Publisher.
type Options struct {
	// Batch keeps findings until MaxBatch of them are waiting or Flush is
	// called (the sweep); otherwise each Publish imports at once.
	Batch bool
	// Limiter makes the limiter of BatchImportFindings in one account and
	// region (default RateLimit, Burst); ReadLimiter that of GetFindings
	// (default ReadRateLimit, ReadBurst).
	Limiter     func() *rate.Limiter
	ReadLimiter func() *rate.Limiter
}

// Publisher maps outcomes to findings and imports them.
type Publisher struct {
	clients Clients
	rules   guard.Rules
	metrics metrics.Counter
	log     *slog.Logger
	now     func() time.Time
	opt     Options

	mu           sync.Mutex
	pending      []types.AwsSecurityFinding
	limiters     map[[2]string]*rate.Limiter
	readLimiters map[[2]string]*rate.Limiter
	disabled     map[[2]string]bool
	readFailed   map[[2]string]bool
}

// New returns a Publisher.
func New(clients Clients, rules guard.Rules, m metrics.Counter, log *slog.Logger, now func() time.Time, opt Options) *Publisher {
	if opt.Limiter == nil {
		opt.Limiter = func() *rate.Limiter { return rate.NewLimiter(RateLimit, Burst) }
	}
	if opt.ReadLimiter == nil {
		opt.ReadLimiter = func() *rate.Limiter { return rate.NewLimiter(ReadRateLimit, ReadBurst) }
	}
	return &Publisher{clients: clients, rules: rules, metrics: m, log: log, now: now, opt: opt,
		limiters: map[[2]string]*rate.Limiter{}, readLimiters: map[[2]string]*rate.Limiter{},
		disabled: map[[2]string]bool{}, readFailed: map[[2]string]bool{}}
}

// Publish imports the findings of one repository's outcome (or queues them
// in batch mode).
func (p *Publisher) Publish(ctx context.Context, key reconcile.Key, o reconcile.Outcome, ev *guard.Event) {
	p.publish(ctx, findings.For(findings.Input{Key: key, Outcome: o, Event: ev, Rules: p.rules, Now: p.now()}))
}

// PublishTemplate imports the findings of one repository creation
// template's outcome (or queues them in batch mode).
func (p *Publisher) PublishTemplate(ctx context.Context, key reconcile.TemplateKey, o reconcile.TemplateOutcome, ev *guard.Event) {
	p.publish(ctx, findings.ForTemplate(findings.TemplateInput{Key: key, Outcome: o, Event: ev, Rules: p.rules, Now: p.now()}))
}

func (p *Publisher) publish(ctx context.Context, fs []types.AwsSecurityFinding) {
	if len(fs) == 0 {
		return
	}
	if !p.opt.Batch {
		p.Import(ctx, fs)
		return
	}
	p.mu.Lock()
	p.pending = append(p.pending, fs...)
	var full []types.AwsSecurityFinding
	if len(p.pending) >= MaxBatch {
		full, p.pending = p.pending, nil
	}
	p.mu.Unlock()
	if full != nil {
		p.Import(ctx, full)
	}
}

// Flush imports whatever is queued.
func (p *Publisher) Flush(ctx context.Context) {
	p.mu.Lock()
	fs := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(fs) > 0 {
		p.Import(ctx, fs)
	}
}

// Import sends findings, grouped by account and region, MaxBatch at a
// time. It returns how many were not imported; each is logged and counted.
func (p *Publisher) Import(ctx context.Context, fs []types.AwsSecurityFinding) int {
	var (
		order  [][2]string
		groups = map[[2]string][]types.AwsSecurityFinding{}
	)
	for _, f := range fs {
		k := [2]string{aws.ToString(f.AwsAccountId), aws.ToString(f.Region)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	failed := 0
	for _, k := range order {
		g := groups[k]
		for len(g) > 0 {
			n := min(len(g), MaxBatch)
			failed += p.send(ctx, k, g[:n])
			g = g[n:]
		}
	}
	return failed
}

// limiter is limiters[k], made by newLimiter the first time.
func (p *Publisher) limiter(limiters map[[2]string]*rate.Limiter, newLimiter func() *rate.Limiter, k [2]string) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := limiters[k]
	if !ok {
		l = newLimiter()
		limiters[k] = l
	}
	return l
}

// send imports one batch of one account and region.
func (p *Publisher) send(ctx context.Context, k [2]string, batch []types.AwsSecurityFinding) int {
	log := p.log.With("account", k[0], "region", k[1])
	c, err := p.clients.SecurityHub(ctx, k[0], k[1])
	if err != nil {
		return p.failAll(log, batch, "NoClient", err)
	}
	if err := p.keepCreatedAt(ctx, c, k, batch); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && disabledCode(ae.ErrorCode()) {
			// The import would be refused too: spare the call.
			p.notEnabled(log, k, ae.ErrorCode(), ae.ErrorMessage(), len(batch))
			return len(batch)
		}
		p.readFailure(log, k, err, len(batch))
	}
	if err := p.limiter(p.limiters, p.opt.Limiter, k).Wait(ctx); err != nil {
		return p.failAll(log, batch, "RateLimitWait", err)
	}
	out, err := c.BatchImportFindings(ctx, &sh.BatchImportFindingsInput{Findings: batch})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && disabledCode(ae.ErrorCode()) {
			p.notEnabled(log, k, ae.ErrorCode(), ae.ErrorMessage(), len(batch))
			return len(batch)
		}
		return p.failAll(log, batch, "Error", err)
	}
	for _, f := range out.FailedFindings {
		code := aws.ToString(f.ErrorCode)
		if disabledCode(code) {
			p.notEnabled(log, k, code, aws.ToString(f.ErrorMessage), 1)
			continue
		}
		log.Error("Security Hub refused a finding", "finding_id", aws.ToString(f.Id), "error_code", code, "error", aws.ToString(f.ErrorMessage))
		p.metrics.Count(metrics.FindingFailures, code, 1)
	}
	return len(out.FailedFindings)
}

// keepCreatedAt gives each finding of batch that Security Hub already holds
// the CreatedAt it holds, read MaxReadIDs Ids at a time (filtered by the
// default product too: an Id is unique within its product). It stops at
// the first failed read; the findings not read keep theirs.
func (p *Publisher) keepCreatedAt(ctx context.Context, c API, k [2]string, batch []types.AwsSecurityFinding) error {
	index := make(map[string][]int, len(batch))
	var ids []string
	for i, f := range batch {
		id := aws.ToString(f.Id)
		if _, ok := index[id]; !ok {
			ids = append(ids, id)
		}
		index[id] = append(index[id], i)
	}
	product := aws.ToString(batch[0].ProductArn) // one account and region: one default product
	for chunk := range slices.Chunk(ids, MaxReadIDs) {
		filter := &types.AwsSecurityFindingFilters{
			ProductArn: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(product)}},
		}
		for _, id := range chunk {
			filter.Id = append(filter.Id, types.StringFilter{Comparison: types.StringFilterComparisonEquals, Value: aws.String(id)})
		}
		pages := sh.NewGetFindingsPaginator(c, &sh.GetFindingsInput{Filters: filter, MaxResults: aws.Int32(MaxBatch)})
		for pages.HasMorePages() {
			if err := p.limiter(p.readLimiters, p.opt.ReadLimiter, k).Wait(ctx); err != nil {
				return fmt.Errorf("wait to read findings: %w", err)
			}
			out, err := pages.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("GetFindings: %w", err)
			}
			for _, f := range out.Findings {
				if aws.ToString(f.ProductArn) != product || f.CreatedAt == nil {
					continue
				}
				for _, i := range index[aws.ToString(f.Id)] {
					batch[i].CreatedAt = f.CreatedAt
				}
			}
		}
	}
	return nil
}

// readFailure warns once per account and region for this container, and
// counts the n findings of the batch.
func (p *Publisher) readFailure(log *slog.Logger, k [2]string, err error, n int) {
	code := "Error"
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	p.mu.Lock()
	first := !p.readFailed[k]
	p.readFailed[k] = true
	p.mu.Unlock()
	if first {
		log.Warn("could not read the findings' CreatedAt from Security Hub: findings already there are imported with a new CreatedAt",
			"error", err.Error(), "error_code", code)
	}
	p.metrics.Count(metrics.FindingReadFailures, code, n)
}

func (p *Publisher) failAll(log *slog.Logger, batch []types.AwsSecurityFinding, code string, err error) int {
	ids := make([]string, len(batch))
	for i, f := range batch {
		ids[i] = aws.ToString(f.Id)
	}
	log.Error("could not import findings into Security Hub", "error", err.Error(), "finding_ids", ids)
	p.metrics.Count(metrics.FindingFailures, code, len(batch))
	return len(batch)
}

// notEnabled warns once per account and region for this container.
func (p *Publisher) notEnabled(log *slog.Logger, k [2]string, code, msg string, n int) {
	p.mu.Lock()
	first := !p.disabled[k]
	p.disabled[k] = true
	p.mu.Unlock()
	if first {
		log.Warn("Security Hub is not enabled in this account and region: findings are not imported", "error_code", code, "error", msg)
	}
	p.metrics.Count(metrics.SecurityHubDisabled, code, n)
}

func disabledCode(code string) bool {
	return code == "InvalidAccessException" || code == "InvalidAccess"
}
