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

// EventInput is what an event notice reports on: a repository (Before), or
// a repository creation template when Template is set. Event is nil for
// one the scheduled sweep reports on (a FAILED notice): the notice then has
// no trigger.
type EventInput struct {
	Event *guard.Event
	// Region is where the repository or template is.
	Region string
	// Account is the registry's account: a template's, since it carries
	// none; a repository's is Before.RegistryID, this when that is "".
	Account string
	Checks  guard.Checks
	Before  guard.Repository
	// Template makes the notice about this repository creation template,
	// as read before the writes; Before is then unused. A template that
	// no longer exists (the plan found it deleted) is given by its Prefix,
	// and AppliedFor when the event said.
	Template *guard.Template
	Plan     guard.Plan
	Rules    guard.Rules
	// Pushed: the images pushed since the tags were found mutable (a
	// repository's; a template holds no images).
	Pushed *guard.PushedImages
	// Shaping: ECR created the repository on its own; how, and the
	// template that gave it its settings. nil for any other repository,
	// and unused for a template.
	Shaping *guard.Shaping
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

// EventDocument is the JSON document of an event notice (schema 1.1).
// It identifies either a repository or (1.1) a repository creation
// template; a repository notice has the shape it had in 1.0.
type EventDocument struct {
	SchemaVersion string     `json:"schemaVersion"`
	Kind          guard.Kind `json:"kind"`
	Severity      string     `json:"severity"`
	DryRun        bool       `json:"dryRun"`
	// Repository is absent (zero) in a template notice.
	Repository RepositoryRef `json:"repository,omitzero"`
	Template   *TemplateRef  `json:"template,omitempty"`
	Trigger    *Trigger      `json:"trigger,omitempty"`
	// ShapedBy (1.1): ECR created the repository on its own.
	ShapedBy *ShapedBy `json:"shapedBy,omitempty"`
	// Stale: the trigger is older than the repository, so it was about a
	// deleted repository of the same name; the actions are what was found.
	Stale bool `json:"stale,omitempty"`
	// Before and After describe a template as they describe a repository,
	// and are empty for a template that does not exist.
	Before    RepositoryState  `json:"before"`
	After     RepositoryState  `json:"after"`
	Actions   []Action         `json:"actions"`
	Exemption *ExemptionDetail `json:"exemption,omitempty"`
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

// TemplateRef identifies a repository creation template: its prefix
// (ROOT for the one that covers every repository no other template does)
// and what it is applied for (REPLICATION, PULL_THROUGH_CACHE,
// CREATE_ON_PUSH). Templates have no ARN.
type TemplateRef struct {
	Prefix     string   `json:"prefix"`
	AppliedFor []string `json:"appliedFor,omitempty"`
	RegistryID string   `json:"registryId,omitempty"`
	Region     string   `json:"region,omitempty"`
}

// resource says what the document is about: "repository" or "template",
// the repository's name or the template's prefix, and the region.
func (d EventDocument) resource() (resourceType, name, region string) {
	if t := d.Template; t != nil {
		return ResourceTemplate, t.Prefix, t.Region
	}
	return ResourceRepository, d.Repository.Name, d.Repository.Region
}

// Trigger is the CloudTrail call that led to the notice (none for the sweep).
// PrincipalARN is userIdentity.arn, or for an AWS service its invokedBy.
// The fields after PrincipalType are present when CloudTrail gives them:
// an assumed role's session name is chosen by the caller, so SessionIssuer
// (the role), SourceIdentity, AccessKeyID and PrincipalID say who acted.
type Trigger struct {
	EventName        string `json:"eventName"`
	EventID          string `json:"eventID"`
	EventTime        string `json:"eventTime"`
	PrincipalARN     string `json:"principalArn"`
	PrincipalType    string `json:"principalType"`
	PrincipalID      string `json:"principalId,omitempty"`
	AccessKeyID      string `json:"accessKeyId,omitempty"`
	SessionIssuer    string `json:"sessionIssuer,omitempty"`
	SessionName      string `json:"sessionName,omitempty"`
	SourceIdentity   string `json:"sourceIdentity,omitempty"`
	InvokedBy        string `json:"invokedBy,omitempty"`
	MFAAuthenticated *bool  `json:"mfaAuthenticated,omitempty"`
	SourceIPAddress  string `json:"sourceIPAddress"`
	UserAgent        string `json:"userAgent"`
	// (1.1) An event ECR sent itself (ECR Pull Through Cache Action, ECR
	// Replication Action) has no CloudTrail record: EventBridgeID is its
	// envelope's id, and Service the image it concerns and where from.
	EventBridgeID string          `json:"eventBridgeId,omitempty"`
	Service       *ServiceTrigger `json:"service,omitempty"`
}

// ServiceTrigger is the image an ECR event concerns and where ECR took it
// from: the upstream registry and pull through cache rule, or the source
// registry of a replication.
type ServiceTrigger struct {
	ImageTag         string `json:"imageTag,omitempty"`
	ImageDigest      string `json:"imageDigest,omitempty"`
	UpstreamRegistry string `json:"upstreamRegistry,omitempty"`
	CacheRulePrefix  string `json:"cacheRulePrefix,omitempty"`
	SourceAccount    string `json:"sourceAccount,omitempty"`
	SourceRegion     string `json:"sourceRegion,omitempty"`
}

// RepositoryState is the part of a repository's state the rules govern.
// LifecyclePolicy is guard.LifecyclePolicy.State's word (absent, baseline, (1.1)
// contains-baseline, other), and omitted when the event did not concern
// lifecycle.
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

// ExemptionDetail is the exemption that applied or was granted. Tags lists
// every tag with an exemption tag's key (environment=dev and
// Environment=prod can coexist: one match is enough), ExpiryTags every tag
// with the expiry tag's key (more than one is invalid-expiry), so the
// security team sees conflicting tags.
type ExemptionDetail struct {
	Status     guard.ExemptionStatus `json:"status"`
	Tag        string                `json:"tag,omitempty"`
	Tags       []string              `json:"tags,omitempty"`
	Expires    string                `json:"expires,omitempty"`
	ExpiryTags []string              `json:"expiryTags,omitempty"`
}

// ForEvent builds the notice for one event's plan. The plan must have findings.
//
// Every text taken from the event (and from AWS error messages and
// repository tags) is capped (capText), so the notice without images always
// fits SNS's size limit. The images pushed while tags were mutable are then
// listed as far as the limit allows; the list is cut (and marked truncated)
// before a notice is ever refused for its size.
func ForEvent(in EventInput) Message {
	if in.Template != nil {
		in.Pushed, in.Shaping = nil, nil // a template holds no images, and ECR does not create templates
	}
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
		// The scheduled sweep: no CloudTrail call, only the resource.
		e = &guard.Event{Region: in.Region, Account: cmp.Or(in.Before.RegistryID, in.Account), Repository: in.Before.Name}
		if in.Template != nil {
			e.Repository, e.Template = "", in.Template.Prefix
		}
	}
	kind, severity := p.Kind(), p.Severity().String()
	registry := capText(cmp.Or(in.Before.RegistryID, in.Account, e.RegistryID, e.Account), capShort)
	region := capText(cmp.Or(in.Region, e.Region), capShort)
	account := capText(cmp.Or(e.Account, registry), capShort)
	withLifecycle := in.Rules.NeedsLifecycle(in.Checks)
	doc := EventDocument{
		SchemaVersion: SchemaVersion,
		Kind:          kind,
		Severity:      severity,
		DryRun:        p.DryRun,
		Stale:         p.Stale,
	}
	// gone: the plan found the template deleted (or, ROOT, never created).
	gone := false
	if t := in.Template; t != nil {
		gone = slices.ContainsFunc(p.Findings, func(f guard.Finding) bool { return f.Area == guard.AreaTemplate })
		doc.Template = &TemplateRef{
			Prefix:     capText(cmp.Or(t.Prefix, e.Template), capName),
			AppliedFor: capList(t.AppliedFor, capAppliedFor, capShort),
			RegistryID: registry,
			Region:     region,
		}
		// The rules see a template as the repository every creation under
		// its prefix will be; so does its state here.
		shape := guard.Repository{Mutability: t.Mutability, ExclusionFilters: t.ExclusionFilters, Lifecycle: t.Lifecycle}
		doc.Before = templateState(shape, gone, withLifecycle, in.Rules)
		doc.After = templateState(p.After(shape), gone, withLifecycle, in.Rules)
		doc.ConsoleURL = TemplatesConsoleURL(region)
	} else {
		doc.Repository = RepositoryRef{
			Name:       capText(cmp.Or(in.Before.Name, e.Repository), capName),
			ARN:        capText(in.Before.ARN, capARN),
			RegistryID: registry,
			Region:     region,
		}
		doc.Before = stateOf(in.Before, withLifecycle, in.Rules)
		doc.After = stateOf(p.After(in.Before), withLifecycle, in.Rules)
		doc.ConsoleURL = ConsoleURL(region, registry, doc.Repository.Name)
	}
	if in.Event != nil {
		doc.Trigger = triggerOf(e)
	}
	if in.Shaping != nil {
		doc.ShapedBy = shapedBy(*in.Shaping)
	}
	for _, f := range p.Findings {
		doc.Actions = append(doc.Actions, Action{Kind: f.Kind, Area: f.Area, Severity: f.Severity().String(), Summary: capText(f.Summary, capSummary)})
	}
	if in.Pushed != nil {
		doc.PushedWhileMutable = pushedDocument(*in.Pushed)
	}
	if p.Exemption.Status != guard.ExemptionNone && p.Exemption.Status != "" {
		x := p.Exemption
		doc.Exemption = &ExemptionDetail{Status: x.Status, Tag: capText(x.Tag, capExemption), Tags: capList(x.Tags, capExemptionTags, capExemption),
			Expires: capText(x.Expires, capShort), ExpiryTags: capList(x.ExpiryTags, capExemptionTags, capExemption)}
	}

	resourceType, name, _ := doc.resource()
	suffix := "(" + account + " " + region + ")"
	switch {
	case p.SetMutability != nil && (kind == guard.KindRemediated || kind == guard.KindWouldRemediate):
		suffix = "-> " + p.SetMutability.Mutability + " " + suffix
	case gone && kind == guard.KindObserved && e.Name == guard.EventDeleteRepositoryCreationTemplate:
		suffix = "deleted " + suffix
	case gone && kind == guard.KindObserved:
		suffix = "missing " + suffix
	}
	subjectName := name
	if resourceType == ResourceTemplate {
		subjectName = "template " + name
	}
	subj := subject(string(kind), subjectName, suffix)
	now := describeState(doc.After)
	if gone && doc.After.ImageTagMutability == "" {
		now = "no template with this prefix"
	}
	return Message{
		Subject:  subj,
		Text:     eventText(doc, e, account, now),
		Document: doc,
		Chat:     eventChat(doc, e, account, subj, now),
		Attributes: map[string]string{
			"kind":         string(kind),
			"severity":     severity,
			"resourceType": resourceType,
			resourceType:   name, // "repository" or "template": the name or the prefix
			"account":      account,
			"region":       region,
			"eventName":    capText(e.Name, capShort),
		},
	}
}

// triggerOf is the document's account of the CloudTrail call, capped.
func triggerOf(e *guard.Event) *Trigger {
	p := e.Principal
	t := &Trigger{
		EventName:        capText(e.Name, capShort),
		EventID:          capText(e.EventID, capShort),
		EventTime:        e.Time.UTC().Format(time.RFC3339),
		PrincipalARN:     capText(p.Who(), capARN),
		PrincipalType:    capText(p.Type, capShort),
		PrincipalID:      capText(p.PrincipalID, capPrincipalID),
		AccessKeyID:      capText(p.AccessKeyID, capShort),
		SessionIssuer:    capText(p.IssuerARN, capARN),
		SessionName:      capText(p.SessionName, capSession),
		SourceIdentity:   capText(p.SourceIdentity, capSession),
		InvokedBy:        capText(p.InvokedBy, capSession),
		MFAAuthenticated: p.MFAAuthenticated,
		SourceIPAddress:  capText(e.SourceIP, capShort),
		UserAgent:        capText(e.UserAgent, capUserAgent),
	}
	if _, ok := guard.ServiceCreation(*e); ok && e.EventID == "" {
		sv := e.Service
		t.EventBridgeID = capText(e.ID, capShort)
		t.Service = &ServiceTrigger{
			ImageTag: capText(sv.ImageTag, capTagValue), ImageDigest: capText(sv.ImageDigest, capShort),
			UpstreamRegistry: capText(sv.UpstreamRegistry, capName), CacheRulePrefix: capText(sv.CacheRulePrefix, capName),
			SourceAccount: capText(sv.SourceAccount, capShort), SourceRegion: capText(sv.SourceRegion, capShort),
		}
	}
	return t
}

// eventRef names the event a notice is about: its CloudTrail record, or
// for an event ECR sent itself its EventBridge envelope.
func eventRef(t Trigger) string {
	if t.EventBridgeID != "" {
		return "EventBridge event " + t.EventBridgeID
	}
	return "CloudTrail event " + t.EventID
}

// who says who made the call: for an assumed role the role, the session
// name (which the caller chose) and the source identity, rather than the
// session's ARN; otherwise the principal's ARN (an AWS service's name).
func who(t Trigger) string {
	var s string
	if t.SessionIssuer != "" && (t.PrincipalType == "AssumedRole" || t.SessionName != "") {
		s = "role " + t.SessionIssuer
		if t.SessionName != "" {
			s += ", session " + t.SessionName
		}
	} else {
		s = t.PrincipalARN
	}
	if t.SourceIdentity != "" {
		s += ", source identity " + t.SourceIdentity
	}
	if t.InvokedBy != "" && t.InvokedBy != t.PrincipalARN {
		s += ", via " + t.InvokedBy
	}
	return s + " (" + t.PrincipalType + ")"
}

// eventText is the report for people; now is the state after ecr-guard's
// writes, in words.
func eventText(doc EventDocument, e *guard.Event, account, now string) string {
	resourceType, name, region := doc.resource()
	var b strings.Builder
	fmt.Fprintf(&b, "ecr-guard %s (%s): %s %s in account %s, %s\n", doc.Kind, doc.Severity, resourceType, name, account, region)
	if doc.DryRun {
		b.WriteString("DRY RUN: nothing was changed.\n")
	}
	b.WriteString("\n")
	if t := doc.Template; t != nil {
		fmt.Fprintf(&b, "Applies to:   %s\n", appliesTo(*t))
	}
	if s := doc.ShapedBy; s != nil {
		fmt.Fprintf(&b, "Created by:   %s\n", createdBy(*s))
	}
	switch {
	case doc.Trigger == nil:
		b.WriteString("What changed: Scheduled sweep (no CloudTrail event)\n")
	case doc.Stale:
		fmt.Fprintf(&b, "What changed: nothing this event says: CloudTrail event %s (%s at %s) is older than this %s,\n", doc.Trigger.EventID, doc.Trigger.EventName, doc.Trigger.EventTime, resourceType)
		fmt.Fprintf(&b, "              so it was about a deleted %s of the same name. ecr-guard found this %s so.\n", resourceType, resourceType)
	default:
		fmt.Fprintf(&b, "What changed: %s\n", capText(describeRequest(*e), capLine))
		fmt.Fprintf(&b, "Who:          %s\n", who(*doc.Trigger))
		if doc.Trigger.SourceIPAddress != "" || e.UserAgent != "" {
			fmt.Fprintf(&b, "From:         %s, %s\n", doc.Trigger.SourceIPAddress, capText(e.UserAgent, capAgentLine))
		}
		fmt.Fprintf(&b, "When:         %s (%s)\n", doc.Trigger.EventTime, eventRef(*doc.Trigger))
	}
	b.WriteString("ecr-guard:\n")
	for _, a := range doc.Actions {
		fmt.Fprintf(&b, "  - [%s] %s\n", a.Kind, a.Summary)
	}
	fmt.Fprintf(&b, "Now:          %s\n", now)
	if pw := doc.PushedWhileMutable; pw != nil {
		writePushed(&b, *pw)
	}
	if doc.ConsoleURL != "" {
		fmt.Fprintf(&b, "Console:      %s\n", doc.ConsoleURL)
	}
	return b.String()
}

// describeRequest says in words what the CloudTrail call asked for. Its
// parts are capped; the caller caps the whole line.
func describeRequest(e guard.Event) string {
	r := e.Request
	filters := capList(r.ExclusionFilters, capFilters, capFilter)
	switch e.Name {
	case guard.EventCreateRepository:
		m := cmp.Or(capText(r.Mutability, capSetting), guard.Mutable+" (the default)")
		return "CreateRepository with image tag mutability " + guard.DescribeMutability(m, filters) + tagList(" and tags ", r.Tags)
	case guard.EventPutImageTagMutability:
		return "PutImageTagMutability to " + guard.DescribeMutability(cmp.Or(capText(r.Mutability, capSetting), "UNKNOWN"), filters)
	case guard.EventPutLifecyclePolicy:
		return "PutLifecyclePolicy replaced the lifecycle policy"
	case guard.EventDeleteLifecyclePolicy:
		return "DeleteLifecyclePolicy removed the lifecycle policy"
	case guard.EventTagResource:
		return "TagResource" + tagList(" added ", r.Tags)
	case guard.EventUntagResource:
		return "UntagResource removed tag keys " + strings.Join(capList(r.TagKeys, capTags, capTagKey), ", ")
	case guard.EventCreateRepositoryCreationTemplate:
		// ECR's default for a template created without imageTagMutability
		// is MUTABLE (RepositoryCreationTemplate, imageTagMutability:
		// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_RepositoryCreationTemplate.html).
		m := cmp.Or(capText(r.Mutability, capSetting), guard.Mutable+" (the default)")
		return "CreateRepositoryCreationTemplate with image tag mutability " + guard.DescribeMutability(m, filters) +
			templateRequest(r)
	case guard.EventUpdateRepositoryCreationTemplate:
		s := "UpdateRepositoryCreationTemplate"
		if r.Mutability != "" {
			s += " to image tag mutability " + guard.DescribeMutability(capText(r.Mutability, capSetting), filters)
		}
		return s + templateRequest(r)
	case guard.EventDeleteRepositoryCreationTemplate:
		return "DeleteRepositoryCreationTemplate deleted the template"
	case guard.EventPullThroughCacheAction:
		sv := e.Service
		s := "ECR pulled " + imageRef(sv) + " through its pull through cache"
		if sv.UpstreamRegistry != "" {
			s += " from " + capText(sv.UpstreamRegistry, capName)
		}
		if sv.CacheRulePrefix != "" {
			s += " (rule prefix " + capText(sv.CacheRulePrefix, capName) + ")"
		}
		return s
	case guard.EventReplicationAction:
		sv := e.Service
		s := "ECR replicated " + imageRef(sv)
		if sv.SourceAccount != "" || sv.SourceRegion != "" {
			s += " from " + strings.TrimSpace(capText(sv.SourceAccount, capShort)+" "+capText(sv.SourceRegion, capShort))
		}
		return s
	}
	return capText(e.Name, capShort)
}

// imageRef names the image an ECR event concerns: tag and digest, as far
// as the event gives them.
func imageRef(sv guard.ServiceAction) string {
	switch tag, digest := capText(sv.ImageTag, capTagValue), capText(sv.ImageDigest, capShort); {
	case tag != "" && digest != "":
		return "image " + tag + " (" + digest + ")"
	case tag != "" || digest != "":
		return "image " + tag + digest
	}
	return "an image"
}

// appliesTo says which repositories a template shapes: those ECR creates
// on its own under its prefix (ECR reads prefix prod as prod/), or, ROOT,
// that no other template covers (CreateRepositoryCreationTemplate, prefix:
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepositoryCreationTemplate.html).
func appliesTo(t TemplateRef) string {
	s := "repositories ECR creates under " + t.Prefix + "/"
	if t.Prefix == guard.RootPrefix {
		s = "repositories ECR creates that no more specific template covers"
	}
	if len(t.AppliedFor) > 0 {
		s += " (" + strings.Join(t.AppliedFor, ", ") + ")"
	}
	return s
}

func describeState(s RepositoryState) string {
	out := "image tag mutability " + guard.DescribeMutability(s.ImageTagMutability, s.ExclusionFilters)
	if s.LifecyclePolicy != "" {
		out += ", lifecycle policy " + s.LifecyclePolicy
	}
	return out
}

// templateState is a template's state in the document: empty for one that
// does not exist, which has no image tag mutability.
func templateState(shape guard.Repository, gone, withLifecycle bool, rules guard.Rules) RepositoryState {
	if gone && shape.Mutability == "" {
		return RepositoryState{}
	}
	return stateOf(shape, withLifecycle, rules)
}

func stateOf(r guard.Repository, withLifecycle bool, rules guard.Rules) RepositoryState {
	s := RepositoryState{ImageTagMutability: capText(r.Mutability, capSetting), ExclusionFilters: capList(r.ExclusionFilters, capFilters, capFilter)}
	if withLifecycle {
		s.LifecyclePolicy = rules.Baseline.State(r.Lifecycle)
	}
	return s
}

// templateRequest is the rest of what a template call asked for, as far as
// the rules care: its lifecycle policy, appliedFor and resource tags.
func templateRequest(r guard.Request) string {
	var s string
	if r.LifecyclePolicy != "" {
		s += ", with a lifecycle policy"
	}
	if len(r.AppliedFor) > 0 {
		s += ", applied for " + strings.Join(capList(r.AppliedFor, capAppliedFor, capShort), ", ")
	}
	return s + tagList(", resource tags ", r.Tags)
}

// tagList lists tags as key=value, each capped, at most capTags of them.
func tagList(prefix string, tags []guard.Tag) string {
	if len(tags) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(tags), capTags+1))
	for i, t := range tags {
		if i == capTags {
			parts = append(parts, "…["+strconv.Itoa(len(tags)-capTags)+" more]")
			break
		}
		parts = append(parts, capText(t.Key, capTagKey)+"="+capText(t.Value, capTagValue))
	}
	return prefix + strings.Join(parts, ", ")
}

func pushedDocument(p guard.PushedImages) *PushedWhileMutable {
	d := &PushedWhileMutable{Since: p.Since.UTC().Format(time.RFC3339), Images: []PushedImage{}, Truncated: p.Truncated, Error: capText(p.Error, capSummary)}
	for _, img := range p.Images {
		// Capped, so that no image (ECR allows 1,000 tags of 300
		// characters) can fill the notice and push the others out of it.
		tags := capList(img.Tags, capImageTags, capImageTag)
		if tags == nil {
			tags = []string{}
		}
		d.Images = append(d.Images, PushedImage{Digest: capText(img.Digest, capImageTag), Tags: tags, PushedAt: img.PushedAt.UTC().Format(time.RFC3339)})
	}
	return d
}

func writePushed(b *strings.Builder, p PushedWhileMutable) {
	// DescribeImages shows when an image was first pushed, not when a tag
	// moved: a tag pointed at an image already in the repository does not
	// show up here, so say where to look for that.
	moved := "  Tags moved to images already in the repository are not listed: check CloudTrail PutImage calls since " + p.Since + ".\n"
	switch {
	case p.Error != "" && len(p.Images) == 0:
		fmt.Fprintf(b, "Pushed while tags were mutable: could not list the images pushed since %s (%s): check them by hand\n", p.Since, p.Error)
		return
	case len(p.Images) == 0 && p.Truncated:
		// Images were pushed, but none fits this notice: never say none was.
		fmt.Fprintf(b, "Pushed while tags were mutable: images were pushed since %s, too many to list here: list them by hand\n", p.Since)
		b.WriteString(moved)
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
	switch {
	case p.Error != "":
		// Found before the listing stopped: what was found, and that more may be missing.
		fmt.Fprintf(b, "  (the list may be incomplete: %s; check the others by hand)\n", p.Error)
	case p.Truncated:
		fmt.Fprintf(b, "  (more images were pushed: the list stops at %d; see the console)\n", len(p.Images))
	}
	b.WriteString(moved)
}
