// Package lambdaenv holds the start-up steps both functions share: the JSON
// logger, the AWS SDK configuration and failing a cold start loudly.
package lambdaenv

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Logger writes JSON records to stdout, where Lambda collects them.
func Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}

// AWSConfig loads the SDK configuration from the environment (so
// AWS_ENDPOINT_URL points the functions at moto in tests and the demo) with
// adaptive retries, which back off on throttling; the invocation deadline,
// carried by each call's context, bounds them.
func AWSConfig() aws.Config {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRetryMode(aws.RetryModeAdaptive))
	if err != nil {
		Fatal(err)
	}
	return cfg
}

// Fatal stops the cold start with one clear JSON log line.
func Fatal(err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "error", err.Error())
	os.Exit(1)
}
