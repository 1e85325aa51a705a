// Command sweep is the ecr-guard Lambda function for the scheduled sweep of
// every repository. It only wires configuration, AWS clients and the sweeper
// (internal/sweep) together.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	lambdaapi "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/lambdaenv"
	"github.com/ecr-guard/ecr-guard/internal/lambdainvoke"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/securityhub"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
	"github.com/ecr-guard/ecr-guard/internal/targets"
)

func main() {
	cfg, err := config.LoadSweep(os.Getenv)
	if err != nil {
		lambdaenv.Fatal(err)
	}
	log := lambdaenv.Logger(cfg.LogLevel)
	awsCfg := lambdaenv.AWSConfig()
	// The sweep's start-up time does not matter: it asks STS now.
	scope, err := callerid.Scope(context.Background(), sts.NewFromConfig(awsCfg), awsCfg.Region,
		callerid.Targets{Organization: cfg.Organization(), Regions: cfg.TargetRegions})
	if err != nil {
		lambdaenv.Fatal(fmt.Errorf("cannot tell the function's own account: %w", err))
	}
	clients := registries.New(awsCfg, func(context.Context) (guard.Scope, error) { return scope, nil }, registries.Options{
		MemberRole: cfg.Rules.MemberRoleName,
		// ECR's quotas are per account and region: one limiter per target
		// (one client each) for every request attempt of every worker;
		// burst 1, so no second holds more than SWEEP_MAX_TPS requests.
		ECR: func(string, string) []func(*ecr.Options) {
			if cfg.MaxTPS == 0 {
				return nil
			}
			return []func(*ecr.Options){ecrrepo.WithRateLimit(rate.NewLimiter(rate.Limit(cfg.MaxTPS), 1))}
		},
	})
	function := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	emf := metrics.NewEMF(os.Stdout, function, time.Now)
	rec := reconcile.New(clients, cfg.Rules, emf, time.Now)
	if cfg.SecurityHub {
		rec.WithFindings(securityhub.New(securityhub.Of(clients.SecurityHub), cfg.Rules, emf, log, time.Now, securityhub.Options{Batch: true}))
	}
	s := sweep.New(
		targets.New(awsCfg, clients, scope, cfg.TargetAccounts),
		rec,
		notify.New(snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN), emf).WithHTTPSFormat(cfg.HTTPSNoticeFormat),
		// The next link: an asynchronous invocation of this function (the
		// role may invoke only itself).
		lambdainvoke.New[sweep.Payload](lambdaapi.NewFromConfig(awsCfg), function),
		emf, log,
		sweep.Options{Concurrency: cfg.Concurrency, Scope: scope, Now: time.Now},
	)
	log.Info("sweep function ready", "function", function, "concurrency", cfg.Concurrency, "max_tps", cfg.MaxTPS,
		"lifecycle_mode", cfg.Rules.LifecycleMode, "dry_run", cfg.Rules.DryRun, "security_hub", cfg.SecurityHub)
	lambda.Start(s.Handle)
}
