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
package securityhub

import (
	"context"
	"errors"
	"log/slog"
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
)

// API is the one call made.
type API interface {
	BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, opts ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error)
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
	// Limiter makes the limiter of one account and region (default
	// RateLimit, Burst).
	Limiter func() *rate.Limiter
}

// Publisher maps outcomes to findings and imports them.
type Publisher struct {
	clients Clients
	rules   guard.Rules
	metrics metrics.Counter
	log     *slog.Logger
	now     func() time.Time
	opt     Options

	mu       sync.Mutex
	pending  []types.AwsSecurityFinding
	limiters map[[2]string]*rate.Limiter
	disabled map[[2]string]bool
}

// New returns a Publisher.
func New(clients Clients, rules guard.Rules, m metrics.Counter, log *slog.Logger, now func() time.Time, opt Options) *Publisher {
	if opt.Limiter == nil {
		opt.Limiter = func() *rate.Limiter { return rate.NewLimiter(RateLimit, Burst) }
	}
	return &Publisher{clients: clients, rules: rules, metrics: m, log: log, now: now, opt: opt,
		limiters: map[[2]string]*rate.Limiter{}, disabled: map[[2]string]bool{}}
}

// Publish imports the findings of one outcome (or queues them in batch mode).
func (p *Publisher) Publish(ctx context.Context, key reconcile.Key, o reconcile.Outcome, ev *guard.Event) {
	fs := findings.For(findings.Input{Key: key, Outcome: o, Event: ev, Rules: p.rules, Now: p.now()})
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

func (p *Publisher) limiter(k [2]string) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limiters[k]
	if !ok {
		l = p.opt.Limiter()
		p.limiters[k] = l
	}
	return l
}

// send imports one batch of one account and region.
func (p *Publisher) send(ctx context.Context, k [2]string, batch []types.AwsSecurityFinding) int {
	log := p.log.With("account", k[0], "region", k[1])
	if err := p.limiter(k).Wait(ctx); err != nil {
		return p.failAll(log, batch, "RateLimitWait", err)
	}
	c, err := p.clients.SecurityHub(ctx, k[0], k[1])
	if err != nil {
		return p.failAll(log, batch, "NoClient", err)
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
