// Command remediate is the ecr-guard Lambda function for CloudTrail ECR
// events. It only wires configuration, AWS clients and the handler together.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// Adaptive retries back off on throttling; the invocation deadline
	// (carried by the context) bounds them.
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRetryMode(aws.RetryModeAdaptive))
	if err != nil {
		fatal(err)
	}
	h := remediate.New(
		ecrrepo.New(ecr.NewFromConfig(awsCfg)),
		snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN),
		metrics.NewEMF(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), time.Now),
		cfg.Rules, log, time.Now,
	)
	lambda.Start(h.Handle)
}

// fatal stops the cold start with one clear JSON log line.
func fatal(err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "error", err.Error())
	os.Exit(1)
}
