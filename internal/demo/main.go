// Command demo runs ecr-guard locally, for real: it starts moto, builds the
// function, runs the bootstrap under the Lambda Runtime Interface Emulator,
// seeds each repository in its starting state, sends every events/ sample and
// prints what the function did and the notices it published. Run it with
// `make demo`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

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

	r.drySweep(api, inbox, proxy, env, baseline)
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
