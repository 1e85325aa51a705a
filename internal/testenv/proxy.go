package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proxy is a reverse proxy between the code under test and moto that records
// every request and can inject faults per operation. Point an SDK at URL().
// It is safe for concurrent use.
//
// moto 5.2.1 lacks ECR's repository creation template API, so the proxy
// answers those four operations itself, from a fake speaking ECR's wire
// format (templates.go), recorded and faulted like any other call. The
// templates are the proxy's: seed and read them with the SDK through URL(),
// e.g. ecr.CreateRepositoryCreationTemplate with Moto.AWSConfig or
// Moto.AccountConfig for another account or region. The fake's
// UpdateRepositoryCreationTemplate drops every member the request leaves out.
type Proxy struct {
	srv       *httptest.Server
	rp        *httputil.ReverseProxy
	templates *templates

	mu     sync.Mutex
	calls  []*Call
	faults []*faultRule
}

// Call is one request seen by the proxy.
type Call struct {
	Service   string // SigV4 signing name from Authorization, e.g. "ecr", "sns", "sqs"
	Operation string // e.g. "DescribeRepositories", "Publish"; else "METHOD /path"
	Body      []byte // the request body as sent
	Forwarded bool   // passed on to the target or the template fake (after any DelayFault), not answered by a fault
	// Attempt is the SDK's attempt number of the call (its amz-sdk-request
	// header, "attempt=N; max=M"): above 1 for a retry; 0 when not given.
	Attempt int
}

// Fault is what the proxy does instead of (or before) forwarding a request.
// Build one with APIErrorFault, StatusFault, ResetFault or DelayFault.
type Fault struct {
	status int           // APIErrorFault, StatusFault
	code   string        // APIErrorFault
	reset  bool          // ResetFault
	delay  time.Duration // DelayFault
}

// APIErrorFault answers with an AWS error of the given HTTP status and error
// code (e.g. 400 "ThrottlingException") in the request's protocol: a JSON
// body {"__type": code, "message": ...} plus X-Amzn-Errortype for JSON
// protocols (ECR, SQS), an XML ErrorResponse for the query protocol (SNS).
func APIErrorFault(status int, code string) Fault { return Fault{status: status, code: code} }

// StatusFault answers with a bare HTTP status (e.g. 500, 503) and no body.
func StatusFault(status int) Fault { return Fault{status: status} }

// ResetFault closes the client's connection abruptly (TCP RST) without
// answering.
func ResetFault() Fault { return Fault{reset: true} }

// DelayFault waits d (or until the client gives up) before forwarding.
func DelayFault(d time.Duration) Fault { return Fault{delay: d} }

type faultRule struct {
	op    string
	body  string // the request body must contain it ("" matches any)
	fault Fault
	times int // remaining matching requests; -1 = unlimited
}

// NewProxy starts a proxy to target (e.g. moto.URL()) that stops with the test.
func NewProxy(tb T, target string) *Proxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		tb.Fatalf("testenv: proxy target %q: %v", target, err)
	}
	p := &Proxy{templates: newTemplates(target)}
	p.rp = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // forward the request exactly as signed
	}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's base URL, to use as an SDK endpoint.
func (p *Proxy) URL() string { return p.srv.URL }

// InjectFault makes the next times requests matching op get f (times -1:
// every request). op is an operation name ("Publish") or, to tell services
// apart, "service.Operation" ("ecr.TagResource"). Rules apply in the order
// injected; a request gets the first rule with matches left, so faults on
// one operation can be queued.
func (p *Proxy) InjectFault(op string, f Fault, times int) {
	p.InjectFaultIf(op, "", f, times)
}

// InjectFaultIf is InjectFault for the requests whose body contains
// bodyContains too, e.g. the one account whose AssumeRole is refused
// (the RoleArn, URL-encoded in the body, holds the account id).
func (p *Proxy) InjectFaultIf(op, bodyContains string, f Fault, times int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &faultRule{op: op, body: bodyContains, fault: f, times: times})
}

// ClearFaults removes all injected faults.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Calls returns a copy of the requests seen so far, in arrival order,
// including those that got a fault.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Call, len(p.calls))
	for i, c := range p.calls {
		out[i] = *c
	}
	return out
}

// Count returns how many requests matched op (as in InjectFault).
func (p *Proxy) Count(op string) int {
	n := 0
	for _, c := range p.Calls() {
		if c.matches(op) {
			n++
		}
	}
	return n
}

// Forwarded returns how many requests matching op were passed on to the
// target rather than answered by a fault: with op "sns.Publish", how many
// messages can have reached the topic.
func (p *Proxy) Forwarded(op string) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Forwarded && c.matches(op) {
			n++
		}
	}
	return n
}

// Reset forgets the recorded calls (injected faults stay; see ClearFaults).
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

func (c Call) matches(op string) bool {
	return op == c.Operation || op == c.Service+"."+c.Operation
}

var credentialService = regexp.MustCompile(`Credential=[^/]*/[^/]*/[^/]*/([^/]+)/`)

// identify names the service and operation of r, whose body has been read.
func identify(r *http.Request, body []byte) Call {
	c := Call{Body: body}
	if a, ok := strings.CutPrefix(r.Header.Get("Amz-Sdk-Request"), "attempt="); ok {
		a, _, _ = strings.Cut(a, ";")
		c.Attempt, _ = strconv.Atoi(a)
	}
	if m := credentialService.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.Service = m[1]
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" { // JSON protocols: "Prefix.Operation"
		c.Operation = target[strings.LastIndex(target, ".")+1:]
		return c
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") { // query protocol
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			c.Operation = form.Get("Action")
			return c
		}
	}
	c.Operation = r.Method + " " + r.URL.Path
	return c
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	call := identify(r, body)

	p.mu.Lock()
	p.calls = append(p.calls, &call)
	var fault *Fault
	for _, rule := range p.faults {
		if rule.times != 0 && call.matches(rule.op) && bytes.Contains(call.Body, []byte(rule.body)) {
			if rule.times > 0 {
				rule.times--
			}
			fault = &rule.fault
			break
		}
	}
	p.mu.Unlock()

	if fault != nil {
		switch {
		case fault.reset:
			resetConn(w)
			return
		case fault.delay > 0:
			select {
			case <-time.After(fault.delay):
			case <-r.Context().Done():
				return
			}
		case fault.code != "":
			writeAPIError(w, r, call, fault.status, fault.code)
			return
		case fault.status != 0:
			w.WriteHeader(fault.status)
			return
		}
	}
	p.mu.Lock()
	call.Forwarded = true
	p.mu.Unlock()
	if call.Service == "ecr" && templateOperations[call.Operation] {
		p.templates.ServeHTTP(w, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// writeJSONError writes an error of the AWS JSON protocols (contentType
// application/x-amz-json-1.0 or -1.1): the code in X-Amzn-Errortype and as
// the body's __type.
func writeJSONError(w http.ResponseWriter, contentType string, status int, code, message string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// resetConn hijacks the connection and closes it with SO_LINGER 0, so the
// client sees a reset rather than a clean close.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // the server drops the connection
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}

// writeAPIError writes an error in the shape moto (and AWS) use for the
// request's protocol.
func writeAPIError(w http.ResponseWriter, r *http.Request, call Call, status int, code string) {
	const msg = "fault injected by testenv proxy"
	w.Header().Set("X-Amzn-Requestid", "testenv-fault")
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-amz-json") {
		writeJSONError(w, ct, status, code, msg)
		return
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	form, _ := url.ParseQuery(string(call.Body))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://%s.amazonaws.com/doc/%s/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>testenv-fault</RequestId></ErrorResponse>`,
		html.EscapeString(call.Service), html.EscapeString(form.Get("Version")), kind, html.EscapeString(code), msg)
}
