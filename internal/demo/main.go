// Command demo runs ecr-guard locally, for real: it starts moto, builds the
// function, runs the bootstrap under the Lambda Runtime Interface Emulator,
// seeds each repository in its starting state, sends every events/ sample and
// prints what the function did and the notices it published; then runs a
// dry-run sweep, and a member account's event handled by the function in
// organization mode. Run it with `make demo`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

func main() {
	r := &runner{}
	defer r.cleanup()
	r.run()
}

func (r *runner) run() {
	fmt.Println("ecr-guard demo: the real bootstrap under the Lambda RIE, AWS APIs from moto")
	moto := testenv.StartMoto(r)
	direct := moto.AWSConfig(r, moto.URL())
	api := ecr.NewFromConfig(direct)
	inbox := testenv.NewInbox(r, direct)
	proxy := testenv.NewProxy(r, moto.URL())

	fmt.Println("building functions/remediate ...")
	bootstrap := testenv.BuildBootstrap(r, "./functions/remediate")
	env := moto.Env(proxy.URL())
	settings := scenario.Env()
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	env = append(env, "SNS_TOPIC_ARN="+inbox.TopicARN())
	rie := testenv.StartRIE(r, bootstrap, env)
	fmt.Printf("moto at %s, RIE running the bootstrap, notices on %s\n", moto.URL(), inbox.TopicARN())
	fmt.Printf("config: ALLOWED_MUTABLE_TAG_FILTERS=%s EXEMPT_TAGS=%s LIFECYCLE_MODE=%s SELF_ROLE_ARN=%s\n",
		settings["ALLOWED_MUTABLE_TAG_FILTERS"], settings["EXEMPT_TAGS"], settings["LIFECYCLE_MODE"], settings["SELF_ROLE_ARN"])

	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		r.Fatalf("%v", err)
	}
	ctx := context.Background()
	root := testenv.ModuleRoot(r)
	for i, sc := range scenario.All {
		fmt.Printf("\n[%d/%d] %s\n      event:  events/%s\n", i+1, len(scenario.All), sc.Title, sc.Event)
		if err := scenario.Seed(ctx, api, sc.Repo, sc.Seed, baseline.Text()); err != nil {
			r.Fatalf("seed: %v", err)
		}
		fmt.Printf("      before: %s %v\n", sc.Repo, sc.Seed)
		raw, err := scenario.ReadEvent(root, sc.Event, time.Now())
		if err != nil {
			r.Fatalf("%v", err)
		}
		proxy.Reset()
		status, body := rie.Invoke(r, raw)
		fmt.Printf("      invoke: HTTP %d %s\n", status, strings.TrimSpace(string(body)))
		after, err := scenario.Read(ctx, api, sc.Repo, baseline)
		if err != nil {
			r.Fatalf("read: %v", err)
		}
		fmt.Printf("      after:  %v\n", after)
		if !scenario.Equal(after, sc.Expected()) {
			r.Fatalf("%s: state %v, want %v", sc.Event, after, sc.Expected())
		}
		notices := inbox.Drain(r, 300*time.Millisecond)
		if len(notices) == 0 {
			fmt.Println("      notice: none")
		}
		texts := publishedTexts(proxy)
		for j, n := range notices {
			fmt.Printf("      notice: %s\n              attributes %v\n", n.Subject, n.Attributes)
			if j < len(texts) {
				fmt.Println(indent(texts[j], "              | "))
			}
			if i == 0 {
				fmt.Println("              JSON document (sqs, lambda, http, https):")
				fmt.Println(indent(prettyJSON(n.Message), "              | "))
			}
		}
	}
	fmt.Println("\nfunction log (slog JSON and EMF metric lines) is in the RIE output; the last lines:")
	fmt.Println(indent(lastLines(rie.Output(), 6), "  "))

	r.template(moto, rie, inbox, proxy)
	r.drySweep(api, inbox, proxy, env, baseline)
	r.organization(moto, bootstrap, inbox, proxy, baseline)
	r.chat(api, bootstrap, inbox, proxy, env, baseline)
}

// template shows a repository creation template fixed: someone creates
// the template "prod" MUTABLE (every repository ECR will create under prod/
// would be born mutable), and ecr-guard makes it IMMUTABLE, keeping the
// template's other fields. moto has no template API: the proxy serves it
// from testenv's fake in ECR's wire format.
func (r *runner) template(moto *testenv.Moto, rie *testenv.RIE, inbox *testenv.Inbox, proxy *testenv.Proxy) {
	const sample = "create-repository-creation-template-mutable.json"
	fmt.Printf("\ntemplate: events/%s\n", sample)
	viaProxy := ecr.NewFromConfig(moto.AWSConfig(r, proxy.URL()))
	ctx := context.Background()
	in := &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("prod"), Description: aws.String("Production repositories"),
		AppliedFor:         []types.RCTAppliedFor{types.RCTAppliedForReplication, types.RCTAppliedForCreateOnPush},
		ImageTagMutability: types.ImageTagMutabilityMutable, LifecyclePolicy: aws.String(guard.DefaultLifecyclePolicy),
	}
	if _, err := viaProxy.CreateRepositoryCreationTemplate(ctx, in); err != nil {
		r.Fatalf("seed the template: %v", err)
	}
	describe := func() string {
		out, err := viaProxy.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"prod"}})
		if err != nil || len(out.RepositoryCreationTemplates) != 1 {
			r.Fatalf("read the template: %v", err)
		}
		t := out.RepositoryCreationTemplates[0]
		return fmt.Sprintf("template prefix=%s imageTagMutability=%s appliedFor=%v description=%q", aws.ToString(t.Prefix), t.ImageTagMutability, t.AppliedFor, aws.ToString(t.Description))
	}
	fmt.Printf("      before: %s\n", describe())
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(r), sample, time.Now())
	if err != nil {
		r.Fatalf("%v", err)
	}
	proxy.Reset()
	status, body := rie.Invoke(r, raw)
	fmt.Printf("      invoke: HTTP %d %s\n", status, strings.TrimSpace(string(body)))
	after := describe()
	fmt.Printf("      after:  %s\n", after)
	if !strings.Contains(after, "imageTagMutability=IMMUTABLE ") {
		r.Fatalf("the template was not fixed: %s", after)
	}
	texts := publishedTexts(proxy)
	for j, n := range inbox.Drain(r, 300*time.Millisecond) {
		fmt.Printf("      notice: %s\n              attributes %v\n", n.Subject, n.Attributes)
		if j < len(texts) {
			fmt.Println(indent(texts[j], "              | "))
		}
	}
}

// chat runs the event function with HTTPS_NOTICE_FORMAT=chat on the revert
// scenario and prints the https body of its notice: what a Slack or Teams
// channel mapped to the topic through Amazon Q Developer in chat
// applications shows.
func (r *runner) chat(api *ecr.Client, bootstrap string, inbox *testenv.Inbox, proxy *testenv.Proxy, env []string, baseline guard.LifecyclePolicy) {
	i := slices.IndexFunc(scenario.All, func(sc scenario.Scenario) bool { return sc.Title == "someone flips a repository to MUTABLE" })
	if i < 0 {
		r.Fatalf("no revert scenario")
	}
	sc := scenario.All[i]
	fmt.Printf("\nchat: HTTPS_NOTICE_FORMAT=chat, events/%s again; what https subscribers get:\n", sc.Event)
	ctx := context.Background()
	if err := scenario.Seed(ctx, api, sc.Repo, sc.Seed, baseline.Text()); err != nil {
		r.Fatalf("seed: %v", err)
	}
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(r), sc.Event, time.Now())
	if err != nil {
		r.Fatalf("%v", err)
	}
	rie := testenv.StartRIE(r, bootstrap, append(slices.Clone(env), "HTTPS_NOTICE_FORMAT=chat"))
	proxy.Reset()
	if status, body := rie.Invoke(r, raw); status != 200 || strings.Contains(string(body), "errorType") {
		r.Fatalf("the chat invocation failed: %s\n%s", body, lastLines(rie.Output(), 20))
	}
	inbox.Drain(r, 300*time.Millisecond)
	for _, c := range proxy.Calls() {
		form, _ := url.ParseQuery(string(c.Body))
		var structured map[string]string
		if c.Operation == "Publish" && json.Unmarshal([]byte(form.Get("Message")), &structured) == nil {
			fmt.Println(indent(prettyJSON(structured["https"]), "      | "))
			return
		}
	}
	r.Fatalf("no notice published")
}

// drySweep seeds repositories the events never touched and runs the sweep
// function once with the scheduled input {"dryRun": true}.
func (r *runner) drySweep(api *ecr.Client, inbox *testenv.Inbox, proxy *testenv.Proxy, env []string, baseline guard.LifecyclePolicy) {
	fmt.Println("\nscheduled sweep, dry run: repositories that no event told ecr-guard about")
	ctx := context.Background()
	missed := map[string]*scenario.State{
		"legacy/billing":  {Mutability: guard.Mutable, Lifecycle: "baseline"},
		"legacy/reports":  {Mutability: guard.Immutable, Lifecycle: "absent"},
		"sandbox/expired": {Mutability: guard.Mutable, Lifecycle: "baseline", Tags: map[string]string{"environment": "dev", "exemption-expires": "2025-01-31"}},
	}
	for _, name := range []string{"legacy/billing", "legacy/reports", "sandbox/expired"} {
		if err := scenario.Seed(ctx, api, name, missed[name], baseline.Text()); err != nil {
			r.Fatalf("seed: %v", err)
		}
		fmt.Printf("      %s: %v\n", name, missed[name])
	}
	fmt.Println("building functions/sweep ...")
	rie := testenv.StartRIE(r, testenv.BuildBootstrap(r, "./functions/sweep"), env)
	proxy.Reset()
	status, body := rie.Invoke(r, []byte(`{"dryRun": true}`))
	fmt.Printf("      invoke {\"dryRun\": true}: HTTP %d %s\n", status, strings.TrimSpace(string(body)))
	for name, want := range missed {
		got, err := scenario.Read(ctx, api, name, baseline)
		if err != nil {
			r.Fatalf("read: %v", err)
		}
		if !scenario.Equal(got, want) {
			r.Fatalf("the dry run changed %s: %v", name, got)
		}
	}
	fmt.Println("      nothing was written (dry run); the digest:")
	texts := publishedTexts(proxy)
	for i, n := range inbox.Drain(r, 500*time.Millisecond) {
		fmt.Printf("      notice: %s\n", n.Subject)
		if i < len(texts) {
			fmt.Println(indent(texts[i], "              | "))
		}
	}
}

// The organization step: the central account (moto's default, where the
// function runs) and a member, whose registry in memberRegion the function
// reaches through the member role. moto's AssumeRole into an account acts as
// that account, with its own ECR state per region.
const (
	centralAccount = "123456789012"
	memberAccount  = "222222222222"
	memberRegion   = "eu-west-1"
	memberRole     = "ecr-guard-member"
	targetRegions  = "us-east-1,eu-west-1"
)

// organization runs the event function in organization mode (MEMBER_ROLE_NAME,
// TARGET_REGIONS) on a member account's PutImageTagMutability event: it
// reverts the member's repository through the member role, leaves the same
// name in the central account alone and publishes to the central topic.
func (r *runner) organization(moto *testenv.Moto, bootstrap string, inbox *testenv.Inbox, proxy *testenv.Proxy, baseline guard.LifecyclePolicy) {
	const sample = "put-image-tag-mutability-mutable.json"
	fmt.Printf("\norganization mode: the event function in the central account %s, MEMBER_ROLE_NAME=%s TARGET_REGIONS=%s\n",
		centralAccount, memberRole, targetRegions)
	ctx := context.Background()
	member := ecr.NewFromConfig(moto.AccountConfig(r, moto.URL(), memberAccount, memberRegion))
	central := ecr.NewFromConfig(moto.AccountConfig(r, moto.URL(), centralAccount, memberRegion))
	event := func() ([]byte, string) {
		raw, err := scenario.ReadEvent(testenv.ModuleRoot(r), sample, time.Now())
		if err != nil {
			r.Fatalf("%v", err)
		}
		return r.recordedIn(raw, memberAccount, memberRegion)
	}
	_, repo := event()
	registries := []struct {
		label string
		api   *ecr.Client
		want  *scenario.State
		note  string // after the event
	}{
		{"member  " + memberAccount + " " + memberRegion, member, &scenario.State{Mutability: guard.Immutable, Lifecycle: "baseline"}, "(reverted with the member role)"},
		{"central " + centralAccount + " " + memberRegion, central, &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}, "(untouched: not the event's account)"},
	}
	seed := &scenario.State{Mutability: guard.Mutable, Lifecycle: "baseline"}
	show := func(step string) {
		for i, reg := range registries {
			got, err := scenario.Read(ctx, reg.api, repo, baseline)
			if err != nil {
				r.Fatalf("read %s: %v", reg.label, err)
			}
			note := ""
			if step == "after:" {
				if !scenario.Equal(got, reg.want) {
					r.Fatalf("%s %s: state %v, want %v", reg.label, repo, got, reg.want)
				}
				note = " " + reg.note
			}
			if i > 0 {
				step = ""
			}
			fmt.Printf("      %-7s %s %s: %v%s\n", step, reg.label, repo, got, note)
		}
	}
	for _, reg := range registries {
		if err := scenario.Seed(ctx, reg.api, repo, seed, baseline.Text()); err != nil {
			r.Fatalf("seed %s: %v", reg.label, err)
		}
	}
	// Stamped after seeding: an event older than the repository would be
	// about an earlier one of the same name.
	raw, _ := event()
	fmt.Printf("      event:  events/%s as recorded in %s %s\n", sample, memberAccount, memberRegion)
	fmt.Printf("              (account, recipientAccountId, registryId, ARNs: %s; region, awsRegion: %s)\n", memberAccount, memberRegion)
	show("before:")

	env := append(moto.Env(proxy.URL()), "SNS_TOPIC_ARN="+inbox.TopicARN(), "MEMBER_ROLE_NAME="+memberRole, "TARGET_REGIONS="+targetRegions)
	for k, v := range scenario.Env() {
		env = append(env, k+"="+v)
	}
	proxy.Reset() // from the cold start on: the function's every call
	rie := testenv.StartRIE(r, bootstrap, env)
	status, body := rie.Invoke(r, raw)
	fmt.Printf("      invoke: HTTP %d %s\n", status, strings.TrimSpace(string(body)))
	if status != 200 || strings.Contains(string(body), "errorType") {
		r.Fatalf("the organization-mode invocation failed: %s\n%s", body, lastLines(rie.Output(), 20))
	}
	calls, roles := map[string]int{}, []string{}
	for _, c := range proxy.Calls() {
		calls[c.Service+"."+c.Operation]++
		if c.Operation == "AssumeRole" {
			form, _ := url.ParseQuery(string(c.Body))
			roles = append(roles, form.Get("RoleArn")+" (session "+form.Get("RoleSessionName")+")")
		}
	}
	if len(roles) != 1 || !strings.Contains(roles[0], ":"+memberAccount+":role/"+memberRole) {
		r.Fatalf("AssumeRole calls %v, want one into the member role", roles)
	}
	var summary []string
	for _, op := range slices.Sorted(maps.Keys(calls)) {
		summary = append(summary, fmt.Sprintf("%s x%d", op, calls[op]))
	}
	fmt.Printf("      role:   %s\n", roles[0])
	fmt.Printf("      calls:  %s\n", strings.Join(summary, ", "))
	show("after:")

	notices := inbox.Receive(r, 1, 10*time.Second)
	n := notices[0]
	if n.Attributes["account"] != memberAccount || n.Attributes["region"] != memberRegion || n.Attributes["kind"] != string(guard.KindRemediated) {
		r.Fatalf("notice %s %v, want REMEDIATED for %s %s", n.Subject, n.Attributes, memberAccount, memberRegion)
	}
	fmt.Printf("      notice: %s\n              on the central topic, for account %s, region %s\n              attributes %v\n",
		n.Subject, n.Attributes["account"], n.Attributes["region"], n.Attributes)
	if texts := publishedTexts(proxy); len(texts) == 1 {
		fmt.Println(indent(texts[0], "              | "))
	}
}

// recordedIn returns the sample as CloudTrail would have recorded it in
// account and region (every account id and region in it replaced: the
// envelope's account and region, recipientAccountId, awsRegion, registryId,
// the ARNs, the caller's identity), and the repository it names.
func (r *runner) recordedIn(raw []byte, account, region string) ([]byte, string) {
	edited := strings.NewReplacer(`"`+centralAccount+`"`, `"`+account+`"`, ":"+centralAccount+":", ":"+account+":",
		`"`+testenv.Region+`"`, `"`+region+`"`, ":"+testenv.Region+":", ":"+region+":", "."+testenv.Region+".", "."+region+".").Replace(string(raw))
	var ev struct {
		Account string `json:"account"`
		Region  string `json:"region"`
		Detail  struct {
			AWSRegion          string `json:"awsRegion"`
			RecipientAccountID string `json:"recipientAccountId"`
			Request            struct {
				RegistryID     string `json:"registryId"`
				RepositoryName string `json:"repositoryName"`
			} `json:"requestParameters"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(edited), &ev); err != nil {
		r.Fatalf("%v", err)
	}
	d := ev.Detail
	if ev.Account != account || d.RecipientAccountID != account || d.Request.RegistryID != account || ev.Region != region || d.AWSRegion != region {
		r.Fatalf("the edited sample is not %s %s: %+v", account, region, ev)
	}
	return []byte(edited), d.Request.RepositoryName
}

// publishedTexts returns the plain-text body of each Publish the function
// sent (what email subscribers read); the SQS inbox only gets the JSON one.
func publishedTexts(p *testenv.Proxy) []string {
	var out []string
	for _, c := range p.Calls() {
		if c.Operation != "Publish" {
			continue
		}
		form, err := url.ParseQuery(string(c.Body))
		if err != nil {
			continue
		}
		var structured map[string]string
		if json.Unmarshal([]byte(form.Get("Message")), &structured) == nil {
			out = append(out, strings.TrimRight(structured["default"], "\n"))
		}
	}
	return out
}

func prettyJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runner lets the test harness run outside a test: it collects cleanups and
// turns a fatal error into a message and exit status 1.
type runner struct {
	cleanups []func()
}

func (r *runner) Helper()                  {}
func (r *runner) Cleanup(f func())         { r.cleanups = append(r.cleanups, f) }
func (r *runner) Context() context.Context { return context.Background() }

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "ecr-guard-demo-")
	if err != nil {
		r.Fatalf("%v", err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *runner) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo failed: "+format+"\n", args...)
	r.cleanup()
	os.Exit(1)
}

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}
