// Command remediate is the ecr-guard Lambda function for CloudTrail ECR
// events. It only wires configuration, AWS clients and the handler together.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/lambdaenv"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/remediate"
	"github.com/ecr-guard/ecr-guard/internal/securityhub"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		lambdaenv.Fatal(err)
	}
	awsCfg := lambdaenv.AWSConfig()
	// The account is asked of STS in the background: the start-up does not
	// wait for it, the first event does if it must.
	scope := callerid.Start(sts.NewFromConfig(awsCfg), awsCfg.Region, callerid.Targets{Organization: cfg.Organization(), Regions: cfg.TargetRegions})
	// Clients per account and region: the function's own, and in an
	// organization each member's through its member role.
	clients := registries.New(awsCfg, scope.Scope, registries.Options{MemberRole: cfg.Rules.MemberRoleName})
	emf := metrics.NewEMF(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), time.Now)
	log := lambdaenv.Logger(cfg.LogLevel)
	rec := reconcile.New(clients, cfg.Rules, emf, time.Now)
	if cfg.SecurityHub {
		rec.WithFindings(securityhub.New(securityhub.Of(clients.SecurityHub), cfg.Rules, emf, log, time.Now, securityhub.Options{}))
	}
	h := remediate.New(rec,
		notify.New(snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN), emf).WithHTTPSFormat(cfg.HTTPSNoticeFormat),
		emf, scope, log,
	)
	lambda.Start(h.Handle)
}
