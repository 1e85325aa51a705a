// Package notice renders what ecr-guard did into the messages the security
// team reads: a plain-text report for people and a versioned JSON document
// for machines, in one SNS message (MessageStructure json).
package notice

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
)

// SchemaVersion is the version of the JSON document; bump it on any
// incompatible change.
const SchemaVersion = "1.0"

// MaxSubjectLength is SNS's limit on Subject.
const MaxSubjectLength = 100

// MaxSNSMessageBytes is SNS's limit on a published message (body and
// message attributes together).
const MaxSNSMessageBytes = 256 * 1024

// messageBudget is the room for the message body: the limit less a margin
// for the attributes and the subject.
const messageBudget = MaxSNSMessageBytes - 4*1024

// fitting returns build(n) for the largest n <= max whose message fits SNS's
// size limit; build(0) must always fit. It cuts lists (images, repositories)
// so a notice is shortened rather than refused.
func fitting(max int, build func(n int) Message) Message {
	fits := func(m Message) bool {
		body, err := m.SNSMessage()
		return err == nil && len(body) <= messageBudget
	}
	if m := build(max); fits(m) {
		return m
	}
	lo, hi := 0, max-1 // binary search for the longest list that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(build(mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return build(lo)
}

// Message is one SNS notice.
type Message struct {
	Subject    string
	Text       string            // for people: the default and email protocols
	Document   any               // for machines: sqs, lambda, http and https
	Attributes map[string]string // SNS String message attributes, for filter policies
}

// SNSMessage renders the Message parameter for Publish with MessageStructure json.
func (m Message) SNSMessage() (string, error) {
	doc, err := marshal(m.Document)
	if err != nil {
		return "", fmt.Errorf("encode notice document: %w", err)
	}
	body, err := marshal(map[string]string{
		"default": m.Text,
		"email":   m.Text,
		"sqs":     doc,
		"lambda":  doc,
		"https":   doc,
		"http":    doc,
	})
	if err != nil {
		return "", fmt.Errorf("encode notice: %w", err)
	}
	return body, nil
}

// marshal encodes v without HTML escaping, so "->" stays readable in logs.
func marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// subject builds "[ecr-guard] KIND NAME SUFFIX" within SNS's limit, in
// printable ASCII, shortening the repository name when it must.
func subject(kind, name, suffix string) string {
	head := "[ecr-guard] " + kind + " "
	if suffix != "" {
		suffix = " " + suffix
	}
	head, name, suffix = printable(head), printable(name), printable(suffix)
	if room := MaxSubjectLength - len(head) - len(suffix); len(name) > room {
		if room < 4 {
			return (head + name + suffix)[:MaxSubjectLength]
		}
		name = name[:room-3] + "..."
	}
	return head + name + suffix
}

// printable replaces anything outside printable ASCII, which SNS rejects in
// a Subject (line breaks, control characters, non-ASCII).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// ConsoleURL links to the repository in the ECR console. Repository names
// only hold [a-z0-9._/-], so they go into the path as they are.
func ConsoleURL(region, registryID, name string) string {
	if region == "" || registryID == "" || name == "" {
		return ""
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/ecr/repositories/private/%s/%s?region=%s",
		region, registryID, name, region)
}

// LogUnpublished records, in full and at ERROR level, a notice that could
// not be published, so that no notice is ever dropped silently.
func LogUnpublished(log *slog.Logger, m Message, err error) {
	body, _ := m.SNSMessage()
	log.Error("notice not published", "error", err.Error(), "error_code", awsfail.Code(err),
		"notice_subject", m.Subject, "notice_attributes", m.Attributes, "notice_message", body)
}
