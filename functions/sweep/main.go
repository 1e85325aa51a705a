// Command sweep is the ecr-guard Lambda function for the scheduled sweep of
// every repository. It only wires configuration, AWS clients and the sweeper
// (internal/sweep) together.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	lambdaapi "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/lambdaenv"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
)

func main() {
	cfg, err := config.LoadSweep(os.Getenv)
	if err != nil {
		lambdaenv.Fatal(err)
	}
	log := lambdaenv.Logger(cfg.LogLevel)
	awsCfg := lambdaenv.AWSConfig()
	scope, err := callerid.Scope(context.Background(), sts.NewFromConfig(awsCfg), awsCfg.Region)
	if err != nil {
		lambdaenv.Fatal(fmt.Errorf("cannot tell the function's own account: %w", err))
	}
	// One limiter for every ECR request attempt of every worker; burst 1, so
	// no second holds more than SWEEP_MAX_TPS requests.
	var limiter *rate.Limiter
	if cfg.MaxTPS > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.MaxTPS), 1)
	}
	function := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	s := sweep.New(
		ecrrepo.New(ecr.NewFromConfig(awsCfg, ecrrepo.WithRateLimit(limiter))),
		snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN),
		selfInvoker{api: lambdaapi.NewFromConfig(awsCfg), function: function},
		metrics.NewEMF(os.Stdout, function, time.Now),
		cfg.Rules, log,
		sweep.Options{Concurrency: cfg.Concurrency, Account: scope.Account, Region: scope.Region, Now: time.Now},
	)
	log.Info("sweep function ready", "function", function, "concurrency", cfg.Concurrency, "max_tps", cfg.MaxTPS,
		"lifecycle_mode", cfg.Rules.LifecycleMode, "dry_run", cfg.Rules.DryRun)
	lambda.Start(s.Handle)
}

// selfInvoker starts the next link of a sweep: an asynchronous invocation
// of this function (the role may invoke only itself).
type selfInvoker struct {
	api      *lambdaapi.Client
	function string
}

func (i selfInvoker) Continue(ctx context.Context, p sweep.Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode the continuation: %w", err)
	}
	_, err = i.api.Invoke(ctx, &lambdaapi.InvokeInput{
		FunctionName:   aws.String(i.function),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        body,
	})
	if err != nil {
		return fmt.Errorf("invoke %s asynchronously: %w", i.function, err)
	}
	return nil
}
