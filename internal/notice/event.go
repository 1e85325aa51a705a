package notice

import (
	"fmt"
	"strings"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// EventInput is what an event notice reports on. Event is nil for a
// repository the scheduled sweep reports on (a FAILED notice): the notice
// then has no trigger and takes region and account from the repository ARN.
type EventInput struct {
	Event  *guard.Event
	Checks guard.Checks
	Before guard.Repository
	Plan   guard.Plan
	Rules  guard.Rules
	Pushed *PushedImages // when the tags were found mutable
}

// PushedImages are the images pushed since the change that made tags
// mutable: any of them may have overwritten a trusted tag.
type PushedImages struct {
	Since     time.Time
	Images    []guard.Image
	Truncated bool
	Error     string // the listing failed
}

// PushedWhileMutable is the document's list of images to verify.
type PushedWhileMutable struct {
	Since     string        `json:"since"`
	Images    []PushedImage `json:"images"`
	Truncated bool          `json:"truncated"`
	Error     string        `json:"error,omitempty"`
}

// PushedImage is one image to verify.
type PushedImage struct {
	Digest   string   `json:"digest"`
	Tags     []string `json:"tags"`
	PushedAt string   `json:"pushedAt"`
}

// EventDocument is the JSON document of an event notice (schema 1.0).
type EventDocument struct {
	SchemaVersion string           `json:"schemaVersion"`
	Kind          guard.Kind       `json:"kind"`
	Severity      string           `json:"severity"`
	DryRun        bool             `json:"dryRun"`
	Repository    RepositoryRef    `json:"repository"`
	Trigger       *Trigger         `json:"trigger,omitempty"`
	Before        RepositoryState  `json:"before"`
	After         RepositoryState  `json:"after"`
	Actions       []Action         `json:"actions"`
	Exemption     *ExemptionDetail `json:"exemption,omitempty"`
	// PushedWhileMutable: "pushed while tags were mutable: verify these".
	PushedWhileMutable *PushedWhileMutable `json:"pushedWhileMutable,omitempty"`
	ConsoleURL         string              `json:"consoleUrl,omitempty"`
}

// RepositoryRef identifies the repository.
type RepositoryRef struct {
	Name       string `json:"name"`
	ARN        string `json:"arn,omitempty"`
	RegistryID string `json:"registryId,omitempty"`
	Region     string `json:"region,omitempty"`
}

// Trigger is the CloudTrail call that led to the notice (none for the sweep).
type Trigger struct {
	EventName       string `json:"eventName"`
	EventID         string `json:"eventID"`
	EventTime       string `json:"eventTime"`
	PrincipalARN    string `json:"principalArn"`
	PrincipalType   string `json:"principalType"`
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
}

// RepositoryState is the part of a repository's state the rules govern.
// LifecyclePolicy is "absent", "baseline" or "other", and omitted when the
// event did not concern lifecycle.
type RepositoryState struct {
	ImageTagMutability string   `json:"imageTagMutability,omitempty"`
	ExclusionFilters   []string `json:"imageTagMutabilityExclusionFilters,omitempty"`
	LifecyclePolicy    string   `json:"lifecyclePolicy,omitempty"`
}

// Action is one finding: what ecr-guard did, would do, saw, or failed to do.
type Action struct {
	Kind     guard.Kind `json:"kind"`
	Area     guard.Area `json:"area"`
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
}

// ExemptionDetail is the exemption that applied or was granted.
type ExemptionDetail struct {
	Status  guard.ExemptionStatus `json:"status"`
	Tag     string                `json:"tag,omitempty"`
	Expires string                `json:"expires,omitempty"`
}

// ForEvent builds the notice for one event's plan. The plan must have findings.
//
// The images pushed while tags were mutable are listed as far as SNS's size
// limit allows; the list is cut (and marked truncated) before a notice is
// ever refused for its size.
func ForEvent(in EventInput) Message {
	if in.Pushed == nil {
		return eventMessage(in)
	}
	all := *in.Pushed
	return fitting(len(all.Images), func(n int) Message {
		listed := all
		listed.Images, listed.Truncated = all.Images[:n:n], all.Truncated || n < len(all.Images)
		in.Pushed = &listed
		return eventMessage(in)
	})
}

func eventMessage(in EventInput) Message {
	p := in.Plan
	e := in.Event
	if e == nil {
		// The scheduled sweep: no CloudTrail call, only the repository.
		region, account := arnRegionAccount(in.Before.ARN)
		e = &guard.Event{Region: region, Account: firstNonEmpty(in.Before.RegistryID, account), Repository: in.Before.Name}
	}
	kind, severity := p.Kind(), p.Severity().String()
	repo := RepositoryRef{Name: in.Before.Name, ARN: in.Before.ARN, RegistryID: in.Before.RegistryID, Region: e.Region}
	if repo.Name == "" {
		repo.Name = e.Repository
	}
	if repo.RegistryID == "" {
		repo.RegistryID = firstNonEmpty(e.RegistryID, e.Account)
	}
	account := firstNonEmpty(e.Account, repo.RegistryID)
	withLifecycle := in.Rules.NeedsLifecycle(in.Checks)
	doc := EventDocument{
		SchemaVersion: SchemaVersion,
		Kind:          kind,
		Severity:      severity,
		DryRun:        p.DryRun,
		Repository:    repo,
		Before:        stateOf(in.Before, withLifecycle, in.Rules),
		After:         stateOf(p.After(in.Before, in.Rules.Baseline), withLifecycle, in.Rules),
		ConsoleURL:    ConsoleURL(repo.Region, repo.RegistryID, repo.Name),
	}
	if in.Event != nil {
		doc.Trigger = &Trigger{
			EventName:       e.Name,
			EventID:         e.EventID,
			EventTime:       e.Time.UTC().Format(time.RFC3339),
			PrincipalARN:    principalARN(e.Principal),
			PrincipalType:   e.Principal.Type,
			SourceIPAddress: e.SourceIP,
			UserAgent:       e.UserAgent,
		}
	}
	for _, f := range p.Findings {
		doc.Actions = append(doc.Actions, Action{Kind: f.Kind, Area: f.Area, Severity: f.Severity().String(), Summary: f.Summary})
	}
	if in.Pushed != nil {
		doc.PushedWhileMutable = pushedDocument(*in.Pushed)
	}
	if p.Exemption.Status != guard.ExemptionNone && p.Exemption.Status != "" {
		doc.Exemption = &ExemptionDetail{Status: p.Exemption.Status, Tag: p.Exemption.Tag, Expires: p.Exemption.Expires}
	}

	suffix := "(" + account + " " + e.Region + ")"
	if p.SetMutability != nil && (kind == guard.KindRemediated || kind == guard.KindWouldRemediate) {
		suffix = "-> " + p.SetMutability.Mutability + " " + suffix
	}
	return Message{
		Subject:  subject(string(kind), repo.Name, suffix),
		Text:     eventText(doc, e, account),
		Document: doc,
		Attributes: map[string]string{
			"kind":       string(kind),
			"severity":   severity,
			"repository": repo.Name,
			"account":    account,
			"region":     e.Region,
			"eventName":  e.Name,
		},
	}
}

func eventText(doc EventDocument, e *guard.Event, account string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ecr-guard %s (%s): repository %s in account %s, %s\n", doc.Kind, doc.Severity, doc.Repository.Name, account, e.Region)
	if doc.DryRun {
		b.WriteString("DRY RUN: nothing was changed.\n")
	}
	b.WriteString("\n")
	if doc.Trigger == nil {
		b.WriteString("What changed: Scheduled sweep (no CloudTrail event)\n")
	} else {
		fmt.Fprintf(&b, "What changed: %s\n", describeRequest(*e))
		fmt.Fprintf(&b, "Who:          %s (%s)\n", doc.Trigger.PrincipalARN, doc.Trigger.PrincipalType)
		fmt.Fprintf(&b, "From:         %s, %s\n", e.SourceIP, shorten(e.UserAgent, 100))
		fmt.Fprintf(&b, "When:         %s (CloudTrail event %s)\n", doc.Trigger.EventTime, e.EventID)
	}
	b.WriteString("ecr-guard:\n")
	for _, a := range doc.Actions {
		fmt.Fprintf(&b, "  - [%s] %s\n", a.Kind, a.Summary)
	}
	fmt.Fprintf(&b, "Now:          %s\n", describeState(doc.After))
	if pw := doc.PushedWhileMutable; pw != nil {
		writePushed(&b, *pw)
	}
	if doc.ConsoleURL != "" {
		fmt.Fprintf(&b, "Console:      %s\n", doc.ConsoleURL)
	}
	return b.String()
}

// describeRequest says in words what the CloudTrail call asked for.
func describeRequest(e guard.Event) string {
	r := e.Request
	switch e.Name {
	case guard.EventCreateRepository:
		m := firstNonEmpty(r.Mutability, guard.Mutable+" (the default)")
		return "CreateRepository with image tag mutability " + guard.DescribeMutability(m, r.ExclusionFilters) + tagList(" and tags ", r.Tags)
	case guard.EventPutImageTagMutability:
		return "PutImageTagMutability to " + guard.DescribeMutability(firstNonEmpty(r.Mutability, "UNKNOWN"), r.ExclusionFilters)
	case guard.EventPutLifecyclePolicy:
		return "PutLifecyclePolicy replaced the lifecycle policy"
	case guard.EventDeleteLifecyclePolicy:
		return "DeleteLifecyclePolicy removed the lifecycle policy"
	case guard.EventTagResource:
		return "TagResource" + tagList(" added ", r.Tags)
	case guard.EventUntagResource:
		return "UntagResource removed tag keys " + strings.Join(r.TagKeys, ", ")
	}
	return e.Name
}

func describeState(s RepositoryState) string {
	out := "image tag mutability " + guard.DescribeMutability(s.ImageTagMutability, s.ExclusionFilters)
	if s.LifecyclePolicy != "" {
		out += ", lifecycle policy " + s.LifecyclePolicy
	}
	return out
}

func stateOf(r guard.Repository, withLifecycle bool, rules guard.Rules) RepositoryState {
	s := RepositoryState{ImageTagMutability: r.Mutability, ExclusionFilters: r.ExclusionFilters}
	if withLifecycle {
		switch {
		case !r.Lifecycle.Exists:
			s.LifecyclePolicy = "absent"
		case rules.Baseline.Equal(r.Lifecycle.Text):
			s.LifecyclePolicy = "baseline"
		default:
			s.LifecyclePolicy = "other"
		}
	}
	return s
}

// arnRegionAccount returns the region and account fields of an ARN
// (arn:partition:service:region:account:resource), or "" for each it lacks.
func arnRegionAccount(arn string) (region, account string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return "", ""
	}
	return parts[3], parts[4]
}

func principalARN(p guard.Principal) string {
	return firstNonEmpty(p.ARN, p.InvokedBy, p.AccountID)
}

func tagList(prefix string, tags []guard.Tag) string {
	if len(tags) == 0 {
		return ""
	}
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.Key + "=" + t.Value
	}
	return prefix + strings.Join(parts, ", ")
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func pushedDocument(p PushedImages) *PushedWhileMutable {
	d := &PushedWhileMutable{Since: p.Since.UTC().Format(time.RFC3339), Images: []PushedImage{}, Truncated: p.Truncated, Error: p.Error}
	for _, img := range p.Images {
		tags := img.Tags
		if tags == nil {
			tags = []string{}
		}
		d.Images = append(d.Images, PushedImage{Digest: img.Digest, Tags: tags, PushedAt: img.PushedAt.UTC().Format(time.RFC3339)})
	}
	return d
}

func writePushed(b *strings.Builder, p PushedWhileMutable) {
	// DescribeImages shows when an image was first pushed, not when a tag
	// moved: a tag pointed at an image already in the repository does not
	// show up here, so say where to look for that.
	moved := "  Tags moved to images already in the repository are not listed: check CloudTrail PutImage calls since " + p.Since + ".\n"
	switch {
	case p.Error != "":
		fmt.Fprintf(b, "Pushed while tags were mutable: could not list the images pushed since %s (%s): check them by hand\n", p.Since, p.Error)
		return
	case len(p.Images) == 0:
		fmt.Fprintf(b, "Pushed while tags were mutable: no new image pushed since %s\n", p.Since)
		b.WriteString(moved)
		return
	}
	fmt.Fprintf(b, "Pushed while tags were mutable (since %s): verify these:\n", p.Since)
	for _, img := range p.Images {
		tags := "untagged"
		if len(img.Tags) > 0 {
			tags = "tags " + strings.Join(img.Tags, ", ")
		}
		fmt.Fprintf(b, "  - %s %s, pushed %s\n", img.Digest, tags, img.PushedAt)
	}
	if p.Truncated {
		fmt.Fprintf(b, "  (more images were pushed: the list stops at %d; see the console)\n", len(p.Images))
	}
	b.WriteString(moved)
}
