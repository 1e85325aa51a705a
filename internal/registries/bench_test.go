package registries_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// The simulated organization: the central account and 19 members, each in
// both regions, 50 repositories per registry.
const (
	orgAccounts    = 20
	reposPerTarget = 50
)

// orgMix is the state of the organization's i-th repository (numbered
// across registries, in target order): of every 20, one MUTABLE (baseline
// lifecycle policy), one IMMUTABLE without a lifecycle policy, the rest
// compliant: 90% / 5% / 5% of the whole, and of the first n accounts.
func orgMix(i int) (mutability string, lifecycle bool) {
	switch i % 20 {
	case 0:
		return guard.Mutable, true
	case 1:
		return guard.Immutable, false
	}
	return guard.Immutable, true
}

func orgRepoName(i int) string { return fmt.Sprintf("org/app-%03d", i) }

// BenchmarkSweepOrganization sweeps a simulated organization in moto (moto's
// AssumeRole into an account acts as that account, with ECR state per
// region), wired as the sweep function wires it: registries.New as the
// lister and the reconciler's clients, one link, no deadline, 8 workers,
// rate limiter off. Seeding (direct moto clients, off the clock) is done
// once; each sweep starts from a cold Resolver, as a scheduled invocation
// does, and every call it makes goes through a counting proxy. The
// sub-benchmarks sweep the first 5, 10 and all 20 accounts, to show how the
// wall time grows with the number of targets (accounts x 2 regions).
//
// Metrics: s/sweep, repos/s, ecr-calls/repo (every ECR request, pages and
// writes included: 0.90 compliant x 1 lifecycle read + 0.05 mutable x 3
// (lifecycle, tags, write) + 0.05 missing policy x 2 (lifecycle, write) +
// one page per target of 50 = 1.17), assume-role/target (one AssumeRole per
// member account, cached across its regions; none in the central account:
// (accounts-1) / (2 x accounts)).
func BenchmarkSweepOrganization(b *testing.B) {
	moto := testenv.StartMoto(b)
	ctx := context.Background()
	direct := moto.AWSConfig(b, moto.URL())
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		b.Fatal(err)
	}

	accounts := make([]string, orgAccounts)
	accounts[0] = "123456789012" // the central account, swept with the function's own role
	for i := 1; i < orgAccounts; i++ {
		accounts[i] = fmt.Sprintf("2000000000%02d", i)
	}
	// The registries in target order (accounts, then regions), as the
	// Resolver lists them: the first n accounts are the first 2n.
	var registry []*ecr.Client
	for _, a := range accounts {
		for _, r := range regions {
			registry = append(registry, ecr.NewFromConfig(moto.AccountConfig(b, moto.URL(), a, r)))
		}
	}
	start := time.Now()
	seedOrganization(b, registry, baseline.Text())
	b.Logf("seeded %d registries x %d repositories in %s", len(registry), reposPerTarget, time.Since(start).Round(time.Millisecond))

	topic, err := sns.NewFromConfig(direct).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("ecr-guard-bench")})
	if err != nil {
		b.Fatal(err)
	}
	env := scenario.Env()
	env["SNS_TOPIC_ARN"] = aws.ToString(topic.TopicArn)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	proxy := testenv.NewProxy(b, moto.URL())
	via := moto.AWSConfig(b, proxy.URL())
	scope := guard.Scope{Partition: "aws", Account: accounts[0], Region: "us-east-1", Organization: true, Regions: regions}
	discard := slog.New(slog.NewJSONHandler(io.Discard, nil))

	for _, n := range []int{5, 10, orgAccounts} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			swept := accounts[:n]
			nTargets := len(swept) * len(regions)
			repos := nTargets * reposPerTarget
			var sweeps, ecrCalls, assumed int
			ops := map[string]int{}
			for b.Loop() {
				b.StopTimer()
				breakOrganization(b, registry[:nTargets])
				// A cold Resolver: no credentials cached from the last sweep.
				resolver := registries.New(via, func(context.Context) (guard.Scope, error) { return scope, nil },
					registries.Options{MemberRole: "ecr-guard-member"})
				emf := metrics.NewEMF(io.Discard, "sweep", time.Now)
				s := sweep.New(targets.New(via, resolver, scope, swept), reconcile.New(resolver, cfg.Rules, emf, time.Now),
					notify.New(snspub.New(sns.NewFromConfig(via), cfg.TopicARN), emf),
					oneLink{}, emf, discard, sweep.Options{Scope: scope})
				proxy.Reset()
				b.StartTimer()

				res, err := s.Handle(ctx, sweep.Payload{})

				b.StopTimer()
				c := res.Counts
				if err != nil || res.Status != sweep.StatusComplete || c.Scanned != repos || c.Remediated != repos/20 ||
					c.LifecycleRestored != repos/20 || c.Failed != 0 || proxy.Count("sns.Publish") != 1 {
					b.Fatalf("sweep of %d accounts: %+v, %d notices, %v", n, res, proxy.Count("sns.Publish"), err)
				}
				sweeps++
				for _, c := range proxy.Calls() {
					if c.Service == "ecr" {
						ecrCalls++
						ops[c.Operation]++
					}
				}
				assumed += proxy.Count("sts.AssumeRole")
				b.StartTimer()
			}
			wall := b.Elapsed().Seconds() / float64(sweeps)
			b.ReportMetric(wall, "s/sweep")
			b.ReportMetric(float64(repos)/wall, "repos/s")
			b.ReportMetric(float64(ecrCalls)/float64(sweeps*repos), "ecr-calls/repo")
			b.ReportMetric(float64(assumed)/float64(sweeps*nTargets), "assume-role/target")
			b.Logf("%d targets, %d repositories, %d sweep(s): ECR calls %v", nTargets, repos, sweeps, ops)
		})
	}
}

// seedOrganization creates every registry's repositories in orgMix's states,
// 16 at a time (moto serves one request at a time; this keeps it busy).
func seedOrganization(b *testing.B, registry []*ecr.Client, baseline string) {
	b.Helper()
	ctx := context.Background()
	type job struct {
		api *ecr.Client
		i   int
	}
	jobs := make(chan job)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for j := range jobs {
				mutability, lifecycle := orgMix(j.i)
				name := aws.String(orgRepoName(j.i % reposPerTarget))
				_, err := j.api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: name, ImageTagMutability: ecrtypes.ImageTagMutability(mutability)})
				if err == nil && lifecycle {
					_, err = j.api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: name, LifecyclePolicyText: aws.String(baseline)})
				}
				if err != nil {
					mu.Lock()
					first = errors.Join(first, fmt.Errorf("seed %s: %w", *name, err))
					mu.Unlock()
				}
			}
		})
	}
	for t, api := range registry {
		for i := range reposPerTarget {
			jobs <- job{api, t*reposPerTarget + i}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// breakOrganization puts the non-compliant repositories of registry back in
// their seeded state (a previous sweep fixed them).
func breakOrganization(b *testing.B, registry []*ecr.Client) {
	b.Helper()
	ctx := context.Background()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for t, api := range registry {
		wg.Go(func() {
			for i := range reposPerTarget {
				mutability, lifecycle := orgMix(t*reposPerTarget + i)
				name := aws.String(orgRepoName(i))
				var err error
				switch {
				case mutability == guard.Mutable:
					_, err = api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: name, ImageTagMutability: ecrtypes.ImageTagMutabilityMutable})
				case !lifecycle:
					_, err = api.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: name})
					var missing *ecrtypes.LifecyclePolicyNotFoundException
					if errors.As(err, &missing) {
						err = nil
					}
				}
				if err != nil {
					mu.Lock()
					first = errors.Join(first, fmt.Errorf("registry %d, %s: %w", t, *name, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
