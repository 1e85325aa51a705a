package guard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RootPrefix is the prefix of the template that applies to every repository
// no more specific template covers.
const RootPrefix = "ROOT"

// What a repository creation template is applied for (its appliedFor), as
// the ECR API spells them.
const (
	AppliedForReplication      = "REPLICATION"
	AppliedForPullThroughCache = "PULL_THROUGH_CACHE"
	AppliedForCreateOnPush     = "CREATE_ON_PUSH"
)

// Template is the live state of one repository creation template, as far as
// the rules care. Its other fields (repository policy, encryption, custom
// role, description) are never changed, so they are not read into it.
type Template struct {
	Prefix           string
	AppliedFor       []string
	Mutability       string
	ExclusionFilters []string
	// Lifecycle is the policy the template gives new repositories.
	Lifecycle Lifecycle
	// ResourceTags are the tags the template gives new repositories; an
	// exemption tag among them exempts the template (TemplateExemption).
	ResourceTags []Tag
	CreatedAt    time.Time
}

// ErrTemplateNotFound means the template does not exist; adapters return it
// (wrapped) so callers need not know the ECR error types.
var ErrTemplateNotFound = errors.New("repository creation template not found")

// ErrTemplateExists means a template with that prefix already exists (someone
// created it first); adapters return it (wrapped) from creating one.
var ErrTemplateExists = errors.New("repository creation template already exists")

// ErrTemplateChanged means the template changed, in what the rules read,
// between the read a decision was made on and the write: adapters return it
// (wrapped, retryable) instead of writing, so that the decision is made
// again on what is there (the API has no conditional update).
var ErrTemplateChanged = errors.New("repository creation template changed since it was read")

// SameForTheRules reports whether t and u agree in everything the rules
// read of a template.
func (t Template) SameForTheRules(u Template) bool {
	return t.Prefix == u.Prefix && t.Mutability == u.Mutability && sameSet(t.ExclusionFilters, u.ExclusionFilters) &&
		t.Lifecycle == u.Lifecycle && sameSet(t.ResourceTags, u.ResourceTags) && sameSet(t.AppliedFor, u.AppliedFor)
}

// TemplateChange is what fixing a template writes
// (UpdateRepositoryCreationTemplate): only these, every other field of the
// template kept as it is.
type TemplateChange struct {
	// Mutability, when set, replaces the mutability and its filters.
	Mutability *MutabilitySetting
	// LifecyclePolicy, when not "", replaces the lifecycle policy.
	LifecyclePolicy string
	// AddAppliedFor are appliedFor values added to those the template has
	// (ROOT_TEMPLATE=ensure).
	AddAppliedFor []string
	// Basis is the template as the decision read it; when set, a template
	// that now differs from it is not written (ErrTemplateChanged). The
	// sweep decides on the listing, a whole loop of templates earlier.
	Basis *Template
}

// RootTemplateMode says what ecr-guard does about the ROOT template
// (ROOT_TEMPLATE): the template for every repository ECR creates on its own
// that no more specific template covers.
type RootTemplateMode string

const (
	// RootTemplateReport: a missing or non-compliant ROOT template is
	// reported (the sweep's digest, a dry-run notice for a change), never
	// written.
	RootTemplateReport RootTemplateMode = "report"
	// RootTemplateEnsure: ecr-guard creates the ROOT template, or fixes it.
	RootTemplateEnsure RootTemplateMode = "ensure"
	// RootTemplateOff: the ROOT template is left alone.
	RootTemplateOff RootTemplateMode = "off"
)

// ParseRootTemplateMode validates a ROOT_TEMPLATE value.
func ParseRootTemplateMode(s string) (RootTemplateMode, error) {
	switch m := RootTemplateMode(s); m {
	case RootTemplateReport, RootTemplateEnsure, RootTemplateOff:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want report, ensure or off)", s)
}

// ParseAppliedFor validates a list of appliedFor values.
func ParseAppliedFor(values []string) error {
	for _, v := range values {
		switch v {
		case AppliedForReplication, AppliedForPullThroughCache, AppliedForCreateOnPush:
		default:
			return fmt.Errorf("unknown appliedFor %q (want %s, %s or %s)", v, AppliedForReplication, AppliedForPullThroughCache, AppliedForCreateOnPush)
		}
	}
	if len(values) == 0 {
		return errors.New("at least one appliedFor value is needed")
	}
	return nil
}

// TemplateInput is everything a template decision depends on.
type TemplateInput struct {
	Event *Event // nil for the scheduled sweep
	// Template is the live template; nil when it does not exist.
	Template *Template
	Prefix   string
	Now      time.Time
}

// TemplatePlan is the decision about one template: the repository plan's
// writes and findings, plus the ROOT template's own.
type TemplatePlan struct {
	Plan
	// Create: there is no ROOT template and ROOT_TEMPLATE=ensure.
	Create bool
	// AddAppliedFor are the ROOT_TEMPLATE_APPLIED_FOR values the ROOT
	// template lacks (ROOT_TEMPLATE=ensure).
	AddAppliedFor []string
	// Ignored: ROOT_TEMPLATE=off and this is the ROOT template.
	Ignored bool
}

// Writes reports whether the plan calls for any write (made or, in a dry
// run, described).
func (p TemplatePlan) Writes() bool {
	return p.Create || p.SetMutability != nil || p.PutLifecycle || len(p.AddAppliedFor) > 0
}

// Change is what fixing the existing template writes.
func (p TemplatePlan) Change() TemplateChange {
	c := TemplateChange{Mutability: p.SetMutability, AddAppliedFor: p.AddAppliedFor}
	if p.PutLifecycle {
		c.LifecyclePolicy = p.LifecycleText
	}
	return c
}

// RootTemplate is the ROOT template ROOT_TEMPLATE=ensure creates.
func (r *Rules) RootTemplate() Template {
	return Template{
		Prefix:     RootPrefix,
		AppliedFor: slices.Clone(r.RootTemplateAppliedFor),
		Mutability: Immutable,
		Lifecycle:  Lifecycle{Exists: true, Text: r.Baseline.Text()},
	}
}

// DecideTemplate applies the rules to the live state of one repository
// creation template: the same mutability, lifecycle and exemption rules as
// for a repository, since a template's settings are those of every
// repository ECR will create under its prefix. The ROOT template follows
// ROOT_TEMPLATE. Pure, like Decide.
func (r *Rules) DecideTemplate(in TemplateInput) TemplatePlan {
	root := in.Prefix == RootPrefix
	if root && r.RootTemplateMode == RootTemplateOff {
		return TemplatePlan{Plan: Plan{DryRun: r.DryRun}, Ignored: true}
	}
	if root && r.RootTemplateMode == RootTemplateReport && !r.DryRun {
		// Reported, never written: what a dry run would say, saying why.
		report := *r
		report.DryRun = true
		p := report.decideTemplate(in, root)
		for i, f := range p.Findings {
			if rest, ok := strings.CutPrefix(f.Summary, "dry run: "); ok {
				p.Findings[i].Summary = "ROOT_TEMPLATE=report, so not changed: " + rest
			}
		}
		return p
	}
	return r.decideTemplate(in, root)
}

func (r *Rules) decideTemplate(in TemplateInput, root bool) TemplatePlan {
	if in.Template == nil {
		return r.decideMissingTemplate(in, root)
	}
	t := *in.Template
	p := TemplatePlan{Plan: Plan{DryRun: r.DryRun, Exemption: r.TemplateExemption(t.Prefix, t.ResourceTags, in.Now)}}
	// The decisions shared with repositories see the template as the
	// repository every creation under its prefix will be.
	repoIn := Input{
		Event:  in.Event,
		Checks: Checks{Mutability: true, Lifecycle: true},
		Repo: Repository{Name: t.Prefix, Mutability: t.Mutability, ExclusionFilters: t.ExclusionFilters,
			Tags: t.ResourceTags, Lifecycle: t.Lifecycle},
		Now:      in.Now,
		Template: true,
	}
	r.decideMutability(&p.Plan, &repoIn)
	if r.NeedsLifecycle(repoIn.Checks) {
		r.decideLifecycle(&p.Plan, &repoIn)
	}
	if root && r.RootTemplateMode == RootTemplateEnsure {
		for _, a := range r.RootTemplateAppliedFor {
			if !slices.Contains(t.AppliedFor, a) {
				p.AddAppliedFor = append(p.AddAppliedFor, a)
			}
		}
		if len(p.AddAppliedFor) > 0 {
			p.Findings = append(p.Findings, Finding{Kind: r.fixKind(), Area: AreaMutability,
				Summary: r.dryRunPrefix() + "added appliedFor " + strings.Join(p.AddAppliedFor, ", ") + " to the ROOT template (ROOT_TEMPLATE_APPLIED_FOR): repositories ECR creates that way no longer get ECR's defaults"})
		}
	}
	if in.Event != nil {
		r.decideExemptionChange(&p.Plan, &repoIn)
		if r.IsSelf(*in.Event) && len(p.Findings) > 0 {
			p.Findings = append(p.Findings, Finding{Kind: KindObserved, Area: AreaOwnRole,
				Summary: "the call was made with ecr-guard's own role " + in.Event.Principal.IssuerARN + " and left the template non-compliant: only ecr-guard should use that role; check who can run code under it"})
		}
	}
	return p
}

// decideMissingTemplate: a template that does not exist. Its deletion is
// news (repositories under the prefix now get a less specific template's
// settings, or ECR's defaults: MUTABLE); a missing ROOT template is created
// under ROOT_TEMPLATE=ensure and reported under report.
func (r *Rules) decideMissingTemplate(in TemplateInput, root bool) TemplatePlan {
	p := TemplatePlan{Plan: Plan{DryRun: r.DryRun}}
	deleted := in.Event != nil && in.Event.Name == EventDeleteRepositoryCreationTemplate
	fallback := "a less specific template's settings, or ECR's defaults (MUTABLE tags, no lifecycle policy)"
	if root {
		fallback = "ECR's defaults (MUTABLE tags, no lifecycle policy)"
	}
	if deleted {
		who := in.Event.Principal.Who()
		p.Findings = append(p.Findings, Finding{Kind: KindObserved, Area: AreaTemplate,
			Summary: "template " + in.Prefix + " deleted by " + who + ": repositories ECR creates under it now get " + fallback})
	}
	switch {
	case !root:
	case r.RootTemplateMode == RootTemplateEnsure:
		// What the created template holds, for the notice's "after".
		p.Create, p.PutLifecycle, p.LifecycleText = true, true, r.Baseline.Text()
		p.SetMutability = &MutabilitySetting{Mutability: Immutable}
		p.Findings = append(p.Findings, Finding{Kind: r.fixKind(), Area: AreaMutability,
			Summary: r.dryRunPrefix() + "created the ROOT template: IMMUTABLE, the baseline lifecycle policy, appliedFor " + strings.Join(r.RootTemplateAppliedFor, ", ")})
	case !deleted: // ROOT_TEMPLATE=report
		p.Findings = append(p.Findings, Finding{Kind: KindObserved, Area: AreaTemplate,
			Summary: "there is no ROOT template: repositories ECR creates on its own without a more specific template get " + fallback + " (ROOT_TEMPLATE=report)"})
	}
	return p
}

func (r *Rules) fixKind() Kind {
	if r.DryRun {
		return KindWouldRemediate
	}
	return KindRemediated
}

func (r *Rules) dryRunPrefix() string {
	if r.DryRun {
		return "dry run: would have "
	}
	return ""
}

// TemplateExemption evaluates the exemption rule for a template: its
// resourceTags carry an exemption tag and its prefix is covered by
// EXEMPT_REPOSITORY_PATTERNS (every repository name under it matches), so
// the template and the repositories it creates, which carry the same tags,
// agree. The ROOT template is never exempt: it shapes every repository.
func (r *Rules) TemplateExemption(prefix string, tags []Tag, now time.Time) Exemption {
	return r.exemption(func() bool { return prefix != RootPrefix && r.prefixMayBeExempt(prefix) }, tags, now)
}

func (r *Rules) prefixMayBeExempt(prefix string) bool {
	if len(r.ExemptRepositoryPatterns) == 0 {
		return true
	}
	return slices.ContainsFunc(r.ExemptRepositoryPatterns, func(p string) bool { return GlobCoversPrefix(p, prefix) })
}

// GlobCoversPrefix reports whether pattern (MatchGlob's syntax) matches
// every repository name under prefix: prefix + "/" + any non-empty rest.
//
// It follows every way the pattern can consume prefix + "/" (the positions
// a non-deterministic matcher can be in). The rest is arbitrary, so it is
// covered exactly when one of those positions leaves a non-empty run of
// stars only: any literal character left could be missed by a rest made
// of characters the pattern does not contain.
func GlobCoversPrefix(pattern, prefix string) bool {
	states := starClosure(pattern, []int{0})
	// ECR applies a "/" to the end of every prefix: "prod/" is "prod".
	for _, c := range []byte(strings.TrimSuffix(prefix, "/") + "/") {
		var next []int
		for _, i := range states {
			switch {
			case i < len(pattern) && pattern[i] == '*':
				next = append(next, i) // the star takes c
			case i < len(pattern) && pattern[i] == c:
				next = append(next, i+1)
			}
		}
		states = starClosure(pattern, next)
	}
	return slices.ContainsFunc(states, func(i int) bool {
		return i < len(pattern) && strings.Trim(pattern[i:], "*") == ""
	})
}

// starClosure adds to states the positions reached by letting stars match
// nothing, without duplicates.
func starClosure(pattern string, states []int) []int {
	var out []int
	for _, i := range states {
		for {
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
			if i >= len(pattern) || pattern[i] != '*' {
				break
			}
			i++
		}
	}
	return out
}

// ShapingTemplate is the template ECR applies to a repository named name
// that it creates for appliedFor: the one with the longest prefix the name
// is under (prefix "prod" covers "prod/app"), else ROOT, among those
// applied for that ("" when unknown: among all); false when none is.
func ShapingTemplate(templates []Template, name, appliedFor string) (Template, bool) {
	var best *Template
	for i, t := range templates {
		if appliedFor != "" && !slices.Contains(t.AppliedFor, appliedFor) {
			continue
		}
		switch {
		case t.Prefix == RootPrefix:
			if best == nil {
				best = &templates[i]
			}
		case strings.HasPrefix(name, strings.TrimSuffix(t.Prefix, "/")+"/"):
			if best == nil || best.Prefix == RootPrefix || len(t.Prefix) > len(best.Prefix) {
				best = &templates[i]
			}
		}
	}
	if best == nil {
		return Template{}, false
	}
	return *best, true
}

// Shaping is what shaped a repository ECR created on its own: how it
// created it and the template it applied (ShapingTemplate).
type Shaping struct {
	// AppliedFor is how ECR created it (REPLICATION, PULL_THROUGH_CACHE,
	// CREATE_ON_PUSH); "" when the event does not say (a CloudTrail
	// CreateRepository by ecr.amazonaws.com).
	AppliedFor string
	// Template is the template applied; nil: none, ECR's defaults (MUTABLE,
	// no lifecycle policy).
	Template *Template
}

// ServiceCreation reports whether e is ECR creating (or filling) a
// repository on its own, and for what when the event says: the
// EventBridge events name it; a CloudTrail CreateRepository by the service
// does not.
func ServiceCreation(e Event) (appliedFor string, ok bool) {
	switch {
	case e.Name == EventPullThroughCacheAction:
		return AppliedForPullThroughCache, true
	case e.Name == EventReplicationAction:
		return AppliedForReplication, true
	case e.Name == EventCreateRepository && e.Principal.Type == "AWSService":
		return "", true
	}
	return "", false
}
