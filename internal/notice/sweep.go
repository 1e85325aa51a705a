package notice

import (
	"cmp"
	"fmt"
	"slices"
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
// Templates are the repository creation templates checked,
// TemplatesChanged those fixed (or that would be, in a dry run) or that
// failed; a failed template counts in Failed too.
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
	Templates         int `json:"templates"`
	TemplatesChanged  int `json:"templatesChanged"`
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
	c.Templates += o.Templates
	c.TemplatesChanged += o.TemplatesChanged
}

// SweepChange is one repository or template the sweep changed (or would
// have, or failed on): its name and the kinds of its findings. Exemption is
// set when an exemption tag was present but did not hold (expired,
// invalid-expiry, name-not-allowed).
type SweepChange struct {
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// ResourceType is "template" for a repository creation template, whose
	// prefix Name then is, and "" for a repository (the 1.0 shape).
	ResourceType string                `json:"resourceType,omitempty"`
	Name         string                `json:"name"`
	Actions      []guard.Kind          `json:"actions"`
	Exemption    guard.ExemptionStatus `json:"exemption,omitempty"`
}

// Severity ranks the change in the digest: CRITICAL when something failed,
// LOW when only lifecycle policies were restored, HIGH for a tag mutability
// revert (done or dry-run) or an exemption that no longer held, and for any
// kind it does not know, so that nothing unknown is ever cut. A template
// change is at least HIGH: a template shapes every repository ECR will
// create under its prefix.
func (c SweepChange) Severity() guard.Severity {
	s := guard.SeverityLow
	if c.ResourceType == ResourceTemplate {
		s = guard.SeverityHigh
	}
	switch c.Exemption {
	case "", guard.ExemptionNone, guard.ExemptionActive:
	default:
		s = guard.SeverityHigh
	}
	for _, a := range c.Actions {
		switch a {
		case guard.KindFailed:
			return guard.SeverityCritical
		case guard.KindLifecycleRestored, guard.KindWouldRestoreLifecycle:
		case guard.KindExempt, guard.KindExemptionGranted:
			s = max(s, guard.SeverityMedium)
		default:
			s = max(s, guard.SeverityHigh)
		}
	}
	return s
}

// MustName reports whether the digest must name the change: everything
// but a repository's lifecycle-only (LOW) changes, which are cut first.
func (c SweepChange) MustName() bool { return c.Severity() > guard.SeverityLow }

// SortSweepChanges orders changes as the digest lists them: by severity
// (CRITICAL, HIGH, MEDIUM, then LOW), templates before repositories, then
// by name.
func SortSweepChanges(changes []SweepChange) {
	slices.SortStableFunc(changes, func(a, b SweepChange) int {
		return cmp.Or(cmp.Compare(b.Severity(), a.Severity()),
			cmp.Compare(b.ResourceType, a.ResourceType), // "template" before ""
			cmp.Compare(a.Name, b.Name))
	})
}

// SweepInput is what the digest reports on.
type SweepInput struct {
	Account     string
	Region      string
	ChainID     string // names the sweep, so the parts of one report can be told apart
	DryRun      bool
	Complete    bool // false when the chain stopped before covering every repository
	StartedAt   time.Time
	Duration    time.Duration
	Invocations int
	Counts      SweepCounts
	Changed     []SweepChange // in any order
	Omitted     int           // lifecycle-only changes already left out of Changed
	// PartsSent is the number of parts of this report already published
	// by earlier links (interim parts); the parts built now follow them.
	PartsSent int
	// Targets is how many registries (an account in a region) the sweep
	// covered; PerTarget has the counts of those where something was not
	// compliant, FailedTargets those it could not cover at all.
	Targets       int
	PerTarget     []SweepTarget
	FailedTargets []SweepFailedTarget
	// FailedTargetsOmitted counts failed targets the chain did not carry
	// (beyond its bound): they are counted, not named.
	FailedTargetsOmitted int
	// Interim marks parts published before the sweep ended, to keep the
	// continuation payload under Lambda's limit: Counts are so far and
	// the number of parts is not known yet (Parts is 0).
	Interim bool
	// RootTemplates are the registries whose ROOT template needs saying
	// (any order; one per account and region, the last given counts).
	RootTemplates []RootTemplate
}

// The statuses of a registry's ROOT template in the digest: missing or
// non-compliant (ROOT_TEMPLATE=report, or any dry run), created or fixed
// (ROOT_TEMPLATE=ensure).
const (
	RootTemplateMissing      = "missing"
	RootTemplateNonCompliant = "non-compliant"
	RootTemplateCreated      = "created"
	RootTemplateFixed        = "fixed"
)

// RootTemplate is the ROOT template of one registry (an account in a
// region), the template for every repository ECR creates on its own that
// no more specific template covers. Detail says what is wrong with it or
// what ecr-guard did (it may quote AWS, so it is capped).
type RootTemplate struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Status  string `json:"status"`
	Detail  string `json:"detail,omitempty"`
}

// needsAttention: the repositories ECR creates there get settings that are
// not compliant, and ecr-guard did not change that.
func (r RootTemplate) needsAttention() bool {
	return r.Status == RootTemplateMissing || r.Status == RootTemplateNonCompliant
}

// line is the digest's sentence about r. Without a template, ECR creates
// a repository with tag immutability off (MUTABLE) and no lifecycle policy
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates.html).
func (r RootTemplate) line() string {
	s := "ROOT template " + r.Status + " in " + r.Account + " " + r.Region
	if r.Detail != "" {
		s += " (" + r.Detail + ")"
	}
	const created = "repositories created by replication, pull-through cache or create-on-push without a more specific template get "
	switch r.Status {
	case RootTemplateMissing:
		s += ": " + created + "ECR's defaults (MUTABLE)"
	case RootTemplateNonCompliant:
		s += ": " + created + "its settings"
	}
	return s
}

// rootTemplatesOnce keeps one ROOT template per account and region (the
// last given), its detail capped, those that need attention first, then by
// account and region.
func rootTemplatesOnce(roots []RootTemplate) []RootTemplate {
	type registry struct{ account, region string }
	last := map[registry]int{}
	for i, r := range roots {
		last[registry{r.Account, r.Region}] = i
	}
	var out []RootTemplate
	for i, r := range roots {
		if last[registry{r.Account, r.Region}] != i {
			continue
		}
		r.Detail = capText(r.Detail, capRootDetail)
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b RootTemplate) int {
		return cmp.Or(cmp.Compare(b2i(b.needsAttention()), b2i(a.needsAttention())), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
	})
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SweepDocument is the JSON document of the digest (schema 1.1).
type SweepDocument struct {
	SchemaVersion   string      `json:"schemaVersion"`
	Kind            string      `json:"kind"`
	Severity        string      `json:"severity"`
	DryRun          bool        `json:"dryRun"`
	Complete        bool        `json:"complete"`
	Account         string      `json:"account,omitempty"`
	Region          string      `json:"region,omitempty"`
	ChainID         string      `json:"chainId,omitempty"`
	StartedAt       string      `json:"startedAt"`
	DurationSeconds float64     `json:"durationSeconds"`
	Invocations     int         `json:"invocations"`
	Counts          SweepCounts `json:"counts"`
	// Targets is the number of registries covered (1 for one account and
	// region); the two lists below are there only for an organization.
	Targets       int                 `json:"targets,omitempty"`
	PerTarget     []SweepTarget       `json:"perTarget,omitempty"`
	FailedTargets []SweepFailedTarget `json:"failedTargets,omitempty"`
	// PerTargetTruncated is the number of PerTarget entries left out,
	// FailedTargetsTruncated the number of failed targets not named.
	PerTargetTruncated     int           `json:"perTargetTruncated,omitempty"`
	FailedTargetsTruncated int           `json:"failedTargetsTruncated,omitempty"`
	Changed                []SweepChange `json:"changed"`
	// Truncated is the number of changed repositories listed in no part
	// of the report; only lifecycle-only (LOW) ones are ever left out.
	Truncated int `json:"truncated"`
	// Part is this message's number within the report (from 1), Parts the
	// number of messages of the report (0 in an interim part: not known
	// before the sweep ends).
	Part  int `json:"part"`
	Parts int `json:"parts"`
	// Interim is set on parts sent before the sweep ended: their counts
	// are so far, and the report's last parts follow.
	Interim bool `json:"interim,omitempty"`
	// RootTemplates (1.1): the registries whose ROOT template is missing
	// or not compliant, or was created or fixed, in every part;
	// RootTemplatesTruncated the number left out.
	RootTemplates          []RootTemplate `json:"rootTemplates,omitempty"`
	RootTemplatesTruncated int            `json:"rootTemplatesTruncated,omitempty"`
}

// SweepSeverity is the severity of the digest: that of its most severe
// outcome (CRITICAL when a repository or template failed, HIGH when tag
// mutability was reverted, a template changed or the sweep could not
// finish, MEDIUM when a ROOT template is missing or not compliant, LOW when
// only lifecycle policies were restored), INFO when there was nothing to do.
func SweepSeverity(c SweepCounts, complete bool, failedTargets int, roots []RootTemplate) string {
	switch {
	case c.Failed > 0 || failedTargets > 0:
		return guard.SeverityCritical.String()
	case c.Remediated > 0 || c.TemplatesChanged > 0 || !complete:
		return guard.SeverityHigh.String()
	case slices.ContainsFunc(roots, RootTemplate.needsAttention):
		return guard.SeverityMedium.String()
	case c.LifecycleRestored > 0:
		return guard.SeverityLow.String()
	}
	return SeverityInfo
}

// ForSweep builds the digest of a sweep: one message when it fits SNS's size
// limit, else as many parts as needed. Changes are listed by severity, then
// name. Every change above LOW (failed, reverted or would be, exemption no
// longer valid) is named in some part; lifecycle-only ones are listed only
// as far as they fit after those, in the last part, which ends with "and N
// more lifecycle-only" when some are cut. Every part repeats the counts
// and the per-registry lists (registryLists).
func ForSweep(in SweepInput) []Message {
	in = capSweepInput(in)
	in.RootTemplates = rootTemplatesOnce(in.RootTemplates)
	changed := slices.Clone(in.Changed)
	SortSweepChanges(changed)
	must := 0 // changed[:must] must be named
	for must < len(changed) && changed[must].MustName() {
		must++
	}
	// Find the parts' bounds with the widest numbers (part, parts, the count
	// of the cut), so that the real ones, no longer, still fit.
	widest := max(999999, in.PartsSent+in.Omitted+len(changed))
	lists := fitRegistryLists(in, widest)
	bounds := []int{0}
	guess := 64
	for from := 0; ; {
		least := from
		if from < must {
			least = from + 1 // a part names at least one: one entry always fits
		}
		to := largestFit(from, least, len(changed), guess, func(to int) bool {
			return fitsSNS(sweepMessage(in, lists, changed[from:to], widest, widest, widest))
		})
		bounds = append(bounds, to)
		if to >= must {
			break
		}
		guess, from = to-from, to
	}
	parts := len(bounds) - 1
	total := in.PartsSent + parts
	if in.Interim {
		total = 0
	}
	truncated := in.Omitted + len(changed) - bounds[parts]
	msgs := make([]Message, parts)
	for i := range parts {
		msgs[i] = sweepMessage(in, lists, changed[bounds[i]:bounds[i+1]], truncated, in.PartsSent+i+1, total)
	}
	return msgs
}

// capSweepInput caps every text the chain carried from link to link
// (names, accounts, regions, errors), as the event path caps what an event
// says: a continuation is the previous link's, but whoever may invoke the
// sweep could write one, and none of it may forge a line of the report.
func capSweepInput(in SweepInput) SweepInput {
	in.ChainID = capText(in.ChainID, capRegistry)
	in.Changed = slices.Clone(in.Changed)
	for i, c := range in.Changed {
		in.Changed[i].Name = capText(c.Name, capName)
		in.Changed[i].Account, in.Changed[i].Region = capText(c.Account, capRegistry), capText(c.Region, capRegistry)
		in.Changed[i].Exemption = guard.ExemptionStatus(capText(string(c.Exemption), capRegistry))
		in.Changed[i].Actions = make([]guard.Kind, len(c.Actions))
		for j, a := range c.Actions {
			in.Changed[i].Actions[j] = guard.Kind(capText(string(a), capRegistry))
		}
	}
	in.FailedTargets = slices.Clone(in.FailedTargets)
	for i, f := range in.FailedTargets {
		in.FailedTargets[i] = SweepFailedTarget{Account: capText(f.Account, capRegistry), Region: capText(f.Region, capRegistry), Error: capText(f.Error, capSummary)}
	}
	in.PerTarget = slices.Clone(in.PerTarget)
	for i, t := range in.PerTarget {
		in.PerTarget[i].Account, in.PerTarget[i].Region = capText(t.Account, capRegistry), capText(t.Region, capRegistry)
	}
	in.RootTemplates = slices.Clone(in.RootTemplates)
	for i, r := range in.RootTemplates {
		in.RootTemplates[i].Account, in.RootTemplates[i].Region = capText(r.Account, capRegistry), capText(r.Region, capRegistry)
		in.RootTemplates[i].Status = capText(r.Status, capRegistry)
	}
	return in
}

// largestFit returns the largest to in [least, most] for which fits(to)
// holds, least if none does. It probes from+guess first (the previous
// part's size), then gallops up or down from there and bisects, so parts
// of similar entries cost a few renderings each.
func largestFit(from, least, most, guess int, fits func(to int) bool) int {
	lo, hi := least, most+1 // fits(lo) or lo == least; hi does not fit or is beyond most
	probe := min(max(from+guess, least+1), most)
	switch {
	case probe <= lo:
	case fits(probe):
		lo = probe
		for step := 1; lo+step < hi; step *= 2 {
			if !fits(lo + step) {
				hi = lo + step
				break
			}
			lo += step
		}
	default:
		hi = probe
		for step := 1; hi-step > lo; step *= 2 {
			if fits(hi - step) {
				lo = hi - step
				break
			}
			hi -= step
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// fitsSNS reports whether m's body fits SNS's size limit, with room for the
// subject and the attributes, whichever https format the deployment chose
// (the renderers do not know it).
func fitsSNS(m Message) bool { return fitsIn(m, messageBudget) }

// fitsIn reports whether m's body, in either https format, takes at most
// budget bytes.
func fitsIn(m Message, budget int) bool {
	for _, f := range []HTTPSFormat{HTTPSJSON, HTTPSChat} {
		m.HTTPSFormat = f
		body, err := m.SNSMessage()
		if err != nil || len(body) > budget {
			return false
		}
	}
	return true
}

// registryLists says how many entries of the lists every part repeats are
// listed: the targets that could not be swept, the ROOT templates, and the
// counts of the registries where something was not compliant.
type registryLists struct {
	failed, roots, targets int
}

// fitRegistryLists lists as many failed targets (at most
// maxListedFailedTargets: registries nobody checked come first), then ROOT
// templates (at most maxListedRootTemplates), then per-target counts (at
// most maxListedTargets), as fit in half a message without changes, so
// that the other half is always left to name changes (an organization of
// hundreds of registries would otherwise fill the message with them).
func fitRegistryLists(in SweepInput, widest int) registryLists {
	var l registryLists
	fits := func(try registryLists) bool {
		return fitsIn(sweepMessage(in, try, nil, widest, widest, widest), messageBudget/2)
	}
	most := min(len(in.FailedTargets), maxListedFailedTargets)
	l.failed = largestFit(0, 0, most, most, func(n int) bool { return fits(registryLists{failed: n}) })
	most = min(len(in.RootTemplates), maxListedRootTemplates)
	l.roots = largestFit(0, 0, most, most, func(n int) bool { return fits(registryLists{failed: l.failed, roots: n}) })
	if in.Targets > 1 || len(in.FailedTargets) > 0 {
		most = min(len(in.PerTarget), maxListedTargets)
		l.targets = largestFit(0, 0, most, most, func(n int) bool { return fits(registryLists{failed: l.failed, roots: l.roots, targets: n}) })
	}
	return l
}

// sweepMessage renders one part; lists says how much of the per-registry
// lists it lists. parts is 0 in an interim part; a report of one part,
// sent at the end, carries no "part k of n" in its subject and text.
func sweepMessage(in SweepInput, lists registryLists, listed []SweepChange, truncated, part, parts int) Message {
	complete := in.Complete && !in.Interim
	severity := SweepSeverity(in.Counts, complete, len(in.FailedTargets)+in.FailedTargetsOmitted, in.RootTemplates)
	doc := SweepDocument{
		SchemaVersion:   SchemaVersion,
		Kind:            KindSweepReport,
		Severity:        severity,
		DryRun:          in.DryRun,
		Complete:        complete,
		Account:         in.Account,
		Region:          in.Region,
		ChainID:         in.ChainID,
		StartedAt:       in.StartedAt.UTC().Format(time.RFC3339),
		DurationSeconds: in.Duration.Round(time.Millisecond).Seconds(),
		Invocations:     in.Invocations,
		Counts:          in.Counts,
		FailedTargets:   in.FailedTargets[:lists.failed:lists.failed],
		Changed:         listed[:len(listed):len(listed)],
		Truncated:       truncated,
		Part:            part,
		Parts:           parts,
		Interim:         in.Interim,
	}
	if doc.Changed == nil {
		doc.Changed = []SweepChange{}
	}
	doc.FailedTargetsTruncated = len(in.FailedTargets) - lists.failed + in.FailedTargetsOmitted
	if in.Targets > 1 || len(in.FailedTargets) > 0 {
		doc.Targets = in.Targets
		doc.PerTarget = in.PerTarget[:lists.targets]
		doc.PerTargetTruncated = len(in.PerTarget) - len(doc.PerTarget)
	}
	doc.RootTemplates = in.RootTemplates[:lists.roots]
	doc.RootTemplatesTruncated = len(in.RootTemplates) - len(doc.RootTemplates)
	remediated := "remediated"
	if in.DryRun {
		remediated = "would remediate"
	}
	headline := strconv.Itoa(in.Counts.Remediated) + " " + remediated + ", " + strconv.Itoa(in.Counts.Failed) + " failed"
	if !in.Complete && !in.Interim {
		headline += ", INCOMPLETE"
	}
	if in.DryRun {
		headline = "dry run: " + headline
	}
	// The part goes with the kind, which a subject shortened to fit keeps.
	kind := KindSweepReport
	switch {
	case in.Interim:
		kind += " part " + strconv.Itoa(part) + ", so far:"
	case parts > 1:
		kind += " part " + strconv.Itoa(part) + " of " + strconv.Itoa(parts) + ":"
	}
	subj := subject(kind, headline, "("+in.Account+" "+in.Region+")")
	return Message{
		Subject:  subj,
		Text:     sweepText(doc),
		Document: doc,
		Chat:     sweepChat(doc, kind, headline, subj),
		Attributes: map[string]string{
			"kind":         KindSweepReport,
			"severity":     severity,
			"resourceType": ResourceRegistry,
			"account":      in.Account,
			"region":       in.Region,
		},
	}
}

func sweepText(doc SweepDocument) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ecr-guard %s (%s): account %s, %s\n", doc.Kind, doc.Severity, doc.Account, doc.Region)
	switch {
	case doc.Interim:
		fmt.Fprintf(&b, "PART %d, sent while the sweep runs: the counts are so far; the report's last parts follow when it ends.\n", doc.Part)
	case doc.Parts > 1:
		fmt.Fprintf(&b, "PART %d OF %d of this report: each part repeats the counts and lists other repositories.\n", doc.Part, doc.Parts)
	}
	if doc.DryRun {
		b.WriteString("DRY RUN: nothing was changed.\n")
	}
	if !doc.Complete && !doc.Interim {
		b.WriteString("INCOMPLETE: the sweep stopped before it covered every repository; see the function's logs.\n")
	}
	b.WriteString("\n")
	duration := time.Duration(doc.DurationSeconds * float64(time.Second)).Round(time.Second)
	swept := "every repository"
	if doc.Counts.Templates > 0 {
		swept += " and repository creation template"
	}
	fmt.Fprintf(&b, "Scheduled sweep of %s, started %s, took %s in %d invocation(s)", swept, doc.StartedAt, duration, doc.Invocations)
	if doc.ChainID != "" {
		fmt.Fprintf(&b, " (chain %s)", doc.ChainID)
	}
	b.WriteString(".\n\n")
	remediated, restored, templatesChanged := "Remediated:", "Lifecycle restored:", "Templates changed:"
	if doc.DryRun {
		remediated, restored, templatesChanged = "Would remediate:", "Would restore lifecycle:", "Templates would change:"
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
		{"Templates checked:", c.Templates},
		{templatesChanged, c.TemplatesChanged},
	} {
		fmt.Fprintf(&b, "%-24s%8d\n", row.label, row.n)
	}
	if doc.Targets > 0 {
		fmt.Fprintf(&b, "\nRegistries swept: %d (accounts x regions)", doc.Targets)
		if n := doc.failedTargets(); n > 0 {
			fmt.Fprintf(&b, ", %d could not be swept:\n", n)
			for _, f := range doc.FailedTargets {
				fmt.Fprintf(&b, "  - %s %s: %s\n", f.Account, f.Region, f.Error)
			}
			if doc.FailedTargetsTruncated > 0 {
				fmt.Fprintf(&b, "  ... and %d more, not named here\n", doc.FailedTargetsTruncated)
			}
		} else {
			b.WriteString("\n")
		}
		if len(doc.PerTarget) > 0 {
			b.WriteString("Registries where something was not compliant:\n")
			for _, t := range doc.PerTarget {
				fmt.Fprintf(&b, "  - %s %s: %d scanned, %d remediated, %d lifecycle restored, %d exempt, %d failed",
					t.Account, t.Region, t.Counts.Scanned, t.Counts.Remediated, t.Counts.LifecycleRestored, t.Counts.Exempt, t.Counts.Failed)
				if t.Counts.TemplatesChanged > 0 {
					fmt.Fprintf(&b, ", %d templates changed", t.Counts.TemplatesChanged)
				}
				b.WriteString("\n")
			}
			if doc.PerTargetTruncated > 0 {
				fmt.Fprintf(&b, "  ... and %d more (lifecycle-only first left out)\n", doc.PerTargetTruncated)
			}
		}
	}
	if len(doc.RootTemplates) > 0 {
		b.WriteString("\n")
		for _, r := range doc.RootTemplates {
			b.WriteString(r.line() + "\n")
		}
		if doc.RootTemplatesTruncated > 0 {
			fmt.Fprintf(&b, "... and %d more ROOT templates left out of this report\n", doc.RootTemplatesTruncated)
		}
		if slices.ContainsFunc(doc.RootTemplates, RootTemplate.needsAttention) {
			b.WriteString("Create or fix them, or set ROOT_TEMPLATE=ensure and ecr-guard will.\n")
		}
	}
	last := doc.Part == doc.Parts // the final part carries the cut
	if len(doc.Changed) == 0 && (doc.Truncated == 0 || !last) {
		return b.String()
	}
	b.WriteString("\n" + changedHeading(doc.Changed))
	if doc.Interim || doc.Parts > 1 {
		fmt.Fprintf(&b, " (part %d)", doc.Part)
	}
	b.WriteString(":\n")
	for _, ch := range doc.Changed {
		actions := make([]string, len(ch.Actions))
		for i, a := range ch.Actions {
			actions[i] = string(a)
		}
		fmt.Fprintf(&b, "  - %s: %s", ch.label(), strings.Join(actions, ", "))
		if ch.Exemption != "" {
			fmt.Fprintf(&b, " (exemption %s)", ch.Exemption)
		}
		b.WriteString("\n")
	}
	if doc.Truncated > 0 && last {
		fmt.Fprintf(&b, "  ... and %d more lifecycle-only\n", doc.Truncated)
	}
	return b.String()
}

// changedHeading titles a part's list of changes.
func changedHeading(changed []SweepChange) string {
	if slices.ContainsFunc(changed, func(c SweepChange) bool { return c.ResourceType == ResourceTemplate }) {
		return "Repositories and templates changed"
	}
	return "Repositories changed"
}

// label names the change in the text: account and region in an
// organization, "template PREFIX" or the repository's name.
func (c SweepChange) label() string {
	s := c.Name
	if c.ResourceType == ResourceTemplate {
		s = "template " + s
	}
	if c.Account != "" {
		s = c.Account + " " + c.Region + " " + s
	}
	return s
}

// maxListedTargets bounds the per-target counts in each part of a digest,
// maxListedRootTemplates its ROOT templates (both listed only as far as
// they fit in half a message: fitRegistryLists); the changed list names
// every repository above LOW, and every template, whatever the bounds.
const (
	maxListedTargets       = 200
	maxListedRootTemplates = 50
	maxListedFailedTargets = 200
)

// failedTargets is how many targets could not be swept, named or not.
func (d SweepDocument) failedTargets() int { return len(d.FailedTargets) + d.FailedTargetsTruncated }

// SweepTarget is one registry's counts in an organization's digest.
type SweepTarget struct {
	Account string      `json:"account"`
	Region  string      `json:"region"`
	Counts  SweepCounts `json:"counts"`
}

// SweepFailedTarget is a registry the sweep could not cover (its member
// role could not be assumed, or its listing was refused), and why.
type SweepFailedTarget struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Error   string `json:"error"`
}

// SortSweepTargets orders per-target counts as the digest lists them:
// failures, then reverts, then the rest (lifecycle-only last, cut first),
// then by account and region.
func SortSweepTargets(targets []SweepTarget) {
	rank := func(c SweepCounts) int {
		switch {
		case c.Failed > 0:
			return 0
		case c.Remediated > 0 || c.TemplatesChanged > 0 || c.ExpiredExemptions > 0 || c.InvalidExemptions > 0:
			return 1
		case c.LifecycleRestored == 0:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(targets, func(a, b SweepTarget) int {
		return cmp.Or(cmp.Compare(rank(a.Counts), rank(b.Counts)), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
	})
}
