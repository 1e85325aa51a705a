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

// Lifecycle statuses of a row.
const (
	LifecycleAbsent    = "absent"    // no lifecycle policy
	LifecycleBaseline  = "baseline"  // semantically the baseline (LIFECYCLE_POLICY)
	LifecycleOther     = "other"     // a policy that is not the baseline
	LifecycleUnchecked = "unchecked" // LIFECYCLE_MODE=off: not read, as in the functions
	unknown            = "unknown"   // the read failed
)

// Row is one repository as the audit found it, or (Repository "") a
// registry that could not be listed.
type Row struct {
	Account          string   `json:"account"`
	Region           string   `json:"region"`
	Repository       string   `json:"repository"`
	Mutability       string   `json:"mutability"`
	ExclusionFilters []string `json:"exclusion_filters"`
	Lifecycle        string   `json:"lifecycle"`
	// Exemption is guard.ExemptionStatus (none, active, expired,
	// invalid-expiry, name-not-allowed), or unknown when the tags could not
	// be read.
	Exemption    string `json:"exemption"`
	ExemptionTag string `json:"exemption_tag"`
	Expires      string `json:"expires"`
	// Would are the kinds of what ecr-guard would do (WOULD_REMEDIATE,
	// WOULD_RESTORE_LIFECYCLE); empty: nothing.
	Would []guard.Kind `json:"would"`
	// Details are the plan's findings in words.
	Details []string `json:"details"`
	// Error: the repository or registry could not be read.
	Error string `json:"error,omitempty"`
}

// Changes reports whether ecr-guard would change the repository.
func (r Row) Changes() bool { return len(r.Would) > 0 }

// Report is the audit of every target.
type Report struct {
	Rows    []Row `json:"repositories"`
	Targets int   `json:"-"`
}

// Exit statuses of make audit.
const (
	ExitCompliant = 0 // nothing would change
	ExitError     = 1 // a repository or registry could not be read (or the audit could not start)
	ExitUsage     = 2 // bad flags
	ExitChanges   = 3 // ecr-guard would change something
)

// ExitCode: an error wins, since the audit is then incomplete; then a change.
func (r Report) ExitCode() int {
	switch {
	case slices.ContainsFunc(r.Rows, func(r Row) bool { return r.Error != "" }):
		return ExitError
	case slices.ContainsFunc(r.Rows, Row.Changes):
		return ExitChanges
	}
	return ExitCompliant
}

// Summary counts the rows.
type Summary struct {
	Registries   int `json:"registries"`
	Repositories int `json:"repositories"`
	Compliant    int `json:"compliant"`
	Exempt       int `json:"exempt"` // of Compliant
	WouldChange  int `json:"would_change"`
	Errors       int `json:"errors"`
}

// Summary counts what the report holds. Exempt counts the compliant
// repositories that are so by an active exemption.
func (r Report) Summary() Summary {
	s := Summary{Registries: r.Targets}
	for _, row := range r.Rows {
		if row.Repository != "" {
			s.Repositories++
		}
		switch {
		case row.Error != "":
			s.Errors++
		case row.Changes():
			s.WouldChange++
		default:
			s.Compliant++
			if row.Exemption == string(guard.ExemptionActive) {
				s.Exempt++
			}
		}
	}
	return s
}

// Auditor runs the sweep's read-only path: the sweep's targets and pages,
// and for every repository the functions' own reconcile step in a dry run,
// tags read for every repository so that each row shows its exemption.
type Auditor struct {
	Lister     sweep.Lister
	Reconciler *reconcile.Reconciler
	Partition  string
	// Concurrency is the number of repositories reconciled at once.
	Concurrency int
	// Progress gets one line per page (nil: none).
	Progress io.Writer
}

// checks: every rule, as the sweep evaluates them.
var checks = guard.Checks{Mutability: true, Lifecycle: true}

// Run audits every target. Its error is only that the targets could not be
// told; a registry that cannot be listed, or a repository that cannot be
// read, is a row with an Error and the audit goes on.
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

// target audits one registry, page by page, rows sorted by name.
func (a *Auditor) target(ctx context.Context, t sweep.Target) []Row {
	var rows []Row
	token := ""
	for {
		page, next, err := a.Lister.ListPage(ctx, t, token)
		if err != nil {
			a.progress("%s %s: cannot list the repositories: %v", t.Account, t.Region, err)
			return append(rows, Row{Account: t.Account, Region: t.Region, Would: []guard.Kind{}, Details: []string{},
				Error: "cannot list the repositories: " + err.Error()})
		}
		rows = append(rows, a.page(ctx, t, page)...)
		a.progress("%s %s: %d repositories", t.Account, t.Region, len(rows))
		if next == "" {
			break
		}
		token = next
	}
	slices.SortFunc(rows, func(x, y Row) int { return cmp.Compare(x.Repository, y.Repository) })
	return rows
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
		Account: t.Account, Region: t.Region, Repository: repo.Name,
		Mutability: repo.Mutability, ExclusionFilters: repo.ExclusionFilters,
		Lifecycle: unknown, Exemption: unknown,
		Would: []guard.Kind{}, Details: []string{},
	}
	if row.ExclusionFilters == nil {
		row.ExclusionFilters = []string{}
	}
	rules := a.Reconciler.Rules()
	if o.Status == reconcile.Done {
		switch lc := o.Repo.Lifecycle; {
		case !rules.NeedsLifecycle(o.Read):
			row.Lifecycle = LifecycleUnchecked
		case !lc.Exists:
			row.Lifecycle = LifecycleAbsent
		case rules.Baseline.Equal(lc.Text):
			row.Lifecycle = LifecycleBaseline
		default:
			row.Lifecycle = LifecycleOther
		}
		e := o.Plan.Exemption
		row.Exemption, row.ExemptionTag, row.Expires = string(e.Status), e.Tag, e.Expires
	}
	for _, f := range o.Plan.Findings {
		if f.Kind != guard.KindFailed && !slices.Contains(row.Would, f.Kind) {
			row.Would = append(row.Would, f.Kind)
		}
		row.Details = append(row.Details, f.Summary)
	}
	if o.Err != nil {
		row.Error = o.Err.Error()
	}
	return row
}
