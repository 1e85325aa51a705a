package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
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

	notices := inbox.Drain(t, 300*time.Millisecond)
	if len(notices) != 1 {
		t.Fatalf("got %d notices, want 1: %+v", len(notices), notices)
	}
	n := notices[0]
	t.Logf("SNS envelope: %s", n.Raw)
	if n.Subject != "repository reverted" || n.Message != `{"repository":"app"}` || n.Attributes["kind"] != "remediation" {
		t.Errorf("notice = %+v", n)
	}
	if again := inbox.Drain(t, 100*time.Millisecond); len(again) != 0 {
		t.Errorf("drain did not delete: %+v", again)
	}

	if proxy.Count("Publish") != 1 || proxy.Count("sns.Publish") != 1 || proxy.Count("ecr.Publish") != 0 {
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
	if !strings.Contains(rie.Output(), `echo: got {"say":"hi"}`) {
		t.Errorf("function log missing from output:\n%s", rie.Output())
	}
}
