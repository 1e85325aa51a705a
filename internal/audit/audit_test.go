package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var (
	moto *testenv.Moto
	// binary is the command, built once as make audit builds it.
	binary string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecr-guard-audit")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "audit")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	testenv.RunWithMoto(removing{m, dir}, &moto)
}

// removing runs the tests, then removes the binary (RunWithMoto exits).
type removing struct {
	m   *testing.M
	dir string
}

func (r removing) Run() int {
	defer os.RemoveAll(r.dir)
	return r.m.Run()
}

// repo is a repository to create: its mutability, filters, tags and
// lifecycle policy ("" none, "baseline", or the text).
type repo struct {
	name       string
	mutability string
	filters    []string
	tags       map[string]string
	lifecycle  string
}

// otherPolicy is a valid lifecycle policy that is not the baseline.
const otherPolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`

// teamPolicy is a team's rule of its own followed by the baseline's rules:
// what LIFECYCLE_MODE=contains leaves as it is, and enforce replaces.
const teamPolicy = `{"rules":[` +
	`{"rulePriority":1,"description":"Keep 100 prod images","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},` +
	`{"rulePriority":2,"description":"Expire untagged images 7 days after push","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},` +
	`{"rulePriority":3,"description":"Keep only the 30 most recent images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`

func seed(t *testing.T, account, region string, repos ...repo) {
	t.Helper()
	ctx := context.Background()
	api := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), account, region))
	for _, r := range repos {
		in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(r.name), ImageTagMutability: ecrtypes.ImageTagMutability(r.mutability),
			ImageTagMutabilityExclusionFilters: exclusionFilters(r.filters), Tags: tags(r.tags)}
		if _, err := api.CreateRepository(ctx, in); err != nil {
			t.Fatal(err)
		}
		if text := policy(r.lifecycle); text != nil {
			if _, err := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(r.name), LifecyclePolicyText: text}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// template is a repository creation template to create: its prefix,
// appliedFor, and the rest as a repo's.
type template struct {
	prefix     string
	appliedFor []string
	mutability string
	filters    []string
	tags       map[string]string
	lifecycle  string
}

// seedTemplates creates templates with the SDK through proxy: moto 5.2.1 has
// no repository creation template API, so the proxy serves it from a fake
// speaking ECR's wire format (internal/testenv/templates.go), whose
// templates are that proxy's. The seeding calls are then forgotten, so that
// readOnly sees the audit's calls only.
func seedTemplates(t *testing.T, proxy *testenv.Proxy, account, region string, templates ...template) {
	t.Helper()
	api := ecr.NewFromConfig(moto.AccountConfig(t, proxy.URL(), account, region))
	for _, tm := range templates {
		in := &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String(tm.prefix),
			ImageTagMutability: ecrtypes.ImageTagMutability(tm.mutability), ImageTagMutabilityExclusionFilters: exclusionFilters(tm.filters),
			ResourceTags: tags(tm.tags), LifecyclePolicy: policy(tm.lifecycle)}
		for _, a := range tm.appliedFor {
			in.AppliedFor = append(in.AppliedFor, ecrtypes.RCTAppliedFor(a))
		}
		if _, err := api.CreateRepositoryCreationTemplate(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Reset()
}

func exclusionFilters(filters []string) []ecrtypes.ImageTagMutabilityExclusionFilter {
	var out []ecrtypes.ImageTagMutabilityExclusionFilter
	for _, f := range filters {
		out = append(out, ecrtypes.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	return out
}

// tags in key order, so that runs are alike.
func tags(m map[string]string) []ecrtypes.Tag {
	var out []ecrtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// policy is the text of a lifecycle policy given as "" (none), "baseline"
// or the text.
func policy(lifecycle string) *string {
	switch lifecycle {
	case "":
		return nil
	case "baseline":
		return aws.String(guard.DefaultLifecyclePolicy)
	}
	return aws.String(lifecycle)
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// audit runs the built command against moto through proxy, in region, with
// env added to a clean environment (nothing of the caller's AWS settings).
func audit(t *testing.T, proxy *testenv.Proxy, region string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(moto.Env(proxy.URL()), "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// readOnly fails unless every call the command made was a read: ECR
// Describe*/List*/Get* (DescribeRepositoryCreationTemplates among them), STS
// GetCallerIdentity and AssumeRole.
func readOnly(t *testing.T, proxy *testenv.Proxy) {
	t.Helper()
	read := regexp.MustCompile(`^(ecr\.(Describe|List|Get)\w+|sts\.(GetCallerIdentity|AssumeRole))$`)
	if len(proxy.Calls()) == 0 {
		t.Fatal("no calls recorded")
	}
	for _, c := range proxy.Calls() {
		if op := c.Service + "." + c.Operation; !read.MatchString(op) {
			t.Errorf("a call that is not a read: %s %s", op, c.Body)
		}
	}
	for _, op := range []string{"PutImageTagMutability", "PutLifecyclePolicy", "TagResource", "Publish",
		"CreateRepositoryCreationTemplate", "UpdateRepositoryCreationTemplate", "DeleteRepositoryCreationTemplate"} {
		if n := proxy.Count(op); n != 0 {
			t.Errorf("%d %s calls", n, op)
		}
	}
}

// The registry of the README's example, in us-east-1 of moto's default
// account: every state the audit tells apart.
var example = []repo{
	{name: "team-a/api", mutability: guard.Immutable, lifecycle: "baseline"},
	{name: "team-a/web", mutability: guard.Mutable, lifecycle: "baseline"},
	{name: "team-b/signed", mutability: guard.ImmutableWithExclusion, filters: []string{"latest", "sha256-*.sig"}, lifecycle: otherPolicy},
	{name: "team-b/worker", mutability: guard.Immutable},
	{name: "sandbox/tool", mutability: guard.Mutable, tags: map[string]string{"environment": "dev", "exemption-expires": "2099-12-31"}, lifecycle: "baseline"},
	{name: "sandbox/old", mutability: guard.Mutable, tags: map[string]string{"environment": "dev", "exemption-expires": "2020-01-31"}, lifecycle: "baseline"},
}

// exampleTemplates are the example registry's repository creation
// templates: a compliant one, an exempt one, a MUTABLE one without
// lifecycle policy, and no ROOT template (ROOT_TEMPLATE=report by default).
var exampleTemplates = []template{
	{prefix: "team-a", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: "baseline"},
	{prefix: "sandbox", appliedFor: []string{guard.AppliedForCreateOnPush}, mutability: guard.Mutable,
		tags: map[string]string{"environment": "dev", "exemption-expires": "2099-12-31"}, lifecycle: "baseline"},
	{prefix: "team-b", appliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}, mutability: guard.Mutable},
}

// exampleEnv is the example's configuration: cosign signatures may stay mutable.
var exampleEnv = []string{"ALLOWED_MUTABLE_TAG_FILTERS=sha256-*.sig"}

func TestTableIsTheREADMEsExample(t *testing.T) {
	const region = "us-east-1"
	seed(t, "123456789012", region, example...)
	proxy := testenv.NewProxy(t, moto.URL())
	seedTemplates(t, proxy, "123456789012", region, exampleTemplates...)
	got := audit(t, proxy, region, exampleEnv)
	if got.code != ExitAttention {
		t.Fatalf("exit %d, want %d\n%s%s", got.code, ExitAttention, got.stdout, got.stderr)
	}
	if want := "audit: 123456789012 us-east-1: 3 templates\naudit: 123456789012 us-east-1: 6 repositories\n"; got.stderr != want {
		t.Errorf("stderr %q, want the progress lines %q", got.stderr, want)
	}
	readOnly(t, proxy)
	// Every repository's tags were read, compliant ones too; the templates
	// were listed once, through the proxy to its fake.
	if n := proxy.Count("ListTagsForResource"); n != len(example) {
		t.Errorf("%d ListTagsForResource, want %d", n, len(example))
	}
	if n := proxy.Forwarded("ecr.DescribeRepositoryCreationTemplates"); n != 1 {
		t.Errorf("%d DescribeRepositoryCreationTemplates, want 1", n)
	}
	checkREADME(t, got.stdout)
}

// checkREADME: the README's Audit section shows this very output, between
// its markers. UPDATE_README=1 writes it there instead.
func checkREADME(t *testing.T, output string) {
	t.Helper()
	path := filepath.Join(testenv.ModuleRoot(t), "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- audit example: begin -->\n```\n", "```\n<!-- audit example: end -->"
	before, rest, ok1 := strings.Cut(string(b), begin)
	shown, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no audit example between %q and %q", begin, end)
	}
	want := "$ ALLOWED_MUTABLE_TAG_FILTERS='sha256-*.sig' make audit\n" + output
	if shown == want {
		return
	}
	if os.Getenv("UPDATE_README") != "" {
		if err := os.WriteFile(path, []byte(before+begin+want+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's audit example differs from the real output (UPDATE_README=1 rewrites it):\n--- README\n%s--- real\n%s", shown, want)
}

// brief is a row's state as the tests compare it.
type brief struct {
	typ, name, mutability, filters, lifecycle, exemption, tag, expires, appliedFor string

	missing bool
	would   string
}

func briefs(t *testing.T, stdout string) ([]brief, Summary) {
	t.Helper()
	var doc struct {
		Rows    []Row
		Summary Summary
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var rows []brief
	for _, r := range doc.Rows {
		if r.Error != "" || len(r.Details) != len(r.Would) {
			t.Errorf("row %+v", r)
		}
		rows = append(rows, brief{r.Type, r.Name, r.Mutability, strings.Join(r.ExclusionFilters, ","), r.Lifecycle,
			r.Exemption, r.ExemptionTag, r.Expires, strings.Join(r.AppliedFor, ","), r.Missing, joinKinds(r.Would)})
	}
	return rows, doc.Summary
}

func TestJSONAndCSV(t *testing.T) {
	const region = "eu-central-1"
	seed(t, "123456789012", region, example...)
	proxy := testenv.NewProxy(t, moto.URL())
	seedTemplates(t, proxy, "123456789012", region, exampleTemplates...)

	got := audit(t, proxy, region, exampleEnv, "--format", "json", "--quiet")
	if got.code != ExitAttention || got.stderr != "" {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	if !strings.Contains(got.stdout, `"account": "123456789012",
      "region": "eu-central-1",
      "type": "template",
      "name": "ROOT",`) {
		t.Errorf("no ROOT row of this account and region in\n%s", got.stdout)
	}
	rows, summary := briefs(t, got.stdout)
	want := []brief{
		{"template", "ROOT", "", "", "", "", "", "", "", true, "OBSERVED"},
		{"template", "sandbox", "MUTABLE", "", "baseline", "active", "environment=dev", "2099-12-31", "CREATE_ON_PUSH", false, ""},
		{"template", "team-a", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION", false, ""},
		{"template", "team-b", "MUTABLE", "", "absent", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, "WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE"},
		{"repository", "sandbox/old", "MUTABLE", "", "baseline", "expired", "environment=dev", "2020-01-31", "", false, "WOULD_REMEDIATE"},
		{"repository", "sandbox/tool", "MUTABLE", "", "baseline", "active", "environment=dev", "2099-12-31", "", false, ""},
		{"repository", "team-a/api", "IMMUTABLE", "", "baseline", "none", "", "", "", false, ""},
		{"repository", "team-a/web", "MUTABLE", "", "baseline", "none", "", "", "", false, "WOULD_REMEDIATE"},
		{"repository", "team-b/signed", "IMMUTABLE_WITH_EXCLUSION", "latest,sha256-*.sig", "other", "none", "", "", "", false, "WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE"},
		{"repository", "team-b/worker", "IMMUTABLE", "", "absent", "none", "", "", "", false, "WOULD_RESTORE_LIFECYCLE"},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n%+v\nwant\n%+v", rows, want)
	}
	wantSummary := Summary{Registries: 1,
		Repositories:        Count{Total: 6, Compliant: 2, Exempt: 1, WouldChange: 4},
		Templates:           Count{Total: 3, Compliant: 2, Exempt: 1, WouldChange: 1},
		WithoutRootTemplate: 1}
	if summary != wantSummary {
		t.Errorf("summary %+v, want %+v", summary, wantSummary)
	}

	got = audit(t, proxy, region, exampleEnv, "--format=csv", "--quiet")
	if got.code != ExitAttention {
		t.Fatalf("csv: exit %d %s", got.code, got.stderr)
	}
	records, err := csv.NewReader(strings.NewReader(got.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 11 || strings.Join(records[0], ",") != "account,region,type,name,mutability,exclusion_filters,lifecycle,exemption,exemption_tag,expires,applied_for,missing,would,details,error" {
		t.Fatalf("csv\n%s", got.stdout)
	}
	for _, want := range [][]string{
		{"123456789012", region, "template", "ROOT", "", "", "", "", "", "", "", "true", "OBSERVED",
			"there is no ROOT template: repositories ECR creates on its own without a more specific template get ECR's defaults (MUTABLE tags, no lifecycle policy) (ROOT_TEMPLATE=report)", ""},
		{"123456789012", region, "template", "team-b", "MUTABLE", "", "absent", "none", "", "", "REPLICATION;PULL_THROUGH_CACHE", "false",
			"WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE",
			"dry run: would set image tag mutability MUTABLE -> IMMUTABLE; dry run: no lifecycle policy; would apply the baseline lifecycle policy", ""},
		{"123456789012", region, "repository", "team-b/signed", "IMMUTABLE_WITH_EXCLUSION", "latest;sha256-*.sig", "other", "none", "", "", "", "false",
			"WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE",
			"dry run: would set image tag mutability IMMUTABLE_WITH_EXCLUSION [latest, sha256-*.sig] -> IMMUTABLE_WITH_EXCLUSION [sha256-*.sig]; dry run: lifecycle policy differs from the baseline; would apply the baseline lifecycle policy", ""},
	} {
		if !slices.ContainsFunc(records, func(r []string) bool { return slices.Equal(r, want) }) {
			t.Errorf("no csv record\n%q\nin\n%s", want, got.stdout)
		}
	}
	readOnly(t, proxy)
}

// Templates follow the repositories' rules through the same step, and the
// ROOT template follows ROOT_TEMPLATE: each case is a registry with only
// templates (a region without repositories), audited in JSON.
func TestTemplates(t *testing.T) {
	const region = "ca-central-1"
	dev := map[string]string{"environment": "dev"}
	compliantRoot := template{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache},
		mutability: guard.Immutable, lifecycle: "baseline"}
	for _, tt := range []struct {
		name      string
		env       []string
		templates []template
		want      []brief
		code      int
	}{
		{
			name: "no ROOT template, ROOT_TEMPLATE=report: reported, needs attention",
			want: []brief{{"template", "ROOT", "", "", "", "", "", "", "", true, "OBSERVED"}},
			code: ExitAttention,
		},
		{
			name: "no ROOT template, ROOT_TEMPLATE=ensure: would create it (and, dry, does not)",
			env:  []string{"ROOT_TEMPLATE=ensure"},
			want: []brief{{"template", "ROOT", "", "", "", "", "", "", "", true, "WOULD_REMEDIATE"}},
			code: ExitAttention,
		},
		{
			name: "no ROOT template, ROOT_TEMPLATE=off: no row",
			env:  []string{"ROOT_TEMPLATE=off"},
			code: ExitCompliant,
		},
		{
			name:      "compliant ROOT template",
			templates: []template{compliantRoot},
			want:      []brief{{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""}},
			code:      ExitCompliant,
		},
		{
			name:      "a MUTABLE ROOT template is never exempt",
			templates: []template{{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Mutable, tags: dev, lifecycle: "baseline"}},
			want:      []brief{{"template", "ROOT", "MUTABLE", "", "baseline", "name-not-allowed", "environment=dev", "", "REPLICATION", false, "WOULD_REMEDIATE"}},
			code:      ExitAttention,
		},
		{
			name:      "ROOT_TEMPLATE=off leaves a MUTABLE ROOT template alone",
			env:       []string{"ROOT_TEMPLATE=off"},
			templates: []template{{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Mutable}},
			want:      []brief{{"template", "ROOT", "MUTABLE", "", "absent", "", "", "", "REPLICATION", false, ""}},
			code:      ExitCompliant,
		},
		{
			name:      "ROOT_TEMPLATE=ensure adds the appliedFor the ROOT template lacks",
			env:       []string{"ROOT_TEMPLATE=ensure"},
			templates: []template{{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: "baseline"}},
			want:      []brief{{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION", false, "WOULD_REMEDIATE"}},
			code:      ExitAttention,
		},
		{
			name: "an allowed exclusion filter is compliant, another one is not",
			env:  []string{"ALLOWED_MUTABLE_TAG_FILTERS=sha256-*.sig"},
			templates: []template{compliantRoot,
				{prefix: "signed", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.ImmutableWithExclusion, filters: []string{"sha256-*.sig"}, lifecycle: "baseline"},
				{prefix: "loose", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.ImmutableWithExclusion, filters: []string{"latest"}, lifecycle: "baseline"}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "loose", "IMMUTABLE_WITH_EXCLUSION", "latest", "baseline", "none", "", "", "REPLICATION", false, "WOULD_REMEDIATE"},
				{"template", "signed", "IMMUTABLE_WITH_EXCLUSION", "sha256-*.sig", "baseline", "none", "", "", "REPLICATION", false, ""},
			},
			code: ExitAttention,
		},
		{
			name: "an exemption on a prefix EXEMPT_REPOSITORY_PATTERNS does not cover",
			env:  []string{"EXEMPT_REPOSITORY_PATTERNS=sandbox/*"},
			templates: []template{compliantRoot,
				{prefix: "sandbox", appliedFor: []string{guard.AppliedForCreateOnPush}, mutability: guard.Mutable, tags: dev, lifecycle: "baseline"},
				{prefix: "prod", appliedFor: []string{guard.AppliedForCreateOnPush}, mutability: guard.Mutable, tags: dev, lifecycle: "baseline"}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "prod", "MUTABLE", "", "baseline", "name-not-allowed", "environment=dev", "", "CREATE_ON_PUSH", false, "WOULD_REMEDIATE"},
				{"template", "sandbox", "MUTABLE", "", "baseline", "active", "environment=dev", "", "CREATE_ON_PUSH", false, ""},
			},
			code: ExitAttention,
		},
		{
			name:      "an expired exemption",
			templates: []template{compliantRoot, {prefix: "old", appliedFor: []string{guard.AppliedForCreateOnPush}, mutability: guard.Mutable, tags: map[string]string{"environment": "dev", "exemption-expires": "2020-01-31"}, lifecycle: "baseline"}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "old", "MUTABLE", "", "baseline", "expired", "environment=dev", "2020-01-31", "CREATE_ON_PUSH", false, "WOULD_REMEDIATE"},
			},
			code: ExitAttention,
		},
		{
			name:      "LIFECYCLE_MODE=missing keeps another policy; LIFECYCLE_MODE=enforce would not",
			env:       []string{"LIFECYCLE_MODE=missing"},
			templates: []template{compliantRoot, {prefix: "custom", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: otherPolicy}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "custom", "IMMUTABLE", "", "other", "none", "", "", "REPLICATION", false, ""},
			},
			code: ExitCompliant,
		},
		{
			name: "LIFECYCLE_MODE=contains: a policy with every baseline rule is compliant and shown so; one lacking some is not",
			env:  []string{"LIFECYCLE_MODE=contains"},
			templates: []template{compliantRoot,
				{prefix: "team", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: teamPolicy},
				{prefix: "lacking", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: otherPolicy}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "lacking", "IMMUTABLE", "", "other", "none", "", "", "REPLICATION", false, "WOULD_RESTORE_LIFECYCLE"},
				{"template", "team", "IMMUTABLE", "", "contains-baseline", "none", "", "", "REPLICATION", false, ""},
			},
			code: ExitAttention,
		},
		{
			name:      "LIFECYCLE_MODE=enforce: a policy with every baseline rule and more is still not the baseline",
			templates: []template{compliantRoot, {prefix: "team", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: teamPolicy}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "baseline", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "team", "IMMUTABLE", "", "contains-baseline", "none", "", "", "REPLICATION", false, "WOULD_RESTORE_LIFECYCLE"},
			},
			code: ExitAttention,
		},
		{
			name:      "LIFECYCLE_MODE=off: the policy is not judged",
			env:       []string{"LIFECYCLE_MODE=off"},
			templates: []template{compliantRoot, {prefix: "bare", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable}},
			want: []brief{
				{"template", "ROOT", "IMMUTABLE", "", "unchecked", "none", "", "", "REPLICATION,PULL_THROUGH_CACHE", false, ""},
				{"template", "bare", "IMMUTABLE", "", "unchecked", "none", "", "", "REPLICATION", false, ""},
			},
			code: ExitCompliant,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := testenv.NewProxy(t, moto.URL())
			seedTemplates(t, proxy, "123456789012", region, tt.templates...)
			got := audit(t, proxy, region, tt.env, "--format", "json", "--quiet")
			if got.code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", got.code, tt.code, got.stdout, got.stderr)
			}
			if rows, _ := briefs(t, got.stdout); !slices.Equal(rows, tt.want) {
				t.Errorf("rows\n%+v\nwant\n%+v", rows, tt.want)
			}
			readOnly(t, proxy)
		})
	}
}

// The table tells templates from repositories, prints what a missing ROOT
// template means, and sums templates up on a line of their own.
func TestTableShowsTemplates(t *testing.T) {
	const region = "eu-west-1"
	seed(t, "123456789012", region, repo{name: "app", mutability: guard.Immutable, lifecycle: "baseline"})
	proxy := testenv.NewProxy(t, moto.URL())
	seedTemplates(t, proxy, "123456789012", region,
		template{prefix: "mirror", appliedFor: []string{guard.AppliedForPullThroughCache}, mutability: guard.Mutable, lifecycle: "baseline"})
	got := audit(t, proxy, region, nil, "--quiet")
	if got.code != ExitAttention {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	for _, want := range []string{
		`(?m)^ACCOUNT +REGION +TYPE +NAME +MUTABILITY +EXCLUSIONS +LIFECYCLE +EXEMPTION +EXPIRES +WOULD$`,
		`(?m)^123456789012 +eu-west-1 +template +ROOT +- +- +- +- +- +OBSERVED$`,
		`(?m)^123456789012 +eu-west-1 +template +mirror +MUTABLE +- +baseline +none +- +WOULD_REMEDIATE$`,
		`(?m)^123456789012 +eu-west-1 +repository +app +IMMUTABLE +- +baseline +none +- +nothing$`,
		`(?m)^MISSING 123456789012 eu-west-1 template ROOT: there is no ROOT template: .*\(ROOT_TEMPLATE=report\)$`,
		`(?m)^1 repository in 1 registry: 1 compliant \(0 exempt\), 0 would change, 0 errors$`,
		`(?m)^1 template: 0 compliant \(0 exempt\), 1 would change, 0 errors; 1 registry without a ROOT template$`,
	} {
		if !regexp.MustCompile(want).MatchString(got.stdout) {
			t.Errorf("no line %s in\n%s", want, got.stdout)
		}
	}
	readOnly(t, proxy)
}

// A registry whose templates cannot be listed is an error row (exit 1); its
// repositories are audited all the same.
func TestTemplateListingFails(t *testing.T) {
	const region = "eu-north-1"
	seed(t, "123456789012", region, repo{name: "app", mutability: guard.Mutable, lifecycle: "baseline"})
	proxy := testenv.NewProxy(t, moto.URL())
	proxy.InjectFault("ecr.DescribeRepositoryCreationTemplates", testenv.APIErrorFault(400, "AccessDeniedException"), -1)
	got := audit(t, proxy, region, nil, "--format", "json")
	if got.code != ExitError {
		t.Fatalf("exit %d, want %d\n%s%s", got.code, ExitError, got.stdout, got.stderr)
	}
	var doc struct {
		Rows    []Row
		Summary Summary
	}
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) != 2 || doc.Rows[0].Type != TypeTemplate || doc.Rows[0].Name != "" ||
		!strings.Contains(doc.Rows[0].Error, "cannot list the repository creation templates: ") || !strings.Contains(doc.Rows[0].Error, "AccessDeniedException") ||
		doc.Rows[1].Name != "app" || joinKinds(doc.Rows[1].Would) != "WOULD_REMEDIATE" {
		t.Fatalf("rows %+v", doc.Rows)
	}
	if s := doc.Summary; s.Templates != (Count{Errors: 1}) || s.Repositories != (Count{Total: 1, WouldChange: 1}) || s.WithoutRootTemplate != 0 {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(got.stderr, "audit: 123456789012 eu-north-1: cannot list the repository creation templates: ") ||
		!strings.Contains(got.stderr, "audit: 123456789012 eu-north-1: 1 repositories") {
		t.Errorf("stderr %q", got.stderr)
	}
	readOnly(t, proxy)
}

func TestCompliantRegistryExitsZero(t *testing.T) {
	const region = "ap-southeast-2"
	seed(t, "123456789012", region,
		repo{name: "app", mutability: guard.Immutable, lifecycle: "baseline"},
		repo{name: "sandbox/x", mutability: guard.Mutable, tags: map[string]string{"Environment": "DEV"}, lifecycle: "baseline"},
		repo{name: "custom", mutability: guard.Immutable, lifecycle: otherPolicy})
	proxy := testenv.NewProxy(t, moto.URL())
	seedTemplates(t, proxy, "123456789012", region,
		template{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: "baseline"})
	// LIFECYCLE_MODE=missing: a policy other than the baseline is kept.
	got := audit(t, proxy, region, []string{"LIFECYCLE_MODE=missing"})
	if got.code != ExitCompliant {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	if !strings.Contains(got.stdout, "3 repositories in 1 registry: 3 compliant (1 exempt), 0 would change, 0 errors\n1 template: 1 compliant (0 exempt), 0 would change, 0 errors\n") ||
		!regexp.MustCompile(`repository +custom +IMMUTABLE +- +other +none +- +nothing`).MatchString(got.stdout) {
		t.Errorf("table\n%s", got.stdout)
	}
	readOnly(t, proxy)

	// LIFECYCLE_MODE=off: the policy is not read, as in the functions.
	got = audit(t, proxy, region, []string{"LIFECYCLE_MODE=off"}, "--format", "csv")
	if got.code != ExitCompliant || !strings.Contains(got.stdout, "123456789012,"+region+",repository,app,IMMUTABLE,,unchecked,none,,,,false,,,\n") {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}

func TestBadFlagsAndSettings(t *testing.T) {
	proxy := testenv.NewProxy(t, moto.URL())
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
		say  string
	}{
		{"unknown format", nil, []string{"--format", "xml"}, ExitUsage, `unknown format "xml"`},
		{"unknown flag", nil, []string{"--bogus"}, ExitUsage, "flag provided but not defined"},
		{"stray argument", nil, []string{"extra"}, ExitUsage, "unexpected arguments"},
		{"bad rule", []string{"EXEMPT_TAGS=nokey"}, nil, ExitError, "EXEMPT_TAGS"},
		{"accounts without role", []string{"TARGET_ACCOUNTS=222222222222"}, nil, ExitError, "TARGET_ACCOUNTS: needs MEMBER_ROLE_NAME"},
		{"bad ROOT_TEMPLATE", []string{"ROOT_TEMPLATE=sometimes"}, nil, ExitError, "ROOT_TEMPLATE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := audit(t, proxy, "us-east-1", tt.env, tt.args...)
			if got.code != tt.code || !strings.Contains(got.stderr, tt.say) || got.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q", got.code, got.stderr, got.stdout)
			}
		})
	}
	if n := len(proxy.Calls()); n != 0 {
		t.Fatalf("%d AWS calls before the settings were valid", n)
	}
	// No SNS topic is needed, and none is published to. (ROOT_TEMPLATE=off:
	// the empty registry has no ROOT template either.)
	got := audit(t, proxy, "sa-east-1", []string{"ROOT_TEMPLATE=off"}, "--quiet")
	if got.code != ExitCompliant || !strings.Contains(got.stdout, "0 repositories in 1 registry: 0 compliant (0 exempt), 0 would change, 0 errors\n0 templates: ") {
		t.Fatalf("empty registry: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}

// Organization mode: the central account (moto's default) and a member
// reached through its member role (moto's AssumeRole acts as that
// account), each with templates of its own; a third account whose role is
// refused is reported as one row, the rest is still audited, and the exit
// status is 1.
func TestOrganization(t *testing.T) {
	const region = "us-west-2"
	seed(t, "123456789012", region, repo{name: "central/app", mutability: guard.Immutable, lifecycle: "baseline"})
	seed(t, "222222222222", region, repo{name: "member/app", mutability: guard.Mutable, lifecycle: "baseline"})
	proxy := testenv.NewProxy(t, moto.URL())
	seedTemplates(t, proxy, "123456789012", region,
		template{prefix: guard.RootPrefix, appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Immutable, lifecycle: "baseline"})
	seedTemplates(t, proxy, "222222222222", region,
		template{prefix: "member", appliedFor: []string{guard.AppliedForReplication}, mutability: guard.Mutable, lifecycle: "baseline"})
	proxy.InjectFaultIf("AssumeRole", "333333333333", testenv.APIErrorFault(403, "AccessDenied"), -1)
	env := []string{"MEMBER_ROLE_NAME=ecr-guard-member"}

	got := audit(t, proxy, region, append(env, "TARGET_ACCOUNTS=222222222222,123456789012"))
	if got.code != ExitAttention {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	for _, want := range []string{
		`(?m)^123456789012 +us-west-2 +template +ROOT +IMMUTABLE +- +baseline +none +- +nothing$`,
		`(?m)^123456789012 +us-west-2 +repository +central/app +IMMUTABLE +- +baseline +none +- +nothing$`,
		`(?m)^222222222222 +us-west-2 +template +ROOT +- +- +- +- +- +OBSERVED$`,
		`(?m)^222222222222 +us-west-2 +template +member +MUTABLE +- +baseline +none +- +WOULD_REMEDIATE$`,
		`(?m)^222222222222 +us-west-2 +repository +member/app +MUTABLE +- +baseline +none +- +WOULD_REMEDIATE$`,
	} {
		if !regexp.MustCompile(want).MatchString(got.stdout) {
			t.Errorf("no line %s in\n%s", want, got.stdout)
		}
	}
	if got.stderr != "audit: 123456789012 us-west-2: 1 templates\naudit: 123456789012 us-west-2: 1 repositories\n"+
		"audit: 222222222222 us-west-2: 1 templates\naudit: 222222222222 us-west-2: 1 repositories\n" {
		t.Errorf("progress %q", got.stderr)
	}
	readOnly(t, proxy)

	got = audit(t, proxy, region, append(env, "TARGET_ACCOUNTS=333333333333,222222222222"), "--format", "json")
	if got.code != ExitError {
		t.Fatalf("exit %d, want %d\n%s%s", got.code, ExitError, got.stdout, got.stderr)
	}
	var doc struct{ Rows []Row }
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range doc.Rows {
		names = append(names, r.Account+" "+r.Type+" "+r.Name)
	}
	if want := []string{"222222222222 template ROOT", "222222222222 template member", "222222222222 repository member/app", "333333333333 repository "}; !slices.Equal(names, want) {
		t.Fatalf("rows %q, want %q", names, want)
	}
	if !strings.Contains(doc.Rows[3].Error, "AccessDenied") {
		t.Errorf("row %+v", doc.Rows[3])
	}
	if !strings.Contains(got.stderr, "audit: 333333333333 us-west-2: cannot list the repositories: assume role arn:aws:iam::333333333333:role/ecr-guard-member") {
		t.Errorf("stderr %q", got.stderr)
	}
	readOnly(t, proxy)
}
