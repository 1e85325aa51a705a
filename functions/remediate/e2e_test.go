package main

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

var moto *testenv.Moto

func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }

// TestEndToEndUnderRIE runs the real bootstrap under the Lambda Runtime
// Interface Emulator against moto and sends it every events/ scenario.
func TestEndToEndUnderRIE(t *testing.T) {
	bootstrap := testenv.BuildBootstrap(t, "./functions/remediate")
	direct := moto.AWSConfig(t, moto.URL())
	api := ecr.NewFromConfig(direct)
	inbox := testenv.NewInbox(t, direct)
	proxy := testenv.NewProxy(t, moto.URL())

	env := moto.Env(proxy.URL())
	for k, v := range scenario.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "SNS_TOPIC_ARN="+inbox.TopicARN())
	rie := testenv.StartRIE(t, bootstrap, env)

	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, sc := range scenario.All {
		t.Run(sc.Title, func(t *testing.T) {
			if err := scenario.Seed(ctx, api, sc.Repo, sc.Seed, baseline.Text()); err != nil {
				t.Fatal(err)
			}
			raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), sc.Event, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			proxy.Reset()
			status, body := rie.Invoke(t, raw)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if failed := strings.Contains(string(body), `"errorType"`); failed != sc.Err {
				t.Fatalf("response %s, want error %v\n%s", body, sc.Err, rie.Output())
			}
			if sc.Rejected && len(proxy.Calls()) != 0 {
				t.Fatalf("rejected event made AWS calls: %v", proxy.Calls())
			}
			got, err := scenario.Read(ctx, api, sc.Repo, baseline)
			if err != nil {
				t.Fatal(err)
			}
			if !scenario.Equal(got, sc.Expected()) {
				t.Fatalf("state = %v, want %v\n%s", got, sc.Expected(), rie.Output())
			}
			want := 0
			if sc.Kind != "" {
				want = 1
			}
			if n := proxy.Count("Publish"); n != want {
				t.Fatalf("%d Publish calls, want %d", n, want)
			}
			notices := inbox.Receive(t, want, 5*time.Second)
			if sc.Kind != "" && (notices[0].Subject != sc.Subject || notices[0].Attributes["kind"] != string(sc.Kind)) {
				t.Fatalf("want one %s notice %q, got %+v", sc.Kind, sc.Subject, notices)
			}
		})
	}

	// The function's log is JSON lines: slog records and EMF metrics (the
	// last invocation's reach the output after its answer).
	rie.WaitOutput(`"_aws"`, 10*time.Second)
	var records, metrics int
	for _, line := range strings.Split(rie.Output(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the emulator's own START/END/REPORT lines
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if _, ok := m["_aws"]; ok {
			metrics++
		} else if m["level"] != nil && m["msg"] != nil {
			records++
		}
	}
	if records == 0 || metrics == 0 {
		t.Fatalf("want slog records and EMF lines in the log, got %d and %d:\n%s", records, metrics, rie.Output())
	}
}

// TestBadConfigurationStopsTheColdStart checks that a bad value fails the
// init (the emulator answers 502, Runtime.ExitError) with one message naming
// the variable.
func TestBadConfigurationStopsTheColdStart(t *testing.T) {
	bootstrap := testenv.BuildBootstrap(t, "./functions/remediate")
	env := append(moto.Env(moto.URL()), "SNS_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:t", "LIFECYCLE_MODE=sometimes")
	rie := testenv.StartRIE(t, bootstrap, env)
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), "create-repository-mutable.json", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := rie.Invoke(t, raw); status == 200 {
		t.Fatalf("status %d body %s: the invocation must fail when init fails", status, body)
	}
	if !rie.WaitOutput(`LIFECYCLE_MODE: unknown mode \"sometimes\"`, 10*time.Second) {
		t.Fatalf("the log does not name the variable:\n%s", rie.Output())
	}
}

// BenchmarkColdStart starts the real bootstrap under the RIE once per
// iteration and reads how long its init took: init-ms/op is the median, the
// function's own start-up (configuration, SDK clients, the STS call that
// tells its account), not the emulator's.
func BenchmarkColdStart(b *testing.B) {
	coldStarts(b, testenv.BuildBootstrap(b, "./functions/remediate"),
		append(moto.Env(moto.URL()), "SNS_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:cold-start"))
}

// coldStarts starts bootstrap under a new RIE per iteration, sends it an
// event it does not handle (init is all it costs) and reports the median
// init.
func coldStarts(b *testing.B, bootstrap string, env []string) {
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(b), "delete-repository.json", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var inits []float64
	for b.Loop() {
		rie := testenv.StartRIE(b, bootstrap, env)
		if status, body := rie.Invoke(b, raw); status != 200 {
			b.Fatalf("status %d: %s", status, body)
		}
		// The emulator may log after it answers.
		rie.WaitOutput("INIT REPORT(durationMs: ", 10*time.Second)
		ms, ok := initDuration(rie.Output())
		if !ok {
			b.Fatalf("no Init Duration in the emulator's output:\n%s", rie.Output())
		}
		inits = append(inits, ms)
	}
	slices.Sort(inits)
	b.ReportMetric(inits[len(inits)/2], "init-ms/op")
}

// initDuration reads the emulator's "INIT REPORT(durationMs: 7.83)" line:
// from the bootstrap's start to its first request for work. (Its REPORT
// line's "Init Duration" is not that: it says 0.04 ms whatever init took.)
func initDuration(out string) (float64, bool) {
	_, rest, ok := strings.Cut(out, "INIT REPORT(durationMs: ")
	if !ok {
		return 0, false
	}
	value, _, _ := strings.Cut(rest, ")")
	ms, err := strconv.ParseFloat(value, 64)
	return ms, err == nil
}
