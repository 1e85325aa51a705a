// Command audit is make audit: the registry's state as ecr-guard sees it,
// from a laptop, before deploying anything or when an auditor asks. With
// the caller's own AWS credentials and region it runs the sweep's read-only
// path: the sweep's targets (internal/registries, MEMBER_ROLE_NAME and
// TARGET_ACCOUNTS/TARGET_REGIONS as in the functions), each target's
// repository creation templates and then its pages of repositories, and for
// every template and repository the functions' reconcile step in a dry run,
// with the rules the functions read from the environment (EXEMPT_TAGS,
// LIFECYCLE_POLICY, ROOT_TEMPLATE, ...). It writes nothing. It prints one
// row per template and repository, and one for a registry without a ROOT
// template unless ROOT_TEMPLATE=off (--format table, json or csv), and
// progress lines on stderr.
//
// Exit status: 0 when nothing needs attention, 3 when ecr-guard would
// change something or reports something (a missing ROOT template under
// ROOT_TEMPLATE=report), 1 when a repository, template or registry could
// not be read (the report still lists everything else) or the audit could
// not start, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/time/rate"

	"github.com/ecr-guard/ecr-guard/internal/callerid"
	"github.com/ecr-guard/ecr-guard/internal/config"
	"github.com/ecr-guard/ecr-guard/internal/ecrrepo"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/registries"
	"github.com/ecr-guard/ecr-guard/internal/targets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: flags in args, settings through getenv (the AWS SDK
// reads its own from the process environment, as it does in the functions).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("audit", flag.ContinueOnError)
	flags.SetOutput(stderr)
	format := flags.String("format", "table", "output format: "+strings.Join(formats, ", "))
	quiet := flags.Bool("quiet", false, "no progress lines on stderr")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: make audit [ARGS=\"--format table|json|csv --quiet\"]\n"+
			"exit status: 0 nothing needs attention, 3 something would change or is reported, 1 something could not be read, 2 bad flags")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitCompliant
		}
		return ExitUsage
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "audit: "+format+"\n", args...)
		flags.Usage()
		return ExitUsage
	}
	if flags.NArg() > 0 {
		return usage("unexpected arguments %q", flags.Args())
	}
	if !slices.Contains(formats, *format) {
		return usage("unknown format %q (want %s)", *format, strings.Join(formats, ", "))
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return ExitError
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		return fail(err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryMode(aws.RetryModeAdaptive))
	if err != nil {
		return fail(err)
	}
	scope, err := callerid.Scope(ctx, sts.NewFromConfig(awsCfg), awsCfg.Region,
		callerid.Targets{Organization: cfg.Organization(), Regions: cfg.TargetRegions})
	if err != nil {
		return fail(fmt.Errorf("cannot tell your account: %w", err))
	}
	// The sweep's resolver and limits, as functions/sweep wires them.
	clients := registries.New(awsCfg, func(context.Context) (guard.Scope, error) { return scope, nil }, registries.Options{
		MemberRole: cfg.Rules.MemberRoleName,
		ECR: func(string, string) []func(*ecr.Options) {
			if cfg.MaxTPS == 0 {
				return nil
			}
			return []func(*ecr.Options){ecrrepo.WithRateLimit(rate.NewLimiter(rate.Limit(cfg.MaxTPS), 1))}
		},
	})
	a := &Auditor{
		Lister:      targets.New(awsCfg, clients, scope, cfg.TargetAccounts),
		Reconciler:  reconcile.New(clients, cfg.Rules, noMetrics{}, time.Now),
		Partition:   scope.Partition,
		Concurrency: cfg.Concurrency,
	}
	if !*quiet {
		a.Progress = stderr
	}
	report, err := a.Run(ctx)
	if err != nil {
		return fail(err)
	}
	if err := report.Write(stdout, *format); err != nil {
		return fail(err)
	}
	return report.ExitCode()
}

// noMetrics: the audit publishes no metrics.
type noMetrics struct{}

func (noMetrics) Count(string, string, int) {}

// loadConfig reads the sweep function's settings (config.LoadSweep: the
// rules, MEMBER_ROLE_NAME, TARGET_ACCOUNTS, TARGET_REGIONS, SWEEP_CONCURRENCY,
// SWEEP_MAX_TPS) without requiring a topic: the audit publishes nothing, so
// SNS_TOPIC_ARN is replaced by a placeholder that is never used. DRY_RUN is
// irrelevant: the audit always runs dry.
func loadConfig(getenv func(string) string) (config.SweepConfig, error) {
	return config.LoadSweep(func(name string) string {
		if name == "SNS_TOPIC_ARN" {
			return "arn:aws:sns:us-east-1:000000000000:unused-by-audit"
		}
		return getenv(name)
	})
}
