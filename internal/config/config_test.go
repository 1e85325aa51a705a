package config

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

const topic = "arn:aws:sns:us-east-1:123456789012:ecr-guard"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules
	if c.TopicARN != topic || c.LogLevel != slog.LevelInfo {
		t.Errorf("topic %q level %v", c.TopicARN, c.LogLevel)
	}
	if !slices.Equal(r.ExemptTags, []guard.TagMatcher{{Key: "environment", Value: "dev"}}) {
		t.Errorf("exempt tags = %+v", r.ExemptTags)
	}
	if r.ExemptionExpiresTag != "exemption-expires" || r.LifecycleMode != guard.LifecycleEnforce || r.DryRun ||
		len(r.ExemptRepositoryPatterns) != 0 || len(r.AllowedMutableTagFilters) != 0 || len(r.SelfRoleARNs) != 0 {
		t.Errorf("rules = %+v", r)
	}
	if !r.Baseline.Equal(guard.DefaultLifecyclePolicy) {
		t.Error("baseline is not the default policy")
	}
	if c.HTTPSNoticeFormat != notice.HTTPSJSON {
		t.Errorf("https notice format = %q, want json", c.HTTPSNoticeFormat)
	}
	if r.RootTemplateMode != guard.RootTemplateReport || !slices.Equal(r.RootTemplateAppliedFor, []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}) {
		t.Errorf("ROOT template %q %v, want report, REPLICATION and PULL_THROUGH_CACHE (not CREATE_ON_PUSH)", r.RootTemplateMode, r.RootTemplateAppliedFor)
	}
}

// EXEMPT_TAGS=none turns exemptions off; blank is the default, as for any
// variable; a filter with a literal part is still allowed.
func TestLoadExemptTagsNoneAndPartialWildcardFilters(t *testing.T) {
	for _, v := range []string{"none", " NONE "} {
		c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic, "EXEMPT_TAGS": v, "ALLOWED_MUTABLE_TAG_FILTERS": "latest,dev-*,*-snapshot"}))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Rules.ExemptTags) != 0 || !slices.Equal(c.Rules.AllowedMutableTagFilters, []string{"latest", "dev-*", "*-snapshot"}) {
			t.Errorf("EXEMPT_TAGS=%q: exempt tags %+v, filters %v", v, c.Rules.ExemptTags, c.Rules.AllowedMutableTagFilters)
		}
		if e := c.Rules.Exemption("prod/payments", []guard.Tag{{Key: "environment", Value: "dev"}}, time.Now()); e.Active() {
			t.Errorf("EXEMPT_TAGS=%q: a repository tagged environment=dev is exempt: %+v", v, e)
		}
	}
	c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic, "EXEMPT_TAGS": "  "}))
	if err != nil || !slices.Equal(c.Rules.ExemptTags, []guard.TagMatcher{{Key: "environment", Value: "dev"}}) {
		t.Errorf("EXEMPT_TAGS blank: %+v, %v; want the default", c.Rules.ExemptTags, err)
	}
}

func TestLoadRootTemplate(t *testing.T) {
	c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic, "ROOT_TEMPLATE": " Ensure ", "ROOT_TEMPLATE_APPLIED_FOR": "REPLICATION, CREATE_ON_PUSH"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rules.RootTemplateMode != guard.RootTemplateEnsure || !slices.Equal(c.Rules.RootTemplateAppliedFor, []string{guard.AppliedForReplication, guard.AppliedForCreateOnPush}) {
		t.Errorf("ROOT template %q %v", c.Rules.RootTemplateMode, c.Rules.RootTemplateAppliedFor)
	}
}

func TestLoadHTTPSNoticeFormat(t *testing.T) {
	for value, want := range map[string]notice.HTTPSFormat{"": notice.HTTPSJSON, " ": notice.HTTPSJSON, "json": notice.HTTPSJSON, "chat": notice.HTTPSChat, " Chat ": notice.HTTPSChat} {
		c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic, "HTTPS_NOTICE_FORMAT": value}))
		if err != nil || c.HTTPSNoticeFormat != want {
			t.Errorf("HTTPS_NOTICE_FORMAT=%q: %q, %v; want %q", value, c.HTTPSNoticeFormat, err, want)
		}
	}
	s, err := LoadSweep(env(map[string]string{"SNS_TOPIC_ARN": topic, "HTTPS_NOTICE_FORMAT": "chat"}))
	if err != nil || s.HTTPSNoticeFormat != notice.HTTPSChat {
		t.Errorf("sweep: %q, %v; want chat", s.HTTPSNoticeFormat, err)
	}
}

func TestLoadSecurityHub(t *testing.T) {
	for value, want := range map[string]bool{"": false, "off": false, "on": true, " ON ": true} {
		c, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic, "SECURITY_HUB": value}))
		if err != nil || c.SecurityHub != want {
			t.Errorf("SECURITY_HUB=%q: %v, %v; want %v", value, c.SecurityHub, err, want)
		}
	}
}

func TestLoadAll(t *testing.T) {
	policy := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}}]}`
	c, err := Load(env(map[string]string{
		"SNS_TOPIC_ARN":               topic,
		"SELF_ROLE_ARN":               "arn:aws:iam::123456789012:role/ecr-guard, arn:aws:iam::123456789012:role/ecr-guard-sweep",
		"EXEMPT_TAGS":                 "environment=dev, sandbox=*",
		"EXEMPT_REPOSITORY_PATTERNS":  "sandbox/*, *-dev",
		"EXEMPTION_EXPIRES_TAG":       "expires",
		"ALLOWED_MUTABLE_TAG_FILTERS": "latest,sha256-*.sig",
		"LIFECYCLE_POLICY":            policy,
		"LIFECYCLE_MODE":              "missing",
		"DRY_RUN":                     "true",
		"LOG_LEVEL":                   "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules
	if !slices.Equal(r.ExemptTags, []guard.TagMatcher{{Key: "environment", Value: "dev"}, {Key: "sandbox", Value: "*", AnyValue: true}}) {
		t.Errorf("exempt tags = %+v", r.ExemptTags)
	}
	if !slices.Equal(r.ExemptRepositoryPatterns, []string{"sandbox/*", "*-dev"}) || !slices.Equal(r.AllowedMutableTagFilters, []string{"latest", "sha256-*.sig"}) {
		t.Errorf("lists = %v %v", r.ExemptRepositoryPatterns, r.AllowedMutableTagFilters)
	}
	if r.ExemptionExpiresTag != "expires" || r.LifecycleMode != guard.LifecycleMissing || !r.DryRun ||
		!slices.Equal(r.SelfRoleARNs, []string{"arn:aws:iam::123456789012:role/ecr-guard", "arn:aws:iam::123456789012:role/ecr-guard-sweep"}) || c.LogLevel != slog.LevelDebug || r.Baseline.Text() != policy {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadRejectsBadValuesNamingTheVariable(t *testing.T) {
	tests := []struct {
		name, variable, value, want string
	}{
		{"missing topic", "SNS_TOPIC_ARN", "", "SNS_TOPIC_ARN: is required"},
		{"topic not an ARN", "SNS_TOPIC_ARN", "ecr-guard", "SNS_TOPIC_ARN"},
		{"pair without =", "EXEMPT_TAGS", "environment", `EXEMPT_TAGS: "environment" is not a key=value pair`},
		{"pair without key", "EXEMPT_TAGS", "=dev", "EXEMPT_TAGS"},
		{"unknown mode", "LIFECYCLE_MODE", "sometimes", `LIFECYCLE_MODE: unknown mode "sometimes"`},
		{"filter ECR rejects", "ALLOWED_MUTABLE_TAG_FILTERS", "latest,release/*", `ALLOWED_MUTABLE_TAG_FILTERS: filter "release/*"`},
		{"filter too long", "ALLOWED_MUTABLE_TAG_FILTERS", strings.Repeat("a", 129), "ALLOWED_MUTABLE_TAG_FILTERS"},
		{"filter of every tag", "ALLOWED_MUTABLE_TAG_FILTERS", "latest,*", `ALLOWED_MUTABLE_TAG_FILTERS: filter "*" matches every tag`},
		{"filter of every tag, twice", "ALLOWED_MUTABLE_TAG_FILTERS", "**", `ALLOWED_MUTABLE_TAG_FILTERS: filter "**" matches every tag`},
		{"policy ECR rejects", "LIFECYCLE_POLICY", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}`, "LIFECYCLE_POLICY: ECR would reject this policy"},
		{"policy not JSON", "LIFECYCLE_POLICY", "{rules", "LIFECYCLE_POLICY"},
		{"dry run not a bool", "DRY_RUN", "maybe", `DRY_RUN: "maybe" is not true or false`},
		{"log level", "LOG_LEVEL", "LOUD", "LOG_LEVEL"},
		{"self role not an ARN", "SELF_ROLE_ARN", "ecr-guard-role", "SELF_ROLE_ARN"},
		{"unknown https notice format", "HTTPS_NOTICE_FORMAT", "slack", `HTTPS_NOTICE_FORMAT: "slack" is not json or chat`},
		{"security hub not on or off", "SECURITY_HUB", "yes", `SECURITY_HUB: "yes": want on or off`},
		{"unknown root template mode", "ROOT_TEMPLATE", "always", `ROOT_TEMPLATE: unknown mode "always"`},
		{"unknown appliedFor", "ROOT_TEMPLATE_APPLIED_FOR", "REPLICATION,PUSH", `ROOT_TEMPLATE_APPLIED_FOR: unknown appliedFor "PUSH"`},
		{"self role a user", "SELF_ROLE_ARN", "arn:aws:iam::123456789012:role/ecr-guard,arn:aws:iam::123456789012:user/mallory", `SELF_ROLE_ARN: "arn:aws:iam::123456789012:user/mallory" is not an IAM role ARN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"SNS_TOPIC_ARN": topic, tt.variable: tt.value}
			_, err := Load(env(vars))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadOrganization(t *testing.T) {
	c, err := LoadSweep(env(map[string]string{
		"SNS_TOPIC_ARN": topic, "MEMBER_ROLE_NAME": "ecr-guard-member",
		"TARGET_REGIONS": "us-east-1, eu-west-1", "TARGET_ACCOUNTS": "222222222222,333333333333",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Organization() || c.Rules.MemberRoleName != "ecr-guard-member" || !slices.Equal(c.TargetRegions, []string{"us-east-1", "eu-west-1"}) ||
		!slices.Equal(c.TargetAccounts, []string{"222222222222", "333333333333"}) {
		t.Fatalf("config = %+v", c)
	}
	single, err := Load(env(map[string]string{"SNS_TOPIC_ARN": topic}))
	if err != nil || single.Organization() || len(single.TargetRegions) != 0 {
		t.Fatalf("without MEMBER_ROLE_NAME nothing changes: %+v %v", single, err)
	}
	for name, tt := range map[string]struct{ variable, value, want string }{
		"role name with a slash":         {"MEMBER_ROLE_NAME", "team/ecr-guard", "MEMBER_ROLE_NAME"},
		"role name of 65 characters":     {"MEMBER_ROLE_NAME", strings.Repeat("r", 65), "MEMBER_ROLE_NAME"},
		"region that is not one":         {"TARGET_REGIONS", "us-east-1,mars-1", `TARGET_REGIONS: "mars-1"`},
		"account id of 11 digits":        {"TARGET_ACCOUNTS", "22222222222", `TARGET_ACCOUNTS: "22222222222"`},
		"accounts without a member role": {"MEMBER_ROLE_NAME", "", "TARGET_ACCOUNTS: needs MEMBER_ROLE_NAME"},
	} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"SNS_TOPIC_ARN": topic, "MEMBER_ROLE_NAME": "ecr-guard-member", "TARGET_ACCOUNTS": "222222222222", tt.variable: tt.value}
			if _, err := LoadSweep(env(vars)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
