// Package testenv is the harness for integration tests against real,
// independent implementations: the moto AWS emulator (StartMoto), an SNS→SQS
// inbox that reads what was published (NewInbox), a recording and
// fault-injecting reverse proxy in front of moto (NewProxy), and the AWS Lambda
// Runtime Interface Emulator running a built bootstrap (BuildBootstrap,
// StartRIE). Nothing here mocks AWS, with one exception said where it is:
// moto 5.2.1 has no repository creation template API, so the proxy serves
// those four operations from a small fake speaking ECR's wire format
// (templates.go), beside moto for everything else.
//
// It is Linux-only (process groups, Pdeathsig, /proc), like the Lambda it tests.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb T) int {
	tb.Helper()
	p, err := freePort()
	if err != nil {
		tb.Fatalf("testenv: free port: %v", err)
	}
	return p
}

// pickPort chooses the ports StartRIE and StartMoto start their children on.
// A test replaces it to hand out a port some other server holds.
var pickPort = freePort

// portAttempts is how often StartRIE and StartMoto try new ports after losing
// the race for one: another process took the port between freePort closing it
// and the child binding it.
const portAttempts = 5

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (a test's package directory).
func ModuleRoot(tb T) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testenv: getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Deps lists the packages pkg (e.g. "./functions/remediate") links, as
// go list -deps run in the module root sees them.
func Deps(tb T, pkg string) []string {
	tb.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Dir = ModuleRoot(tb)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		tb.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		tb.Fatalf("go list -deps %s listed nothing", pkg)
	}
	return deps
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads: the
// function's log or EMF output in a test, or a child process's output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JSONLines decodes every non-blank line as a JSON object; a line that is
// not one fails the test.
func (b *Buffer) JSONLines(tb T) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("not a JSON line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// tail returns the last n bytes of s, for failure messages.
func tail(s string, n int) string {
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// proc is a child process in its own process group, with its combined
// output captured.
type proc struct {
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{} // closed once the process has exited
	err  error         // Wait's result, valid after done
}

func startProc(dir string, env []string, name string, args ...string) (*proc, error) {
	p := &proc{out: &Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	// Own process group, so stop can kill the whole tree; die with the test
	// binary if it is killed (e.g. by go test -timeout).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls ready until it reports true while the process is still
// running, the process exits, or timeout. ready must prove that the answer
// came from this process (its own output, or a socket it holds), not merely
// that something answers on its port: another process may have taken the
// port, and the child then exits with "address already in use".
func (p *proc) waitReady(timeout time.Duration, ready func(ctx context.Context) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok := ready(ctx)
		cancel()
		if p.exited() {
			return fmt.Errorf("exited early (%v)", p.err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saysListening tells whether out, a child's output, contains url (e.g.
// "http://127.0.0.1:4012") not followed by another digit of a longer port.
func saysListening(out, url string) bool {
	for {
		i := strings.Index(out, url)
		if i < 0 {
			return false
		}
		out = out[i+len(url):]
		if out == "" || out[0] < '0' || out[0] > '9' {
			return true
		}
	}
}

// listening tells whether process pid itself holds a listening TCP socket on
// 127.0.0.1:port: the socket's inode, from /proc/PID/net/tcp, is one of the
// process's open files.
func listening(pid, port int) bool {
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	var sockets []string
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		host, hexPort, _ := strings.Cut(f[1], ":")
		n, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(n) != port || (host != "0100007F" && host != "7F000001") { // 127.0.0.1 in either byte order
			continue
		}
		sockets = append(sockets, "socket:["+f[9]+"]")
	}
	if len(sockets) == 0 {
		return false
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && slices.Contains(sockets, link) {
			return true
		}
	}
	return false
}

// portInUse tells whether a failed start looks like a lost race for a port.
func portInUse(out string) bool {
	out = strings.ToLower(out)
	return strings.Contains(out, "address already in use") || strings.Contains(out, "is in use by another program")
}

// T is the part of testing.TB the harness uses. testing.TB satisfies it, and
// so does a program that runs the harness outside a test (make demo).
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Context() context.Context
}
