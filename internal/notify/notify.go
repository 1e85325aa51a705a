// Package notify publishes notices. It is the one place that decides what
// happens to a notice that cannot be published: it is never dropped
// silently, but counted (NoticeFailures, alarmed) and logged in full at
// ERROR level, so the security team can still read it.
package notify

import (
	"context"
	"log/slog"

	"github.com/ecr-guard/ecr-guard/internal/fault"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// Publisher publishes a notice and returns its message id (internal/snspub).
type Publisher interface {
	Publish(ctx context.Context, m notice.Message) (string, error)
}

// Notifier publishes notices and accounts for the ones it cannot.
type Notifier struct {
	pub     Publisher
	metrics metrics.Counter
	format  notice.HTTPSFormat
}

// New returns a Notifier.
func New(pub Publisher, metrics metrics.Counter) *Notifier {
	return &Notifier{pub: pub, metrics: metrics}
}

// WithHTTPSFormat makes every notice's https body f (HTTPS_NOTICE_FORMAT):
// the renderers fill both bodies, the choice is made here, once, so what
// is logged of an unpublished notice is what was sent.
func (n *Notifier) WithHTTPSFormat(f notice.HTTPSFormat) *Notifier {
	n.format = f
	return n
}

// Send publishes m and returns its message id. On failure it counts
// NoticeFailures, logs the whole notice and returns the error.
func (n *Notifier) Send(ctx context.Context, log *slog.Logger, m notice.Message) (string, error) {
	m.HTTPSFormat = n.format
	id, err := n.pub.Publish(ctx, m)
	if err != nil {
		n.metrics.Count(metrics.NoticeFailures, m.Attributes["kind"], 1)
		body, _ := m.SNSMessage()
		log.Error("notice not published", "error", err.Error(), "error_code", fault.Code(err),
			"notice_subject", m.Subject, "notice_attributes", m.Attributes, "notice_message", body)
		return "", err
	}
	log.Info("notice published", "kind", m.Attributes["kind"], "severity", m.Attributes["severity"], "message_id", id, "subject", m.Subject)
	return id, nil
}
