// Command remediate is the ecr-guard Lambda function for CloudTrail ECR
// events. It only wires configuration, AWS clients and the handler together.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/lambdaenv"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		lambdaenv.Fatal(err)
	}
	awsCfg := lambdaenv.AWSConfig()
	scope, err := callerid.Scope(context.Background(), sts.NewFromConfig(awsCfg), awsCfg.Region)
	if err != nil {
		lambdaenv.Fatal(fmt.Errorf("cannot tell the function's own account: %w", err))
	}
	h := remediate.New(
		ecrrepo.New(ecr.NewFromConfig(awsCfg)),
		snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN),
		metrics.NewEMF(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), time.Now),
		cfg.Rules, scope, lambdaenv.Logger(cfg.LogLevel), time.Now,
	)
	lambda.Start(h.Handle)
}
