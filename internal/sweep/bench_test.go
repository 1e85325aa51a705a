package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/middleware"

	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// realisticMix is the account the benchmarks model: 90% compliant, 5%
// mutable, 3% exempt, 2% missing a lifecycle policy.
var realisticMix = map[string]int{"compliant": 90, "mutable": 5, "exempt": 3, "missing-lifecycle": 2}

// BenchmarkDecide is the decision core's own cost per repository, pure and
// in memory, over the realistic mix as the sweep sees it (tags read only for
// non-compliant repositories, the lifecycle policy as ecr-guard wrote it).
func BenchmarkDecide(b *testing.B) {
	rules := testRules(b)
	plan := seedPlan(100, realisticMix)
	repos := make([]guard.Repository, len(plan))
	for i, p := range plan {
		repos[i] = guard.Repository{Name: p.repoName, Mutability: p.mutability, ExclusionFilters: p.filters, Lifecycle: lifecycleText(p.lifecycle)}
		if !rules.MutabilityCompliant(p.mutability, p.filters) {
			repos[i].Tags = p.tags
		}
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = rules.Decide(guard.Input{Event: nil, Checks: checks, Repo: repos[i%len(repos)], Now: now})
		i++
	}
}

// BenchmarkDecideReformattedLifecyclePolicy is a compliant repository whose
// policy is the baseline with other whitespace: compacted, not parsed.
func BenchmarkDecideReformattedLifecyclePolicy(b *testing.B) {
	benchmarkDecideWithPolicy(b, strings.ReplaceAll(guard.DefaultLifecyclePolicy, ",", ", "))
}

// BenchmarkDecideReorderedLifecyclePolicy is a compliant repository whose
// policy is the baseline with its rules in another order: parsed and
// compared semantically, the slow path.
func BenchmarkDecideReorderedLifecyclePolicy(b *testing.B) {
	var doc struct {
		Rules []json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal([]byte(guard.DefaultLifecyclePolicy), &doc); err != nil {
		b.Fatal(err)
	}
	slices.Reverse(doc.Rules)
	reordered, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkDecideWithPolicy(b, string(reordered))
}

func benchmarkDecideWithPolicy(b *testing.B, policy string) {
	rules := testRules(b)
	repo := guard.Repository{Name: "team-a/web", Mutability: guard.Immutable, Lifecycle: guard.Lifecycle{Exists: true, Text: policy}}
	if p := rules.Decide(guard.Input{Checks: checks, Repo: repo, Now: time.Now()}); len(p.Findings) != 0 {
		b.Fatalf("the policy must be equal to the baseline: %+v", p.Findings)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = rules.Decide(guard.Input{Event: nil, Checks: checks, Repo: repo, Now: now})
	}
}

// BenchmarkSweepInMemory is the sweep's own cost per repository (workers,
// reads, decision, writes, counting, digest) with an in-memory registry.
func BenchmarkSweepInMemory(b *testing.B) {
	rules := testRules(b)
	plan := seedPlan(2000, realisticMix)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b, ecrrepo.PageSize, rules, Options{Now: time.Now})
		f.s.log = discard()
		seedFake(f.ecr, plan)
		b.StartTimer()
		if _, err := f.s.Handle(context.Background(), Payload{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(plan)), "ns/repo")
}

// BenchmarkSweepMoto2000 sweeps a moto account of 2,000 repositories in the
// realistic mix, with the default 8 workers and the rate limiter off, and
// reports the wall time, repositories per second, ECR calls per repository
// and the share of the wall time this process spent on CPU (the rest it
// waited for moto).
func BenchmarkSweepMoto2000(b *testing.B) {
	moto.Reset(b)
	cfg := moto.AWSConfig(b, moto.URL())
	plan := seedPlan(2000, realisticMix)
	seedMoto(b, cfg, plan)
	inbox := testenv.NewInbox(b, cfg)
	m := &motoSweep{direct: cfg, inbox: inbox, next: &fakeContinuer{}, rules: testRules(b)}
	m.pub = snspub.New(sns.NewFromConfig(cfg), inbox.TopicARN())

	var calls atomic.Int64
	counted := cfg.Copy()
	counted.RetryMode = aws.RetryModeAdaptive
	api := ecr.NewFromConfig(counted, func(o *ecr.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("count", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				calls.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	})
	s := m.sweeper(ecrrepo.New(api), discard(), Options{Concurrency: DefaultConcurrency})
	direct := ecr.NewFromConfig(cfg)

	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		breakAgain(b, direct, plan)
		calls.Store(0)
		before := cpuTime()
		b.StartTimer()
		// The label lets a -cpuprofile be narrowed to the sweep itself
		// (go tool pprof -tagfocus=phase=sweep), leaving the seeding out.
		var res Result
		var err error
		pprof.Do(context.Background(), pprof.Labels("phase", "sweep"), func(ctx context.Context) {
			res, err = s.Handle(ctx, Payload{})
		})
		b.StopTimer()
		cpu += cpuTime() - before
		if err != nil || res.Counts.Scanned != len(plan) || res.Counts.Remediated != 100 {
			b.Fatalf("sweep: %+v, %v", res, err)
		}
		b.StartTimer()
	}
	wall := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(wall, "s/sweep")
	b.ReportMetric(float64(len(plan))/wall, "repos/s")
	b.ReportMetric(float64(calls.Load())/float64(len(plan)), "ecr-calls/repo")
	b.ReportMetric(100*cpu.Seconds()/b.Elapsed().Seconds(), "client-cpu-%")
}

// breakAgain puts the repositories the previous sweep fixed back in their
// seeded state, so every iteration sweeps the same mix.
func breakAgain(b *testing.B, api *ecr.Client, plan []seeded) {
	ctx := context.Background()
	for _, p := range plan {
		var err error
		switch {
		case p.want.remediated:
			_, err = api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(p.repoName), ImageTagMutability: ecrtypes.ImageTagMutability(p.mutability)})
		case p.want.lifecycle && p.lifecycle == lcNone:
			_, err = api.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String(p.repoName)})
			var missing *ecrtypes.LifecyclePolicyNotFoundException
			if errors.As(err, &missing) {
				err = nil
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
