package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/sweep"
)

// Lifecycle statuses of a row besides the notices' words
// (guard.LifecyclePolicy.State: absent, baseline, contains-baseline, other).
const (
	LifecycleUnchecked = "unchecked" // LIFECYCLE_MODE=off: not read, as in the functions
	unknown            = "unknown"   // the read failed
)

// Row types: what a row is about.
const (
	TypeRepository = "repository"
	TypeTemplate   = "template" // a repository creation template; its name is its prefix
)

// Row is one repository or repository creation template as the audit found
// it, or (Name "") a registry whose repositories or templates could not be
// listed.
type Row struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	// Type is TypeRepository or TypeTemplate.
	Type string `json:"type"`
	// Name is the repository's name or the template's prefix.
	Name             string   `json:"name"`
	Mutability       string   `json:"mutability"`
	ExclusionFilters []string `json:"exclusion_filters"`
	Lifecycle        string   `json:"lifecycle"`
	// Exemption is guard.ExemptionStatus (none, active, expired,
	// invalid-expiry, name-not-allowed), or unknown when the tags could not
	// be read.
	Exemption    string `json:"exemption"`
	ExemptionTag string `json:"exemption_tag"`
	Expires      string `json:"expires"`
	// AppliedFor is what a template is applied for (REPLICATION,
	// PULL_THROUGH_CACHE, CREATE_ON_PUSH).
	AppliedFor []string `json:"applied_for,omitempty"`
	// Missing: the registry has no ROOT template; the row says what
	// ROOT_TEMPLATE makes of that.
	Missing bool `json:"missing,omitempty"`
	// Would are the kinds of what ecr-guard would do or report
	// (WOULD_REMEDIATE, WOULD_RESTORE_LIFECYCLE; OBSERVED for a missing ROOT
	// template under ROOT_TEMPLATE=report); empty: nothing.
	Would []guard.Kind `json:"would"`
	// Details are the plan's findings in words.
	Details []string `json:"details"`
	// Error: the repository, template or registry could not be read.
	Error string `json:"error,omitempty"`
}

// NeedsAttention reports whether ecr-guard would change or report something
// about the row.
func (r Row) NeedsAttention() bool { return len(r.Would) > 0 }

// Report is the audit of every target.
type Report struct {
	Rows    []Row `json:"rows"`
	Targets int   `json:"-"`
}

// Exit statuses of make audit.
const (
	ExitCompliant = 0 // nothing needs attention
	ExitError     = 1 // a repository, template or registry could not be read (or the audit could not start)
	ExitUsage     = 2 // bad flags
	ExitAttention = 3 // ecr-guard would change something, or reports a missing ROOT template
)

// ExitCode: an error wins, since the audit is then incomplete; then
// anything that needs attention.
func (r Report) ExitCode() int {
	switch {
	case slices.ContainsFunc(r.Rows, func(r Row) bool { return r.Error != "" }):
		return ExitError
	case slices.ContainsFunc(r.Rows, Row.NeedsAttention):
		return ExitAttention
	}
	return ExitCompliant
}

// Count sums up the rows of one type.
type Count struct {
	Total       int `json:"total"` // named rows: registry-wide errors are only Errors
	Compliant   int `json:"compliant"`
	Exempt      int `json:"exempt"` // of Compliant
	WouldChange int `json:"would_change"`
	Errors      int `json:"errors"`
}

// Summary counts the rows.
type Summary struct {
	Registries   int   `json:"registries"`
	Repositories Count `json:"repositories"`
	Templates    Count `json:"templates"`
	// WithoutRootTemplate counts the registries with no ROOT template (none
	// are looked for with ROOT_TEMPLATE=off): a registry's finding, not a
	// template's, so not in Templates.
	WithoutRootTemplate int `json:"without_root_template"`
}

// Summary counts what the report holds. Exempt counts the compliant rows
// that are so by an active exemption.
func (r Report) Summary() Summary {
	s := Summary{Registries: r.Targets}
	for _, row := range r.Rows {
		c := &s.Repositories
		if row.Type == TypeTemplate {
			c = &s.Templates
		}
		if row.Name != "" && !row.Missing {
			c.Total++
		}
		switch {
		case row.Error != "":
			c.Errors++
		case row.Missing:
			s.WithoutRootTemplate++
		case row.NeedsAttention():
			c.WouldChange++
		default:
			c.Compliant++
			if row.Exemption == string(guard.ExemptionActive) {
				c.Exempt++
			}
		}
	}
	return s
}

// Auditor runs the sweep's read-only path: the sweep's targets and pages,
// each target's repository creation templates before its repositories, and
// for every template and repository the functions' own reconcile step in a
// dry run, tags read for every repository so that each row shows its
// exemption.
type Auditor struct {
	Lister     sweep.Lister
	Reconciler *reconcile.Reconciler
	Partition  string
	// Concurrency is the number of repositories reconciled at once.
	Concurrency int
	// Progress gets one line per target's templates and per page (nil: none).
	Progress io.Writer
}

// checks: every rule, as the sweep evaluates them (and as DecideTemplate
// always does).
var checks = guard.Checks{Mutability: true, Lifecycle: true}

// Run audits every target. Its error is only that the targets could not be
// told; a registry whose repositories or templates cannot be listed, or a
// repository that cannot be read, is a row with an Error and the audit
// goes on.
func (a *Auditor) Run(ctx context.Context) (Report, error) {
	targets, err := a.Lister.Targets(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("the registries to audit: %w", err)
	}
	report := Report{Targets: len(targets)}
	for _, t := range targets {
		report.Rows = append(report.Rows, a.target(ctx, t)...)
	}
	return report, nil
}

func (a *Auditor) progress(format string, args ...any) {
	if a.Progress != nil {
		fmt.Fprintf(a.Progress, "audit: "+format+"\n", args...)
	}
}

// listingFailed is the row of a registry whose repositories or templates
// (typ) could not be listed.
func (a *Auditor) listingFailed(t sweep.Target, typ, what string, err error) Row {
	a.progress("%s %s: cannot list the %s: %v", t.Account, t.Region, what, err)
	return Row{Account: t.Account, Region: t.Region, Type: typ, Would: []guard.Kind{}, Details: []string{},
		Error: "cannot list the " + what + ": " + err.Error()}
}

// target audits one registry: its templates, then its repositories page by
// page; rows of each type sorted by name. As in the sweep, the first page
// of repositories is listed before the templates, so that a registry that
// cannot be reached at all (a member role refused) is one error row, not
// two.
func (a *Auditor) target(ctx context.Context, t sweep.Target) []Row {
	page, next, err := a.Lister.ListPage(ctx, t, "")
	if err != nil {
		return []Row{a.listingFailed(t, TypeRepository, "repositories", err)}
	}
	rows := a.templates(ctx, t)
	var repos []Row
	for {
		repos = append(repos, a.page(ctx, t, page)...)
		a.progress("%s %s: %d repositories", t.Account, t.Region, len(repos))
		if next == "" {
			break
		}
		if page, next, err = a.Lister.ListPage(ctx, t, next); err != nil {
			break
		}
	}
	slices.SortFunc(repos, byName)
	rows = append(rows, repos...)
	if err != nil {
		rows = append(rows, a.listingFailed(t, TypeRepository, "repositories", err))
	}
	return rows
}

func byName(x, y Row) int { return cmp.Compare(x.Name, y.Name) }

// templates audits a registry's repository creation templates as the sweep
// visits them: each listed one, and ROOT when the listing lacks it (no row
// then with ROOT_TEMPLATE=off: the step finds nothing to say). A registry
// has few, so one at a time.
func (a *Auditor) templates(ctx context.Context, t sweep.Target) []Row {
	listed, err := a.Lister.ListTemplates(ctx, t)
	if err != nil {
		return []Row{a.listingFailed(t, TypeTemplate, "repository creation templates", err)}
	}
	var rows []Row
	registry := reconcile.TemplateKey{Partition: a.Partition, Registry: t.Account, Region: t.Region}
	for _, req := range reconcile.Resync(registry, listed, true) {
		if row := a.template(ctx, t, req); row != nil {
			rows = append(rows, *row)
		}
	}
	a.progress("%s %s: %d templates", t.Account, t.Region, len(listed))
	slices.SortFunc(rows, byName)
	return rows
}

// template reconciles one template (listed, or a ROOT template the
// listing lacks) exactly as the sweep does, in a dry run.
func (a *Auditor) template(ctx context.Context, t sweep.Target, req reconcile.TemplateRequest) *Row {
	prefix, listed := req.Key.Prefix, req.Listed
	o := a.Reconciler.ReconcileTemplate(ctx, req)
	if o.Status == reconcile.Gone {
		return nil
	}
	row := &Row{
		Account: t.Account, Region: t.Region, Type: TypeTemplate, Name: prefix, Missing: listed == nil,
		ExclusionFilters: []string{}, Would: []guard.Kind{}, Details: []string{},
	}
	if listed != nil {
		row.Mutability, row.AppliedFor = listed.Mutability, listed.AppliedFor
		row.ExclusionFilters = append(row.ExclusionFilters, listed.ExclusionFilters...)
		row.Lifecycle = lifecycleStatus(a.Reconciler.Rules(), checks, listed.Lifecycle)
		row.Exemption = unknown
	}
	if o.Status == reconcile.Done {
		e := o.Plan.Exemption
		row.Exemption, row.ExemptionTag, row.Expires = string(e.Status), e.Tag, e.Expires
	}
	row.addFindings(o.Plan.Plan, o.Err)
	return row
}

// page reconciles a page's repositories with Concurrency workers; a
// repository deleted meanwhile has no row.
func (a *Auditor) page(ctx context.Context, t sweep.Target, page []guard.Repository) []Row {
	rows := make([]*Row, len(page))
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(page) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(max(a.Concurrency, 1), len(page)) {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				rows[i] = a.repository(ctx, t, page[i])
			}
		})
	}
	wg.Wait()
	var out []Row
	for _, r := range rows {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// repository reconciles one listed repository exactly as the sweep does,
// in a dry run, and reading its tags whatever its mutability.
func (a *Auditor) repository(ctx context.Context, t sweep.Target, repo guard.Repository) *Row {
	key := reconcile.Key{Partition: a.Partition, Registry: cmp.Or(repo.RegistryID, t.Account), Region: t.Region, Name: repo.Name}
	o := a.Reconciler.Reconcile(ctx, reconcile.Request{Key: key, Checks: checks, Listed: &repo, ReadTags: true, DryRun: true})
	if o.Status == reconcile.Gone {
		a.progress("%s %s: %s was deleted during the audit", t.Account, t.Region, repo.Name)
		return nil
	}
	row := &Row{
		Account: t.Account, Region: t.Region, Type: TypeRepository, Name: repo.Name,
		Mutability: repo.Mutability, ExclusionFilters: repo.ExclusionFilters,
		Lifecycle: unknown, Exemption: unknown,
		Would: []guard.Kind{}, Details: []string{},
	}
	if row.ExclusionFilters == nil {
		row.ExclusionFilters = []string{}
	}
	if o.Status == reconcile.Done {
		row.Lifecycle = lifecycleStatus(a.Reconciler.Rules(), o.Read, o.Repo.Lifecycle)
		e := o.Plan.Exemption
		row.Exemption, row.ExemptionTag, row.Expires = string(e.Status), e.Tag, e.Expires
	}
	row.addFindings(o.Plan, o.Err)
	return row
}

// lifecycleStatus is the row's Lifecycle for a policy read under read, in
// the words of the notices.
func lifecycleStatus(rules *guard.Rules, read guard.Checks, lc guard.Lifecycle) string {
	if !rules.NeedsLifecycle(read) {
		return LifecycleUnchecked
	}
	return rules.Baseline.State(lc)
}

// addFindings sets Would, Details and Error from the step's plan and error.
func (row *Row) addFindings(plan guard.Plan, err error) {
	for _, f := range plan.Findings {
		if f.Kind != guard.KindFailed && !slices.Contains(row.Would, f.Kind) {
			row.Would = append(row.Would, f.Kind)
		}
		row.Details = append(row.Details, f.Summary)
	}
	if err != nil {
		row.Error = err.Error()
	}
}
