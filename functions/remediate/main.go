// Command remediate is the ecr-guard Lambda function for CloudTrail ECR
// events. It only wires configuration, AWS clients and the handler together.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/lambdaenv"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
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
	h := remediate.New(
		reconcile.New(clients, cfg.Rules, emf, time.Now),
		notify.New(notice.WithHTTPSFormat(snspub.New(sns.NewFromConfig(awsCfg), cfg.TopicARN), cfg.HTTPSNoticeFormat), emf),
		emf, scope, lambdaenv.Logger(cfg.LogLevel),
	)
	if cfg.SecurityHub {
		h.WithFindings(securityhub.New(hubClients(clients), cfg.Rules, emf, lambdaenv.Logger(cfg.LogLevel), time.Now, securityhub.Options{}))
	}
	lambda.Start(h.Handle)
}

// hubClients gives Security Hub clients with the registries' credentials.
func hubClients(r *registries.Resolver) securityhub.Clients {
	return securityhub.ClientsFunc(func(ctx context.Context, account, region string) (securityhub.API, error) {
		return r.SecurityHub(ctx, account, region)
	})
}
