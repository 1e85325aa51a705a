// Package config reads ecr-guard's settings from the environment once, at
// cold start, and validates every value so a bad deployment fails loudly.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// Config is the validated configuration of the remediation function.
type Config struct {
	TopicARN string
	LogLevel slog.Level
	Rules    guard.Rules
	// TargetRegions are the regions acted in (TARGET_REGIONS); empty means
	// the function's own region.
	TargetRegions []string
	// HTTPSNoticeFormat is what the notices' https protocol carries
	// (HTTPS_NOTICE_FORMAT): the JSON document, or a chat notification.
	HTTPSNoticeFormat notice.HTTPSFormat
	// SecurityHub imports findings into Security Hub (SECURITY_HUB=on).
	SecurityHub bool
}

// Organization reports whether the function guards an organization's
// accounts (MEMBER_ROLE_NAME is set) rather than its own account only.
func (c Config) Organization() bool { return c.Rules.MemberRoleName != "" }

// ecrFilterPattern is the pattern ECR enforces on
// ImageTagMutabilityExclusionFilter.filter, whose length is 1 to 128
// (checked apart: a counted repetition compiles into a program as long as
// the count, at every cold start).
var ecrFilterPattern = regexp.MustCompile(`^[0-9a-zA-Z._*-]+$`)

// The pattern of IAM role names (and 1 to 64 long).
var roleNamePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)

// Load parses the environment through getenv (os.Getenv in production).
// The error names the variable at fault.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name string, err error) { errs = append(errs, fmt.Errorf("%s: %w", name, err)) }
	valueOr := func(name, def string) string {
		if v, ok := lookup(getenv, name); ok {
			return v
		}
		return def
	}

	var c Config
	c.TopicARN = strings.TrimSpace(getenv("SNS_TOPIC_ARN"))
	if c.TopicARN == "" {
		bad("SNS_TOPIC_ARN", errors.New("is required"))
	} else if a, err := arn.Parse(c.TopicARN); err != nil || a.Service != "sns" || a.Region == "" || a.AccountID == "" {
		bad("SNS_TOPIC_ARN", fmt.Errorf("%q is not an SNS topic ARN", c.TopicARN))
	}

	c.Rules.SelfRoleARNs = splitList(getenv("SELF_ROLE_ARN"))
	for _, role := range c.Rules.SelfRoleARNs {
		if a, err := arn.Parse(role); err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
			bad("SELF_ROLE_ARN", fmt.Errorf("%q is not an IAM role ARN", role))
		}
	}

	var err error
	if c.Rules.ExemptTags, err = parseExemptTags(valueOr("EXEMPT_TAGS", "environment=dev")); err != nil {
		bad("EXEMPT_TAGS", err)
	}
	c.Rules.ExemptRepositoryPatterns = splitList(getenv("EXEMPT_REPOSITORY_PATTERNS"))
	c.Rules.ExemptionExpiresTag = strings.TrimSpace(valueOr("EXEMPTION_EXPIRES_TAG", "exemption-expires"))

	c.Rules.AllowedMutableTagFilters = splitList(getenv("ALLOWED_MUTABLE_TAG_FILTERS"))
	for _, f := range c.Rules.AllowedMutableTagFilters {
		switch {
		case len(f) > 128 || !ecrFilterPattern.MatchString(f):
			bad("ALLOWED_MUTABLE_TAG_FILTERS", fmt.Errorf("filter %q is not a valid ECR wildcard filter (1-128 of 0-9 a-z A-Z . _ * -)", f))
		case strings.Trim(f, "*") == "":
			// It matches every tag: IMMUTABLE_WITH_EXCLUSION with it is
			// MUTABLE under another name.
			bad("ALLOWED_MUTABLE_TAG_FILTERS", fmt.Errorf("filter %q matches every tag, which would leave every tag overwritable", f))
		}
	}

	policy := guard.DefaultLifecyclePolicy
	if v := strings.TrimSpace(getenv("LIFECYCLE_POLICY")); v != "" {
		policy = v
	}
	if c.Rules.Baseline, err = guard.ParseLifecyclePolicy(policy); err != nil {
		bad("LIFECYCLE_POLICY", fmt.Errorf("ECR would reject this policy: %w", err))
	}
	if c.Rules.LifecycleMode, err = guard.ParseLifecycleMode(strings.ToLower(valueOr("LIFECYCLE_MODE", "enforce"))); err != nil {
		bad("LIFECYCLE_MODE", err)
	}
	if c.Rules.DryRun, err = parseBool(valueOr("DRY_RUN", "false")); err != nil {
		bad("DRY_RUN", err)
	}
	if err := c.LogLevel.UnmarshalText([]byte(valueOr("LOG_LEVEL", "INFO"))); err != nil {
		bad("LOG_LEVEL", fmt.Errorf("want DEBUG, INFO, WARN or ERROR: %w", err))
	}
	c.Rules.MemberRoleName = strings.TrimSpace(getenv("MEMBER_ROLE_NAME"))
	if c.Rules.MemberRoleName != "" && (len(c.Rules.MemberRoleName) > 64 || !roleNamePattern.MatchString(c.Rules.MemberRoleName)) {
		bad("MEMBER_ROLE_NAME", fmt.Errorf("%q is not an IAM role name (1-64 of a-z A-Z 0-9 + = , . @ _ -)", c.Rules.MemberRoleName))
	}
	c.TargetRegions = splitList(getenv("TARGET_REGIONS"))
	for _, r := range c.TargetRegions {
		if !guard.ValidRegion(r) {
			bad("TARGET_REGIONS", fmt.Errorf("%q is not an AWS region name", r))
		}
	}
	if c.HTTPSNoticeFormat, err = notice.ParseHTTPSFormat(getenv("HTTPS_NOTICE_FORMAT")); err != nil {
		bad("HTTPS_NOTICE_FORMAT", err)
	}
	switch v := strings.ToLower(valueOr("SECURITY_HUB", "off")); v {
	case "on":
		c.SecurityHub = true
	case "off":
	default:
		bad("SECURITY_HUB", fmt.Errorf("%q: want on or off", v))
	}
	if c.Rules.RootTemplateMode, err = guard.ParseRootTemplateMode(strings.ToLower(valueOr("ROOT_TEMPLATE", string(guard.RootTemplateReport)))); err != nil {
		bad("ROOT_TEMPLATE", err)
	}
	// CREATE_ON_PUSH is not in the default: a ROOT template applied for it
	// turns create-on-push on for the whole registry.
	c.Rules.RootTemplateAppliedFor = splitList(valueOr("ROOT_TEMPLATE_APPLIED_FOR", guard.AppliedForReplication+","+guard.AppliedForPullThroughCache))
	if err := guard.ParseAppliedFor(c.Rules.RootTemplateAppliedFor); err != nil {
		bad("ROOT_TEMPLATE_APPLIED_FOR", err)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// lookup treats a variable set to blanks like an unset one.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := strings.TrimSpace(getenv(name))
	return v, v != ""
}

// parseExemptTags reads EXEMPT_TAGS; "none" turns exemptions off (a blank
// value means the default, like any other variable's).
func parseExemptTags(s string) ([]guard.TagMatcher, error) {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return nil, nil
	}
	var out []guard.TagMatcher
	for _, pair := range splitList(s) {
		key, value, ok := strings.Cut(pair, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" || value == "" {
			return nil, fmt.Errorf("%q is not a key=value pair (use key=* for any value)", pair)
		}
		out = append(out, guard.TagMatcher{Key: key, Value: value, AnyValue: value == "*"})
	}
	return out, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(strings.ToLower(s))
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Sweep defaults and bounds (SWEEP_CONCURRENCY, SWEEP_MAX_TPS).
const (
	DefaultSweepConcurrency = 8
	MaxSweepConcurrency     = 64
	DefaultSweepMaxTPS      = 20
)

// SweepConfig is the validated configuration of the sweep function: the
// remediation function's settings (same rules, topic, dry run) plus pacing.
type SweepConfig struct {
	Config
	// Concurrency is the number of repositories evaluated at once (1..64).
	Concurrency int
	// MaxTPS caps the ECR requests per second across all workers; 0 means
	// no client-side limit (the SDK's adaptive retry still backs off).
	MaxTPS float64
	// TargetAccounts are the accounts swept in an organization
	// (TARGET_ACCOUNTS); empty means every ACTIVE account of it.
	TargetAccounts []string
}

// LoadSweep parses the environment for the sweep function: everything Load
// reads, plus SWEEP_CONCURRENCY and SWEEP_MAX_TPS. The error names every
// variable at fault.
func LoadSweep(getenv func(string) string) (SweepConfig, error) {
	c, loadErr := Load(getenv)
	var errs []error
	s := SweepConfig{Config: c, Concurrency: DefaultSweepConcurrency, MaxTPS: DefaultSweepMaxTPS}
	if v, ok := lookup(getenv, "SWEEP_CONCURRENCY"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSweepConcurrency {
			errs = append(errs, fmt.Errorf("SWEEP_CONCURRENCY: %q is not a whole number from 1 to %d", v, MaxSweepConcurrency))
		}
		s.Concurrency = n
	}
	if v, ok := lookup(getenv, "SWEEP_MAX_TPS"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			errs = append(errs, fmt.Errorf("SWEEP_MAX_TPS: %q is not a number >= 0 (0 means no limit)", v))
		}
		s.MaxTPS = f
	}
	s.TargetAccounts = splitList(getenv("TARGET_ACCOUNTS"))
	for _, a := range s.TargetAccounts {
		if !guard.ValidAccount(a) {
			errs = append(errs, fmt.Errorf("TARGET_ACCOUNTS: %q is not a 12-digit account id", a))
		}
	}
	if len(s.TargetAccounts) > 0 && !c.Organization() {
		errs = append(errs, errors.New("TARGET_ACCOUNTS: needs MEMBER_ROLE_NAME (the role the sweep assumes in those accounts)"))
	}
	if len(errs) > 0 {
		return SweepConfig{}, errors.Join(loadErr, fmt.Errorf("invalid configuration: %w", errors.Join(errs...)))
	}
	if loadErr != nil {
		return SweepConfig{}, loadErr
	}
	return s, nil
}
