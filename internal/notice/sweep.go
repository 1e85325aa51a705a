package notice

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// KindSweepReport is the kind of the scheduled sweep's digest.
const KindSweepReport = "SWEEP_REPORT"

// SeverityInfo is the digest's severity when the sweep found nothing to do.
const SeverityInfo = "INFO"

// SweepCounts are the digest's counts, accumulated over the whole chain of
// invocations. Compliant repositories needed nothing; Remediated ones had
// their tag mutability reverted (or would have, in a dry run) and
// LifecycleRestored ones their lifecycle policy, so a repository may count in
// both; Exempt ones kept non-compliant tags under an active exemption;
// ExpiredExemptions and InvalidExemptions count repositories whose exemption
// tag no longer held (expired, or an expiry that is not YYYY-MM-DD); Failed
// ones had a read or write fail (a failed write's other outcome still
// counts); Deleted ones vanished between the listing and their reads.
type SweepCounts struct {
	Scanned           int `json:"scanned"`
	Compliant         int `json:"compliant"`
	Remediated        int `json:"remediated"`
	Exempt            int `json:"exempt"`
	ExpiredExemptions int `json:"expiredExemptions"`
	InvalidExemptions int `json:"invalidExemptions"`
	LifecycleRestored int `json:"lifecycleRestored"`
	Failed            int `json:"failed"`
	Deleted           int `json:"deleted"`
}

// Add adds o to c.
func (c *SweepCounts) Add(o SweepCounts) {
	c.Scanned += o.Scanned
	c.Compliant += o.Compliant
	c.Remediated += o.Remediated
	c.Exempt += o.Exempt
	c.ExpiredExemptions += o.ExpiredExemptions
	c.InvalidExemptions += o.InvalidExemptions
	c.LifecycleRestored += o.LifecycleRestored
	c.Failed += o.Failed
	c.Deleted += o.Deleted
}

// SweepChange is one repository the sweep changed (or would have, or failed
// on): its name and the kinds of its findings. Exemption is set when an
// exemption tag was present but did not hold (expired, invalid-expiry,
// name-not-allowed).
type SweepChange struct {
	Name      string                `json:"name"`
	Actions   []guard.Kind          `json:"actions"`
	Exemption guard.ExemptionStatus `json:"exemption,omitempty"`
}

// SweepInput is what the digest reports on.
type SweepInput struct {
	Account     string
	Region      string
	DryRun      bool
	Complete    bool // false when the chain stopped before covering every repository
	StartedAt   time.Time
	Duration    time.Duration
	Invocations int
	Counts      SweepCounts
	Changed     []SweepChange
	Omitted     int // changed repositories already left out of Changed
}

// SweepDocument is the JSON document of the digest (schema 1.0).
type SweepDocument struct {
	SchemaVersion   string        `json:"schemaVersion"`
	Kind            string        `json:"kind"`
	Severity        string        `json:"severity"`
	DryRun          bool          `json:"dryRun"`
	Complete        bool          `json:"complete"`
	Account         string        `json:"account,omitempty"`
	Region          string        `json:"region,omitempty"`
	StartedAt       string        `json:"startedAt"`
	DurationSeconds float64       `json:"durationSeconds"`
	Invocations     int           `json:"invocations"`
	Counts          SweepCounts   `json:"counts"`
	Changed         []SweepChange `json:"changed"`
	// Truncated is the number of changed repositories not listed in Changed.
	Truncated int `json:"truncated"`
}

// SweepSeverity is the severity of the digest: that of its most severe
// outcome (CRITICAL when a repository failed, HIGH when tag mutability was
// reverted or the sweep could not finish, LOW when only lifecycle policies
// were restored), INFO when there was nothing to do.
func SweepSeverity(c SweepCounts, complete bool) string {
	switch {
	case c.Failed > 0:
		return guard.SeverityCritical.String()
	case c.Remediated > 0 || !complete:
		return guard.SeverityHigh.String()
	case c.LifecycleRestored > 0:
		return guard.SeverityLow.String()
	}
	return SeverityInfo
}

// ForSweep builds the digest of one completed sweep. When the message would
// exceed SNS's size limit, the list of changed repositories is cut and ends
// with "and N more".
func ForSweep(in SweepInput) Message {
	return fitting(len(in.Changed), func(n int) Message { return sweepMessage(in, n) })
}

func sweepMessage(in SweepInput, listed int) Message {
	severity := SweepSeverity(in.Counts, in.Complete)
	doc := SweepDocument{
		SchemaVersion:   SchemaVersion,
		Kind:            KindSweepReport,
		Severity:        severity,
		DryRun:          in.DryRun,
		Complete:        in.Complete,
		Account:         in.Account,
		Region:          in.Region,
		StartedAt:       in.StartedAt.UTC().Format(time.RFC3339),
		DurationSeconds: in.Duration.Round(time.Millisecond).Seconds(),
		Invocations:     in.Invocations,
		Counts:          in.Counts,
		Changed:         in.Changed[:listed:listed],
		Truncated:       in.Omitted + len(in.Changed) - listed,
	}
	if doc.Changed == nil {
		doc.Changed = []SweepChange{}
	}
	remediated := "remediated"
	if in.DryRun {
		remediated = "would remediate"
	}
	headline := strconv.Itoa(in.Counts.Remediated) + " " + remediated + ", " + strconv.Itoa(in.Counts.Failed) + " failed"
	if in.DryRun {
		headline = "dry run: " + headline
	}
	if !in.Complete {
		headline += ", INCOMPLETE"
	}
	return Message{
		Subject:  subject(KindSweepReport, headline, "("+in.Account+" "+in.Region+")"),
		Text:     sweepText(doc),
		Document: doc,
		Attributes: map[string]string{
			"kind":     KindSweepReport,
			"severity": severity,
			"account":  in.Account,
			"region":   in.Region,
		},
	}
}

func sweepText(doc SweepDocument) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ecr-guard %s (%s): account %s, %s\n", doc.Kind, doc.Severity, doc.Account, doc.Region)
	if doc.DryRun {
		b.WriteString("DRY RUN: nothing was changed.\n")
	}
	if !doc.Complete {
		b.WriteString("INCOMPLETE: the sweep stopped before it covered every repository; see the function's logs.\n")
	}
	b.WriteString("\n")
	duration := time.Duration(doc.DurationSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(&b, "Scheduled sweep of every repository, started %s, took %s in %d invocation(s).\n\n", doc.StartedAt, duration, doc.Invocations)
	remediated, restored := "Remediated:", "Lifecycle restored:"
	if doc.DryRun {
		remediated, restored = "Would remediate:", "Would restore lifecycle:"
	}
	c := doc.Counts
	for _, row := range []struct {
		label string
		n     int
	}{
		{"Scanned:", c.Scanned},
		{"Compliant:", c.Compliant},
		{remediated, c.Remediated},
		{"  exemption expired:", c.ExpiredExemptions},
		{"  exemption invalid:", c.InvalidExemptions},
		{"Exempt:", c.Exempt},
		{restored, c.LifecycleRestored},
		{"Failed:", c.Failed},
		{"Deleted mid-sweep:", c.Deleted},
	} {
		fmt.Fprintf(&b, "%-24s%8d\n", row.label, row.n)
	}
	if len(doc.Changed) == 0 && doc.Truncated == 0 {
		return b.String()
	}
	b.WriteString("\nRepositories changed:\n")
	for _, ch := range doc.Changed {
		actions := make([]string, len(ch.Actions))
		for i, a := range ch.Actions {
			actions[i] = string(a)
		}
		fmt.Fprintf(&b, "  - %s: %s", ch.Name, strings.Join(actions, ", "))
		if ch.Exemption != "" {
			fmt.Fprintf(&b, " (exemption %s)", ch.Exemption)
		}
		b.WriteString("\n")
	}
	if doc.Truncated > 0 {
		fmt.Fprintf(&b, "  ... and %d more\n", doc.Truncated)
	}
	return b.String()
}
