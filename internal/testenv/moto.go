package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Region and the static credentials every harness config uses.
const (
	Region          = "us-east-1"
	AccessKeyID     = "test"
	SecretAccessKey = "test"
)

// motoInstall is the advice printed when moto cannot be started.
const motoInstall = `install it with: python3 -m pip install 'moto[server]==5.2.1' (or set MOTO_PYTHON to an interpreter that has it)`

// Moto is a moto server (python3 -m moto.server) running as a child process.
type Moto struct {
	url  string
	proc *proc
}

// StartMoto starts a moto server on a free loopback port, waits until its own
// output says it listens there and it answers, and stops it when the test
// ends; a port another process took first is given up for a new one. The interpreter is $MOTO_PYTHON or
// python3 from PATH. It fails the test (never skips) when moto is missing.
func StartMoto(tb T) *Moto {
	tb.Helper()
	m, err := startMoto()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(m.stop)
	return m
}

// Runner is what RunWithMoto needs of a *testing.M. It is an interface so
// that this package does not import testing outside its tests, and binaries
// built from it (make demo) do not link the test framework.
type Runner interface{ Run() int }

// RunWithMoto is a TestMain helper: it starts one moto server for the whole
// test binary, stores it in *shared, runs the tests (m is the *testing.M),
// stops moto and exits. Tests sharing it should call shared.Reset or use
// unique resource names.
//
//	var moto *testenv.Moto
//	func TestMain(m *testing.M) { testenv.RunWithMoto(m, &moto) }
func RunWithMoto(m Runner, shared **Moto) {
	moto, err := startMoto()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	*shared = moto
	code := m.Run()
	moto.stop()
	os.Exit(code)
}

func startMoto() (*Moto, error) {
	python := os.Getenv("MOTO_PYTHON")
	if python == "" {
		python = "python3"
	}
	if _, err := exec.LookPath(python); err != nil {
		return nil, fmt.Errorf("cannot start moto: interpreter %q not found (%v); install python3 and moto: %s", python, err, motoInstall)
	}
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			return nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		p, err := startProc("", os.Environ(), python, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		if err != nil {
			return nil, fmt.Errorf("cannot start moto with %s: %v", python, err)
		}
		m := &Moto{url: url, proc: p}
		err = p.waitReady(30*time.Second, m.ready)
		if err == nil {
			return m, nil
		}
		m.stop()
		out := p.out.String()
		switch {
		case portInUse(out) && attempt < portAttempts:
			continue
		case strings.Contains(out, "No module named"):
			return nil, fmt.Errorf("moto is not importable by %s: %s\n%s", python, motoInstall, tail(out, 2000))
		}
		return nil, fmt.Errorf("moto server %s: %v\n--- moto output (tail) ---\n%s", url, err, tail(out, 4000))
	}
}

// ready is startMoto's readiness check. Werkzeug prints
// " * Running on http://127.0.0.1:PORT" once it listens; only then is the
// answer moto's, not that of another server that took the port first (moto
// then exits with "address already in use").
func (m *Moto) ready(ctx context.Context) bool {
	return saysListening(m.proc.out.String(), "Running on "+m.url) && get(ctx, m.url+"/moto-api/") == nil
}

func (m *Moto) stop() { m.proc.stop(time.Second) }

// URL is the server's base URL, e.g. http://127.0.0.1:40123.
func (m *Moto) URL() string { return m.url }

// Output returns moto's captured stdout and stderr (its request log).
func (m *Moto) Output() string { return m.proc.out.String() }

// Reset wipes all state in moto (POST /moto-api/reset).
func (m *Moto) Reset(tb T) {
	tb.Helper()
	resp, err := http.Post(m.url+"/moto-api/reset", "application/json", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
	}
	if err != nil {
		tb.Fatalf("testenv: moto reset: %v\n%s", err, tail(m.Output(), 2000))
	}
}

// AWSConfig returns a self-contained config for clients in the test process:
// region us-east-1, static credentials test/test and BaseEndpoint endpoint
// (m.URL() or a Proxy's URL). It reads nothing from the environment or
// ~/.aws; SDK defaults (standard retryer, HTTP client) apply.
func (m *Moto) AWSConfig(tb T, endpoint string) aws.Config {
	tb.Helper()
	if endpoint == "" {
		tb.Fatalf("testenv: AWSConfig needs an endpoint")
	}
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// AccountConfig returns a config that acts as account in region, through
// endpoint: moto answers STS AssumeRole on arn:aws:iam::ACCOUNT:role/... with
// credentials that act as that account, whose ECR and SNS state is its own
// (per account and region).
func (m *Moto) AccountConfig(tb T, endpoint, account, region string) aws.Config {
	tb.Helper()
	out, err := sts.NewFromConfig(m.AWSConfig(tb, endpoint)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::" + account + ":role/testenv"),
		RoleSessionName: aws.String("testenv"),
	})
	if err != nil {
		tb.Fatalf("testenv: assume a role in account %s: %v", account, err)
	}
	cfg := m.AWSConfig(tb, endpoint)
	cfg.Region = region
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return cfg
}

// Env returns KEY=value pairs that point an SDK in a child process (e.g. a
// function under StartRIE using config.LoadDefaultConfig) at endpoint.
func (m *Moto) Env(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// get performs a GET and reports an error unless the status is 2xx.
func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
