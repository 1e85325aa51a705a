package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// rieInstall is the command that installs the emulator StartRIE runs.
const rieInstall = "go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// BuildBootstrap builds the main package pkg (relative to the module root,
// e.g. "./functions/remediate") as a Lambda bootstrap for the host OS and
// architecture (CGO_ENABLED=0, -tags lambda.norpc, -trimpath) and returns the
// binary's path in a temporary directory.
func BuildBootstrap(tb T, pkg string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = ModuleRoot(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testenv: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// RIE is the AWS Lambda Runtime Interface Emulator running one bootstrap.
type RIE struct {
	url  string
	proc *proc
}

// StartRIE runs aws-lambda-rie (from PATH, else GOBIN or GOPATH/bin) with
// bootstrap as the function, on two free loopback ports, and stops it when the
// test ends. env (KEY=value) reaches the function, e.g. Moto.Env(url); AWS_*
// variables of the test process are not passed on. The function starts on
// the first Invoke. Its logs and the emulator's are in Output. It is ready
// when the emulator itself rejects a probe (see answersProbe) and holds the
// runtime API port; a port another process took first is given up for new
// ones.
func StartRIE(tb T, bootstrap string, env []string) *RIE {
	tb.Helper()
	bin := findRIE()
	if bin == "" {
		tb.Fatalf("testenv: aws-lambda-rie not found in PATH, GOBIN or GOPATH/bin; install it with:\n\t%s", rieInstall)
	}
	// Keep the host's AWS settings (profiles, real credentials) away from the
	// function; the emulator forwards its whole environment to it.
	var fullEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			fullEnv = append(fullEnv, kv)
		}
	}
	fullEnv = append(fullEnv, env...)

	for attempt := 1; ; attempt++ {
		apiPort, err := pickPort()
		if err != nil {
			tb.Fatalf("testenv: free port: %v", err)
		}
		port, err := pickPort()
		if err != nil {
			tb.Fatalf("testenv: free port: %v", err)
		}
		p, err := startProc(filepath.Dir(bootstrap), fullEnv, bin,
			"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
			"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
			bootstrap)
		if err != nil {
			tb.Fatalf("testenv: start %s: %v", bin, err)
		}
		r := &RIE{url: fmt.Sprintf("http://127.0.0.1:%d", port), proc: p}
		err = p.waitReady(30*time.Second, r.ready(apiPort))
		if err == nil {
			tb.Cleanup(r.stop)
			return r
		}
		r.stop()
		if portInUse(p.out.String()) && attempt < portAttempts {
			continue
		}
		tb.Fatalf("testenv: aws-lambda-rie: %v\n--- output (tail) ---\n%s", err, tail(r.Output(), 4000))
	}
}

// The readiness probe: an invocation whose X-Amz-Client-Context is not
// base64. The emulator rejects it with a bare 500 before it starts the
// function, and logs rieProbeLog. The emulator prints nothing when it starts
// listening, so that line in its own output is what proves that the
// emulator we started, and not another server that took the port, answered.
const (
	invocationsPath = "/2015-03-31/functions/function/invocations"
	rieProbeContext = "testenv-readiness-probe" // '-' at byte 7 is not base64
	rieProbeLog     = "Failed to decode X-Amz-Client-Context: illegal base64 data at input byte 7"
)

// ready is StartRIE's readiness check: the emulator answers the probe on
// its own and holds the runtime API port (which it binds in the background:
// losing that port would kill it after the probe).
func (r *RIE) ready(apiPort int) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		return r.answersProbe(ctx) && listening(r.proc.cmd.Process.Pid, apiPort)
	}
}

// answersProbe sends the readiness probe and tells whether the emulator's
// own output shows it rejected it.
func (r *RIE) answersProbe(ctx context.Context) bool {
	if strings.Contains(r.proc.out.String(), rieProbeLog) {
		return true // an earlier probe's answer was lost, but it got there
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+invocationsPath, nil)
	if err != nil {
		return false
	}
	req.Header.Set("X-Amz-Client-Context", rieProbeContext)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		return false
	}
	// The line is written before the answer, but may still be in the pipe.
	for range 20 {
		if strings.Contains(r.proc.out.String(), rieProbeLog) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func findRIE() string {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	lines := strings.Split(string(out), "\n")
	var dirs []string
	if lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, gp := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "aws-lambda-rie")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// stop lets the emulator shut the function down (SIGTERM), then kills it.
func (r *RIE) stop() { r.proc.stop(3 * time.Second) }

// Output returns the emulator's combined output, including the function's
// stdout and stderr and the START/END/REPORT lines, less the lines the
// readiness probe caused.
func (r *RIE) Output() string {
	out := r.proc.out.String()
	if !strings.Contains(out, rieProbeLog) {
		return out
	}
	lines := strings.SplitAfter(out, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.Contains(l, rieProbeLog) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// WaitOutput waits until the emulator's output contains want, and reports
// whether it did within timeout. The function's log lines reach the output
// through the emulator, after the invocation has been answered: a test that
// reads them must wait for them.
func (r *RIE) WaitOutput(want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(r.Output(), want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Invoke sends payload as one invocation and returns the HTTP status and
// body. A handler error is status 200 with a body like
// {"errorMessage":"...","errorType":"..."}. The emulator runs one invocation
// at a time.
func (r *RIE) Invoke(tb T, payload []byte) (status int, body []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost,
		r.url+invocationsPath, bytes.NewReader(payload))
	if err != nil {
		tb.Fatalf("testenv: invoke: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		tb.Fatalf("testenv: invoke: %v\n--- RIE output (tail) ---\n%s", err, tail(r.Output(), 4000))
	}
	return resp.StatusCode, body
}
