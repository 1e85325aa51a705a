package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

type publisher struct{ err error }

func (p publisher) Publish(context.Context, notice.Message) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	return "msg-1", nil
}

func setup(err error) (*Notifier, *testenv.Buffer, *testenv.Buffer, notice.Message) {
	logs, emf := &testenv.Buffer{}, &testenv.Buffer{}
	n := New(publisher{err: err}, metrics.NewEMF(emf, "f", time.Now))
	m := notice.Message{Subject: "[ecr-guard] REMEDIATED team-a/web", Text: "the whole report", Document: map[string]string{"kind": "REMEDIATED"},
		Attributes: map[string]string{"kind": "REMEDIATED", "severity": "HIGH"}}
	return n, logs, emf, m
}

func TestSendPublishes(t *testing.T) {
	n, logs, emf, m := setup(nil)
	id, err := n.Send(context.Background(), slog.New(slog.NewJSONHandler(logs, nil)), m)
	if err != nil || id != "msg-1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	if l := logs.JSONLines(t); len(l) != 1 || l[0]["level"] != "INFO" || l[0]["message_id"] != "msg-1" {
		t.Fatalf("log %v", l)
	}
	if emf.String() != "" {
		t.Fatalf("metrics for a published notice: %s", emf)
	}
}

// A notice that cannot be published is never dropped silently: counted,
// and logged in full (the security team can still read it there).
func TestSendLogsAndCountsAnUnpublishedNotice(t *testing.T) {
	refused := &fault.Error{Err: errors.New("KMS key disabled"), Code: "KMSDisabledException"}
	n, logs, emf, m := setup(refused)
	if _, err := n.Send(context.Background(), slog.New(slog.NewJSONHandler(logs, nil)), m); !errors.Is(err, refused) {
		t.Fatalf("Send = %v", err)
	}
	l := logs.JSONLines(t)
	if len(l) != 1 || l[0]["level"] != "ERROR" || l[0]["error_code"] != "KMSDisabledException" ||
		!strings.Contains(l[0]["notice_message"].(string), "the whole report") || l[0]["notice_subject"] != m.Subject {
		t.Fatalf("log %v", l)
	}
	if lines := emf.JSONLines(t); len(lines) != 1 || lines[0]["NoticeFailures"] != float64(1) || lines[0]["Kind"] != "REMEDIATED" {
		t.Fatalf("metrics %v", lines)
	}
}

type recorder struct{ got []notice.Message }

func (r *recorder) Publish(_ context.Context, m notice.Message) (string, error) {
	r.got = append(r.got, m)
	return "msg-1", nil
}

// HTTPS_NOTICE_FORMAT is applied here, once, to what is sent.
func TestSendAppliesTheHTTPSFormat(t *testing.T) {
	rec := &recorder{}
	n := New(rec, metrics.NewEMF(io.Discard, "f", time.Now)).WithHTTPSFormat(notice.HTTPSChat)
	m := notice.Message{Subject: "s", Text: "t", Document: map[string]string{}, Attributes: map[string]string{"kind": "REMEDIATED"}}
	if _, err := n.Send(context.Background(), slog.New(slog.NewJSONHandler(io.Discard, nil)), m); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || rec.got[0].HTTPSFormat != notice.HTTPSChat {
		t.Fatalf("published %+v", rec.got)
	}
}
