package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

var moto *Moto

func TestMain(m *testing.M) { RunWithMoto(m, &moto) }

func oneAttempt(o *ecr.Options) { o.RetryMaxAttempts = 1 }

func TestInboxThroughProxy(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	inbox := NewInbox(t, moto.AWSConfig(t, moto.URL()))
	client := sns.NewFromConfig(moto.AWSConfig(t, proxy.URL()))

	_, err := client.Publish(context.Background(), &sns.PublishInput{
		TopicArn:         aws.String(inbox.TopicARN()),
		Subject:          aws.String("repository reverted"),
		MessageStructure: aws.String("json"),
		Message:          aws.String(`{"default":"plain text","sqs":"{\"repository\":\"app\"}"}`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("remediation")},
		},
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}

	notices := inbox.Receive(t, 1, 5*time.Second)
	n := notices[0]
	t.Logf("SNS envelope: %s", n.Raw)
	if n.Subject != "repository reverted" || n.Message != `{"repository":"app"}` || n.Attributes["kind"] != "remediation" {
		t.Errorf("notice = %+v", n)
	}
	// Received means deleted: nothing is left, visible or in flight.
	attrs, err := inbox.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(inbox.queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := attrs.Attributes; a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("Receive did not delete: %v", a)
	}

	if proxy.Count("Publish") != 1 || proxy.Count("sns.Publish") != 1 || proxy.Count("ecr.Publish") != 0 || proxy.Forwarded("Publish") != 1 {
		t.Fatalf("calls = %+v", proxy.Calls())
	}
	call := proxy.Calls()[0]
	form, _ := url.ParseQuery(string(call.Body))
	if call.Service != "sns" || form.Get("TopicArn") != inbox.TopicARN() {
		t.Errorf("recorded %s %s with form %v", call.Service, call.Operation, form)
	}
	proxy.Reset()
	if len(proxy.Calls()) != 0 {
		t.Errorf("Reset kept calls")
	}
}

func TestAPIErrorFaultJSON(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	proxy.InjectFault("DescribeRepositories", APIErrorFault(400, "ThrottlingException"), 1)

	_, err := client.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ThrottlingException" {
		t.Fatalf("err = %v, want ThrottlingException", err)
	}
	if _, err := client.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	if got := proxy.Count("ecr.DescribeRepositories"); got != 2 {
		t.Errorf("count = %d, want 2", got)
	}
	if got := proxy.Forwarded("ecr.DescribeRepositories"); got != 1 {
		t.Errorf("forwarded = %d, want 1 (the fault answered the first)", got)
	}
}

func TestAPIErrorFaultQuery(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := sns.NewFromConfig(moto.AWSConfig(t, proxy.URL()), func(o *sns.Options) { o.RetryMaxAttempts = 1 })
	proxy.InjectFault("Publish", APIErrorFault(400, "InvalidParameter"), -1)

	_, err := client.Publish(context.Background(), &sns.PublishInput{
		TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:any"), Message: aws.String("x"),
	})
	var invalid *snstypes.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Fatalf("err = %v (%T), want InvalidParameterException", err, errors.Unwrap(err))
	}
}

func TestStatusFaultRetried(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL())) // default retries
	proxy.InjectFault("DescribeRepositories", StatusFault(503), 1)

	if _, err := client.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatalf("DescribeRepositories: %v", err)
	}
	if got := proxy.Count("DescribeRepositories"); got != 2 {
		t.Errorf("count = %d, want 2 (503 then success)", got)
	}
}

func TestResetFault(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	proxy.InjectFault("DescribeRepositories", ResetFault(), 1)

	_, err := client.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{})
	var apiErr smithy.APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	t.Logf("reset surfaces as: %v", err)
}

func TestDelayFaultHonorsCancel(t *testing.T) {
	proxy := NewProxy(t, moto.URL())
	client := ecr.NewFromConfig(moto.AWSConfig(t, proxy.URL()), oneAttempt)
	proxy.InjectFault("DescribeRepositories", DelayFault(5*time.Second), 1)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v, want a quick deadline error", err, time.Since(start))
	}
	if _, err := client.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatalf("after the delay fault: %v", err)
	}
}

func TestStartMotoAndReset(t *testing.T) {
	m := StartMoto(t)
	client := sns.NewFromConfig(m.AWSConfig(t, m.URL()))
	ctx := context.Background()
	if _, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	m.Reset(t)
	out, err := client.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(out.Topics) != 0 {
		t.Fatalf("after reset: %v topics, err %v", out, err)
	}
}

func TestMissingPythonFails(t *testing.T) {
	t.Setenv("MOTO_PYTHON", "/nonexistent/python3")
	_, err := startMoto()
	if err == nil || !strings.Contains(err.Error(), "pip install") {
		t.Fatalf("err = %v, want install advice", err)
	}
}

func TestMissingMotoModuleFails(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "python3")
	script := "#!/bin/sh\necho '/usr/bin/python3: No module named moto' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOTO_PYTHON", fake)
	_, err := startMoto()
	if err == nil || !strings.Contains(err.Error(), "pip install") || !strings.Contains(err.Error(), "No module named moto") {
		t.Fatalf("err = %v, want install advice and moto's output", err)
	}
}

func TestRIE(t *testing.T) {
	start := time.Now()
	bootstrap := BuildBootstrap(t, "./internal/testenv/testdata/echo")
	t.Logf("build: %v", time.Since(start))
	start = time.Now()
	rie := StartRIE(t, bootstrap, append(moto.Env("http://127.0.0.1:1"), "ECHO_MARK=hello"))
	t.Logf("RIE ready: %v", time.Since(start))
	if out := rie.proc.out.String(); !strings.Contains(out, rieProbeLog) || strings.Contains(out, "INIT START") {
		t.Errorf("the readiness probe was not rejected by the emulator, or it started the function:\n%s", out)
	}

	status, body := rie.Invoke(t, []byte(`{"say":"hi"}`))
	if status != 200 || string(body) != `{"say":"hi"}` {
		t.Errorf("echo: %d %s", status, body)
	}

	status, body = rie.Invoke(t, []byte(`{"fail":true}`))
	var lambdaErr struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(body, &lambdaErr); status != 200 || err != nil || lambdaErr.ErrorType == "" || lambdaErr.ErrorMessage != "asked to fail" {
		t.Errorf("fail: %d %s", status, body)
	}
	t.Logf("handler error: %d %s", status, body)

	for name, want := range map[string]string{
		"ECHO_MARK":        "hello",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1",
		"AWS_REGION":       Region,
	} {
		_, body := rie.Invoke(t, []byte(`{"getenv":"`+name+`"}`))
		if string(body) != `{"value":"`+want+`"}` {
			t.Errorf("function sees %s: %s, want %q", name, body, want)
		}
	}
	if !rie.WaitOutput(`echo: got {"say":"hi"}`, 10*time.Second) {
		t.Errorf("function log missing from output:\n%s", rie.Output())
	}
	if strings.Contains(rie.Output(), "X-Amz-Client-Context") {
		t.Errorf("the readiness probe's log line is in Output:\n%s", rie.Output())
	}
}

// impostor is another test's server on a loopback port: it answers 404
// (like moto and the RIE do for unknown paths), 200 for /moto-api/ and a
// bare 500 for invocations (like the RIE rejecting the readiness probe).
func impostor(t *testing.T) (port int, hits func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		switch r.URL.Path {
		case "/moto-api/":
			fmt.Fprint(w, "<html>moto</html>")
		case invocationsPath:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// sleeper is a running child that listens nowhere; its output says it
// listens on a port that starts with the impostor's digits.
func sleeper(t *testing.T, port int) *proc {
	t.Helper()
	p, err := startProc("", nil, "/bin/sh", "-c", fmt.Sprintf(`echo " * Running on http://127.0.0.1:%d0"; exec sleep 60`, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(time.Second) })
	return p
}

// TestReadinessIgnoresAnotherServer: while our child runs but does not
// listen, a server that took its port answers like the real one would; the
// readiness checks must not take it for the child.
func TestReadinessIgnoresAnotherServer(t *testing.T) {
	port, hits := impostor(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	r := &RIE{url: url, proc: sleeper(t, port)}
	if err := r.proc.waitReady(time.Second, r.ready(port)); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("RIE readiness: %v, want not ready", err)
	}
	m := &Moto{url: url, proc: sleeper(t, port)}
	if err := m.proc.waitReady(time.Second, m.ready); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("moto readiness: %v, want not ready", err)
	}
	if hits() == 0 {
		t.Errorf("the impostor was never asked")
	}
}

// takenPorts makes pickPort hand out taken first, then free ports, and
// counts the calls.
func takenPorts(t *testing.T, taken ...int) *int {
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls <= len(taken) {
			return taken[calls-1], nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })
	return &calls
}

// TestStartRIEGivesUpTakenPorts: the emulator's address, then its runtime
// API address, is held by another server; StartRIE must start it on new ones
// and not talk to the impostor.
func TestStartRIEGivesUpTakenPorts(t *testing.T) {
	bootstrap := BuildBootstrap(t, "./internal/testenv/testdata/echo")
	port, _ := impostor(t)
	for _, tc := range []struct {
		name  string
		taken []int // runtime API port, emulator port
	}{
		{"emulator port", []int{0, port}},
		{"runtime API port", []int{port}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.taken[0] == 0 {
				p, err := freePort()
				if err != nil {
					t.Fatal(err)
				}
				tc.taken[0] = p
			}
			calls := takenPorts(t, tc.taken...)
			rie := StartRIE(t, bootstrap, nil)
			if *calls < 4 {
				t.Errorf("pickPort called %d times, want a second pair of ports", *calls)
			}
			if strings.HasSuffix(rie.url, fmt.Sprint(":", port)) {
				t.Fatalf("StartRIE took the impostor at %s", rie.url)
			}
			if status, body := rie.Invoke(t, []byte(`{"say":"hi"}`)); status != 200 || string(body) != `{"say":"hi"}` {
				t.Errorf("echo: %d %s\n%s", status, body, rie.Output())
			}
		})
	}
}

// TestStartMotoGivesUpATakenPort: another server holds moto's first port.
func TestStartMotoGivesUpATakenPort(t *testing.T) {
	port, _ := impostor(t)
	calls := takenPorts(t, port)
	m := StartMoto(t)
	if *calls < 2 || m.URL() == fmt.Sprintf("http://127.0.0.1:%d", port) {
		t.Fatalf("StartMoto at %s after %d ports, want a second port", m.URL(), *calls)
	}
	if !strings.Contains(m.Output(), "Running on "+m.URL()) {
		t.Errorf("moto output:\n%s", m.Output())
	}
	m.Reset(t)
}

func TestSaysListening(t *testing.T) {
	const out = " * Running on http://127.0.0.1:40123\nPress CTRL+C to quit\n"
	for url, want := range map[string]bool{
		"http://127.0.0.1:40123": true,
		"http://127.0.0.1:4012":  false,
		"http://127.0.0.1:401":   false,
		"http://127.0.0.1:40124": false,
	} {
		if got := saysListening(out, url); got != want {
			t.Errorf("saysListening(%q) = %v, want %v", url, got, want)
		}
	}
	if !saysListening("on http://127.0.0.1:4012", "http://127.0.0.1:4012") {
		t.Errorf("at the end of the output")
	}
}

func TestListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if !listening(os.Getpid(), port) {
		t.Errorf("this process listens on %d", port)
	}
	p := sleeper(t, port)
	if listening(p.cmd.Process.Pid, port) {
		t.Errorf("the sleeper does not listen on %d", port)
	}
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if listening(os.Getpid(), free) {
		t.Errorf("nobody listens on %d", free)
	}
}

// fatalT stops the function under test at its first Fatalf and keeps the
// message, so a test can check that a helper fails.
type fatalT struct {
	T
	msg string
}

type fatalStop struct{}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalStop{})
}

// failure runs fn with a fatalT and returns its Fatalf message ("" if none).
func failure(t *testing.T, fn func(tb T)) (msg string) {
	f := &fatalT{T: t}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatalStop); !ok {
				panic(r)
			}
			msg = f.msg
		}
	}()
	fn(f)
	return ""
}

func TestInboxReceive(t *testing.T) {
	cfg := moto.AWSConfig(t, moto.URL())
	inbox := NewInbox(t, cfg)
	client := sns.NewFromConfig(cfg)
	publish := func(n int) {
		for i := range n {
			if _, err := client.Publish(context.Background(), &sns.PublishInput{
				TopicArn: aws.String(inbox.TopicARN()), Message: aws.String(fmt.Sprint("m", i)),
			}); err != nil {
				t.Fatal(err)
			}
		}
	}

	publish(2)
	start := time.Now()
	if got := inbox.Receive(t, 2, 30*time.Second); len(got) != 2 || got[0].Message != "m0" || got[1].Message != "m1" {
		t.Errorf("Receive = %+v", got)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Receive took %v for messages already queued: it waited for its timeout", took)
	}

	start = time.Now()
	msg := failure(t, func(tb T) { inbox.Receive(tb, 1, 300*time.Millisecond) })
	if !strings.Contains(msg, "0 of 1 notices after 300ms") || time.Since(start) > 10*time.Second {
		t.Errorf("Receive on an empty queue: %q after %v", msg, time.Since(start))
	}

	publish(3)
	if msg := failure(t, func(tb T) { inbox.Receive(tb, 2, 5*time.Second) }); !strings.Contains(msg, "3 notices, want 2") {
		t.Errorf("Receive of 2 with 3 queued: %q", msg)
	}
}
