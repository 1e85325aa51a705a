package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
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

func seed(t *testing.T, account, region string, repos ...repo) {
	t.Helper()
	ctx := context.Background()
	api := ecr.NewFromConfig(moto.AccountConfig(t, moto.URL(), account, region))
	for _, r := range repos {
		in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(r.name), ImageTagMutability: ecrtypes.ImageTagMutability(r.mutability)}
		for _, f := range r.filters {
			in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters,
				ecrtypes.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard})
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.tags {
				if !yield(k) {
					return
				}
			}
		}) {
			in.Tags = append(in.Tags, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(r.tags[k])})
		}
		if _, err := api.CreateRepository(ctx, in); err != nil {
			t.Fatal(err)
		}
		text := r.lifecycle
		if text == "baseline" {
			text = guard.DefaultLifecyclePolicy
		}
		if text != "" {
			if _, err := api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(r.name), LifecyclePolicyText: aws.String(text)}); err != nil {
				t.Fatal(err)
			}
		}
	}
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
// Describe*/List*/Get*, STS GetCallerIdentity and AssumeRole.
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
	for _, op := range []string{"PutImageTagMutability", "PutLifecyclePolicy", "TagResource", "Publish"} {
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

// exampleEnv is the example's configuration: cosign signatures may stay mutable.
var exampleEnv = []string{"ALLOWED_MUTABLE_TAG_FILTERS=sha256-*.sig"}

func TestTableIsTheREADMEsExample(t *testing.T) {
	const region = "us-east-1"
	seed(t, "123456789012", region, example...)
	proxy := testenv.NewProxy(t, moto.URL())
	got := audit(t, proxy, region, exampleEnv)
	if got.code != ExitChanges {
		t.Fatalf("exit %d, want %d\n%s%s", got.code, ExitChanges, got.stdout, got.stderr)
	}
	if want := "audit: 123456789012 us-east-1: 6 repositories\n"; got.stderr != want {
		t.Errorf("stderr %q, want the progress line %q", got.stderr, want)
	}
	readOnly(t, proxy)
	// Every repository's tags were read, compliant ones too.
	if n := proxy.Count("ListTagsForResource"); n != len(example) {
		t.Errorf("%d ListTagsForResource, want %d", n, len(example))
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

func TestJSONAndCSV(t *testing.T) {
	const region = "eu-central-1"
	seed(t, "123456789012", region, example...)
	proxy := testenv.NewProxy(t, moto.URL())

	got := audit(t, proxy, region, exampleEnv, "--format", "json", "--quiet")
	if got.code != ExitChanges || got.stderr != "" {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	var doc struct {
		Repositories []Row
		Summary      Summary
	}
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, got.stdout)
	}
	type brief struct {
		name, mutability, filters, lifecycle, exemption, tag, expires, would string
	}
	var rows []brief
	for _, r := range doc.Repositories {
		if r.Account != "123456789012" || r.Region != region || r.Error != "" || len(r.Details) != len(r.Would) {
			t.Errorf("row %+v", r)
		}
		rows = append(rows, brief{r.Repository, r.Mutability, strings.Join(r.ExclusionFilters, ","), r.Lifecycle,
			r.Exemption, r.ExemptionTag, r.Expires, joinKinds(r.Would)})
	}
	want := []brief{
		{"sandbox/old", "MUTABLE", "", "baseline", "expired", "environment=dev", "2020-01-31", "WOULD_REMEDIATE"},
		{"sandbox/tool", "MUTABLE", "", "baseline", "active", "environment=dev", "2099-12-31", ""},
		{"team-a/api", "IMMUTABLE", "", "baseline", "none", "", "", ""},
		{"team-a/web", "MUTABLE", "", "baseline", "none", "", "", "WOULD_REMEDIATE"},
		{"team-b/signed", "IMMUTABLE_WITH_EXCLUSION", "latest,sha256-*.sig", "other", "none", "", "", "WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE"},
		{"team-b/worker", "IMMUTABLE", "", "absent", "none", "", "", "WOULD_RESTORE_LIFECYCLE"},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n%+v\nwant\n%+v", rows, want)
	}
	if s := doc.Summary; s != (Summary{Registries: 1, Repositories: 6, Compliant: 2, Exempt: 1, WouldChange: 4}) {
		t.Errorf("summary %+v", s)
	}

	got = audit(t, proxy, region, exampleEnv, "--format=csv", "--quiet")
	if got.code != ExitChanges {
		t.Fatalf("csv: exit %d %s", got.code, got.stderr)
	}
	records, err := csv.NewReader(strings.NewReader(got.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 7 || strings.Join(records[0], ",") != "account,region,repository,mutability,exclusion_filters,lifecycle,exemption,exemption_tag,expires,would,details,error" {
		t.Fatalf("csv\n%s", got.stdout)
	}
	wantSigned := []string{"123456789012", region, "team-b/signed", "IMMUTABLE_WITH_EXCLUSION", "latest;sha256-*.sig", "other", "none", "", "",
		"WOULD_REMEDIATE;WOULD_RESTORE_LIFECYCLE",
		"dry run: would set image tag mutability IMMUTABLE_WITH_EXCLUSION [latest, sha256-*.sig] -> IMMUTABLE_WITH_EXCLUSION [sha256-*.sig]; dry run: lifecycle policy differs from the baseline; would apply the baseline lifecycle policy", ""}
	if !slices.Equal(records[5], wantSigned) {
		t.Errorf("csv record\n%q\nwant\n%q", records[5], wantSigned)
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
	// LIFECYCLE_MODE=missing: a policy other than the baseline is kept.
	got := audit(t, proxy, region, []string{"LIFECYCLE_MODE=missing"})
	if got.code != ExitCompliant {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	if !strings.Contains(got.stdout, "3 repositories in 1 registry: 3 compliant (1 exempt), 0 would change, 0 errors") ||
		!regexp.MustCompile(`custom +IMMUTABLE +- +other +none +- +nothing`).MatchString(got.stdout) {
		t.Errorf("table\n%s", got.stdout)
	}
	readOnly(t, proxy)

	// LIFECYCLE_MODE=off: the policy is not read, as in the functions.
	got = audit(t, proxy, region, []string{"LIFECYCLE_MODE=off"}, "--format", "csv")
	if got.code != ExitCompliant || !strings.Contains(got.stdout, "123456789012,"+region+",app,IMMUTABLE,,unchecked,none,,,,,\n") {
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
	// No SNS topic is needed, and none is published to.
	got := audit(t, proxy, "sa-east-1", nil, "--quiet")
	if got.code != ExitCompliant || !strings.Contains(got.stdout, "0 repositories in 1 registry") {
		t.Fatalf("empty registry: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}

// Organization mode: the central account (moto's default) and a member
// reached through its member role (moto's AssumeRole acts as that
// account); a third account whose role is refused is reported, the rest
// is still audited, and the exit status is 1.
func TestOrganization(t *testing.T) {
	const region = "us-west-2"
	seed(t, "123456789012", region, repo{name: "central/app", mutability: guard.Immutable, lifecycle: "baseline"})
	seed(t, "222222222222", region, repo{name: "member/app", mutability: guard.Mutable, lifecycle: "baseline"})
	proxy := testenv.NewProxy(t, moto.URL())
	proxy.InjectFaultIf("AssumeRole", "333333333333", testenv.APIErrorFault(403, "AccessDenied"), -1)
	env := []string{"MEMBER_ROLE_NAME=ecr-guard-member"}

	got := audit(t, proxy, region, append(env, "TARGET_ACCOUNTS=222222222222,123456789012"))
	if got.code != ExitChanges {
		t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	for _, want := range []string{
		`(?m)^123456789012 +us-west-2 +central/app +IMMUTABLE +- +baseline +none +- +nothing$`,
		`(?m)^222222222222 +us-west-2 +member/app +MUTABLE +- +baseline +none +- +WOULD_REMEDIATE$`,
	} {
		if !regexp.MustCompile(want).MatchString(got.stdout) {
			t.Errorf("no line %s in\n%s", want, got.stdout)
		}
	}
	if got.stderr != "audit: 123456789012 us-west-2: 1 repositories\naudit: 222222222222 us-west-2: 1 repositories\n" {
		t.Errorf("progress %q", got.stderr)
	}
	readOnly(t, proxy)

	got = audit(t, proxy, region, append(env, "TARGET_ACCOUNTS=333333333333,222222222222"), "--format", "json")
	if got.code != ExitError {
		t.Fatalf("exit %d, want %d\n%s%s", got.code, ExitError, got.stdout, got.stderr)
	}
	var doc struct{ Repositories []Row }
	if err := json.Unmarshal([]byte(got.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Repositories) != 2 || doc.Repositories[0].Repository != "member/app" ||
		doc.Repositories[1].Account != "333333333333" || !strings.Contains(doc.Repositories[1].Error, "AccessDenied") {
		t.Fatalf("rows %+v", doc.Repositories)
	}
	if !strings.Contains(got.stderr, "audit: 333333333333 us-west-2: cannot list the repositories: assume role arn:aws:iam::333333333333:role/ecr-guard-member") {
		t.Errorf("stderr %q", got.stderr)
	}
	readOnly(t, proxy)
}
