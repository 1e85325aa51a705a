package guard

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Kind is the kind of a finding and of the notice that reports it.
type Kind string

const (
	KindFailed                Kind = "FAILED"
	KindRemediated            Kind = "REMEDIATED"
	KindWouldRemediate        Kind = "WOULD_REMEDIATE"
	KindObserved              Kind = "OBSERVED"
	KindExempt                Kind = "EXEMPT"
	KindExemptionGranted      Kind = "EXEMPTION_GRANTED"
	KindExemptionRejected     Kind = "EXEMPTION_REJECTED"
	KindLifecycleRestored     Kind = "LIFECYCLE_RESTORED"
	KindWouldRestoreLifecycle Kind = "WOULD_RESTORE_LIFECYCLE"
)

// Severity orders findings; a notice takes the kind of its most severe one.
type Severity int

const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

func (s Severity) String() string {
	switch s {
	case SeverityCritical:
		return "CRITICAL"
	case SeverityHigh:
		return "HIGH"
	case SeverityMedium:
		return "MEDIUM"
	case SeverityLow:
		return "LOW"
	}
	return "NONE"
}

// Area is the setting a finding is about.
type Area string

const (
	AreaMutability Area = "mutability"
	AreaLifecycle  Area = "lifecycle"
	AreaExemption  Area = "exemption"
	// AreaOwnRole: the triggering call was made with ecr-guard's own role
	// and still left something to fix.
	AreaOwnRole Area = "own-role"
	// AreaAccess: the repository's registry could not be reached (in an
	// organization, the member role could not be assumed).
	AreaAccess Area = "access"
	// AreaTemplate: a repository creation template was deleted, so the
	// repositories under its prefix fall back to a less specific template
	// or to ECR's defaults.
	AreaTemplate Area = "template"
)

// Finding is one thing that happened or was observed, in words a person reads.
type Finding struct {
	Kind    Kind
	Area    Area
	Summary string
}

// Severity: CRITICAL for failures, HIGH for mutability changes, rejected
// exemptions and non-compliant changes made with ecr-guard's own role, MEDIUM for exemptions, their changes and deleted templates, LOW for lifecycle.
func (f Finding) Severity() Severity {
	switch {
	case f.Kind == KindFailed:
		return SeverityCritical
	case f.Kind == KindExemptionRejected, f.Area == AreaOwnRole:
		return SeverityHigh
	case f.Kind == KindExempt || f.Area == AreaExemption || f.Area == AreaTemplate:
		return SeverityMedium
	case f.Area == AreaMutability:
		return SeverityHigh
	}
	return SeverityLow
}

// Checks says which rules an event (or the sweep) triggers.
type Checks struct {
	Mutability bool
	Lifecycle  bool
}

// ChecksFor returns the rules a handled event triggers.
func ChecksFor(eventName string) Checks {
	switch eventName {
	case EventCreateRepository, EventCreateRepositoryCreationTemplate, EventUpdateRepositoryCreationTemplate,
		EventDeleteRepositoryCreationTemplate, EventPullThroughCacheAction, EventReplicationAction:
		return Checks{Mutability: true, Lifecycle: true}
	case EventPutImageTagMutability, EventTagResource, EventUntagResource:
		return Checks{Mutability: true}
	case EventPutLifecyclePolicy, EventDeleteLifecyclePolicy:
		return Checks{Lifecycle: true}
	}
	return Checks{}
}

// IsHandled reports whether ecr-guard acts on eventName.
func IsHandled(eventName string) bool { return slices.Contains(HandledEventNames, eventName) }

// NeedsLifecycle reports whether the lifecycle policy must be read.
func (r *Rules) NeedsLifecycle(c Checks) bool {
	return c.Lifecycle && r.LifecycleMode != LifecycleOff
}

// Input is everything a decision depends on.
type Input struct {
	Event  *Event // nil for the scheduled sweep
	Checks Checks
	Repo   Repository
	Now    time.Time
	// Template: Repo stands for a repository creation template (Name is
	// its prefix), for the wording of the findings.
	Template bool
}

// Plan is the decision: the writes the rules call for and the findings to
// report. In a dry run (DryRun) the writes are described but must not be made.
type Plan struct {
	SetMutability *MutabilitySetting
	PutLifecycle  bool
	// LifecycleText is the policy PutLifecycle writes: the baseline, or in
	// LIFECYCLE_MODE=contains the repository's policy with the baseline's
	// missing rules merged in.
	LifecycleText string
	DryRun        bool
	Exemption     Exemption
	Findings      []Finding
	// Stale: the event is older than the live repository, so it was about a
	// deleted repository of the same name. The findings are what was found,
	// not caused by the event.
	Stale bool
}

// Kind is the kind of the most severe finding ("" when there is none).
func (p Plan) Kind() Kind {
	if f, ok := p.top(); ok {
		return f.Kind
	}
	return ""
}

// Severity is the severity of the most severe finding.
func (p Plan) Severity() Severity {
	if f, ok := p.top(); ok {
		return f.Severity()
	}
	return 0
}

func (p Plan) top() (Finding, bool) {
	if len(p.Findings) == 0 {
		return Finding{}, false
	}
	top := p.Findings[0]
	for _, f := range p.Findings[1:] {
		if f.Severity() > top.Severity() {
			top = f
		}
	}
	return top, true
}

// MutableWindow reports whether the plan found the repository's tags
// mutable against the rules (remediated, would be, observed closed, or a
// revert that failed): then images pushed in the meantime may have
// overwritten trusted tags.
func (p Plan) MutableWindow() bool {
	return slices.ContainsFunc(p.Findings, func(f Finding) bool {
		if f.Area != AreaMutability {
			return false
		}
		return f.Kind == KindRemediated || f.Kind == KindWouldRemediate || f.Kind == KindObserved ||
			(f.Kind == KindFailed && p.SetMutability != nil)
	})
}

// Fail replaces the planned outcome for area with a FAILED finding: the
// read or write was refused for good.
func (p *Plan) Fail(area Area, summary string) {
	for i, f := range p.Findings {
		if f.Area == area {
			p.Findings[i] = Finding{Kind: KindFailed, Area: area, Summary: summary}
			return
		}
	}
	p.Findings = append(p.Findings, Finding{Kind: KindFailed, Area: area, Summary: summary})
}

// Failed reports whether a read or write for area was refused for good.
func (p Plan) Failed(area Area) bool {
	return slices.ContainsFunc(p.Findings, func(f Finding) bool { return f.Area == area && f.Kind == KindFailed })
}

// After is the repository state once the plan's writes are made: unchanged
// in a dry run and where a write failed.
func (p Plan) After(repo Repository) Repository {
	after := repo
	if p.DryRun {
		return after
	}
	if p.SetMutability != nil && !p.Failed(AreaMutability) {
		after.Mutability = p.SetMutability.Mutability
		after.ExclusionFilters = p.SetMutability.ExclusionFilters
	}
	if p.PutLifecycle && !p.Failed(AreaLifecycle) {
		after.Lifecycle = Lifecycle{Exists: true, Text: p.LifecycleText}
	}
	return after
}

// Decide applies the rules to the live state of one repository. It is pure:
// the same input always gives the same plan, so repeated or late events
// cannot make it do more than the live state calls for.
func (r *Rules) Decide(in Input) Plan {
	p := Plan{DryRun: r.DryRun, Exemption: r.Exemption(in.Repo.Name, in.Repo.Tags, in.Now)}
	if in.Event != nil && Predates(*in.Event, in.Repo) {
		p.Stale = true
		in.Event = nil // nothing it says is about this repository
	}
	if in.Checks.Mutability {
		r.decideMutability(&p, &in)
	}
	if r.NeedsLifecycle(in.Checks) {
		r.decideLifecycle(&p, &in)
	}
	if in.Event != nil {
		r.decideExemptionChange(&p, &in)
		if r.IsSelf(*in.Event) && len(p.Findings) > 0 {
			// Anyone able to run code under ecr-guard's role could otherwise
			// hide behind it: its calls are checked like any other, and one
			// that left something to fix is suspicious in itself.
			p.Findings = append(p.Findings, Finding{Kind: KindObserved, Area: AreaOwnRole,
				Summary: "the call was made with ecr-guard's own role " + in.Event.Principal.IssuerARN + " and left the repository non-compliant: only ecr-guard should use that role; check who can run code under it"})
		}
	}
	return p
}

// Predates reports whether e happened before repo was created: CloudTrail
// times have second precision, so only an event a whole second older counts
// (a CreateRepository event carries the creation's own second).
func Predates(e Event, repo Repository) bool {
	return !repo.CreatedAt.IsZero() && e.Time.Before(repo.CreatedAt.Truncate(time.Second))
}

// Who names the principal in a finding: its ARN, else the AWS service that
// acted (invokedBy), else its account.
func (p Principal) Who() string {
	switch {
	case p.ARN != "":
		return p.ARN
	case p.InvokedBy != "":
		return p.InvokedBy
	}
	return p.AccountID
}

// decideExemptionChange reports tag calls that change an exemption, since
// each changes what the mutability rule allows:
//   - TagResource adding an exemption tag, or an expiry date, to a repository
//     that is now exempt: EXEMPTION_GRANTED (a renewal is a grant too);
//   - TagResource adding an exemption tag to a repository whose name is
//     outside EXEMPT_REPOSITORY_PATTERNS: EXEMPTION_REJECTED, naming who tried;
//   - UntagResource removing the expiry date of an exemption: EXEMPTION_GRANTED
//     (it no longer expires);
//   - UntagResource removing the exemption tag of a repository that is
//     compliant: OBSERVED, so a retry after a failed publish of its revert
//     still reports it.
func (r *Rules) decideExemptionChange(p *Plan, in *Input) {
	e, ex := in.Event, p.Exemption
	if r.echoesState(e, in.Repo) {
		return
	}
	add := func(kind Kind, summary string) {
		p.Findings = append(p.Findings, Finding{Kind: kind, Area: AreaExemption, Summary: summary})
	}
	switch e.Name {
	case EventTagResource, EventCreateRepository, EventCreateRepositoryCreationTemplate, EventUpdateRepositoryCreationTemplate:
		// Tags given at creation, or a template's resourceTags, grant an
		// exemption just as TagResource does.
		how := "set by "
		switch e.Name {
		case EventCreateRepository:
			how = "given at creation by "
		case EventCreateRepositoryCreationTemplate, EventUpdateRepositoryCreationTemplate:
			how = "set as the template's resource tag by "
		}
		addsExemptTag := slices.ContainsFunc(e.Request.Tags, r.IsExemptTag)
		addsExpiry := slices.ContainsFunc(e.Request.Tags, func(t Tag) bool { return r.isExpiryKey(t.Key) })
		switch {
		case ex.Active() && (addsExemptTag || addsExpiry):
			add(KindExemptionGranted, "exemption tag "+ex.Tag+expirySuffix(ex)+" "+how+e.Principal.Who()+": the repository may have mutable tags")
		case ex.Status == ExemptionNameNotAllowed && addsExemptTag:
			why := "the repository name matches no EXEMPT_REPOSITORY_PATTERNS"
			if in.Template {
				why = "the template's prefix is ROOT or not covered by EXEMPT_REPOSITORY_PATTERNS"
			}
			add(KindExemptionRejected, "exemption tag "+ex.Tag+" "+how+e.Principal.Who()+", but "+why+": not exempt")
		}
	case EventUntagResource:
		removedExpiry := slices.ContainsFunc(e.Request.TagKeys, r.isExpiryKey)
		removedExempt := slices.ContainsFunc(e.Request.TagKeys, func(key string) bool {
			return slices.ContainsFunc(r.ExemptTags, func(m TagMatcher) bool { return asciiEqualFold(m.Key, key) })
		})
		reverted := slices.ContainsFunc(p.Findings, func(f Finding) bool { return f.Area == AreaMutability })
		switch {
		case ex.Active() && removedExpiry && len(ex.ExpiryTags) == 0:
			// Decided on the live tags: ECR tag keys are case-sensitive,
			// so the request may have named a key the repository lacks.
			add(KindExemptionGranted, "expiry date of exemption tag "+ex.Tag+" removed by "+e.Principal.Who()+": the exemption no longer expires")
		case removedExempt && !ex.Active() && !reverted:
			add(KindObserved, "exemption tag removed by "+e.Principal.Who()+": the repository is no longer exempt; it is "+DescribeMutability(in.Repo.Mutability, in.Repo.ExclusionFilters))
		}
	}
}

// echoesState reports whether e is ecr-guard's own template update, which
// sends back every member as it read it (the API has no partial update)
// and so asks for nothing and grants nothing: a call with ecr-guard's role
// whose request is what the template is now. Any other call with that role
// is checked like anyone's. (ecr-guard's other writes only ever ask for
// what is compliant.)
func (r *Rules) echoesState(e *Event, live Repository) bool {
	q := e.Request
	return e.Name == EventUpdateRepositoryCreationTemplate && r.IsSelf(*e) &&
		q.Mutability == live.Mutability && sameSet(q.ExclusionFilters, live.ExclusionFilters) && sameSet(q.Tags, live.Tags)
}

// sameSet reports whether a and b hold the same items in any order: ECR
// does not promise the order of a template's filters, tags or appliedFor.
func sameSet[T comparable](a, b []T) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x T) bool { return !slices.Contains(b, x) })
}

func (r *Rules) isExpiryKey(key string) bool {
	return r.ExemptionExpiresTag != "" && asciiEqualFold(key, r.ExemptionExpiresTag)
}

func (r *Rules) decideMutability(p *Plan, in *Input) {
	repo := in.Repo
	current := DescribeMutability(repo.Mutability, repo.ExclusionFilters)
	if r.MutabilityCompliant(repo.Mutability, repo.ExclusionFilters) {
		requested, ok := r.requestedNonCompliantMutability(in.Event, in.Repo)
		switch {
		case !ok:
		case p.Exemption.Active():
			// Said as when the repository is still mutable: whether it was
			// set back before the event was handled must not decide whether
			// anyone hears that tags were mutable.
			p.Findings = append(p.Findings, Finding{
				Kind:    KindExempt,
				Area:    AreaMutability,
				Summary: in.Event.Name + " set " + requested + "; allowed by exemption tag " + p.Exemption.Tag + expirySuffix(p.Exemption) + "; it is " + current + " again",
			})
		default:
			p.Findings = append(p.Findings, Finding{
				Kind:    KindObserved,
				Area:    AreaMutability,
				Summary: in.Event.Name + " set " + requested + "; it is " + current + " again, but tags were mutable in between",
			})
		}
		return
	}
	if p.Exemption.Active() {
		if requested, ok := r.requestedNonCompliantMutability(in.Event, in.Repo); ok {
			p.Findings = append(p.Findings, Finding{
				Kind:    KindExempt,
				Area:    AreaMutability,
				Summary: in.Event.Name + " set " + requested + "; allowed by exemption tag " + p.Exemption.Tag + expirySuffix(p.Exemption),
			})
		}
		return
	}
	target := r.compliantSetting(repo.Mutability, repo.ExclusionFilters)
	change := current + " -> " + DescribeMutability(target.Mutability, target.ExclusionFilters)
	p.SetMutability = &target
	if r.DryRun {
		p.Findings = append(p.Findings, Finding{Kind: KindWouldRemediate, Area: AreaMutability, Summary: "dry run: would set image tag mutability " + change})
		return
	}
	p.Findings = append(p.Findings, Finding{Kind: KindRemediated, Area: AreaMutability, Summary: "set image tag mutability " + change})
}

// requestedNonCompliantMutability reports what the event asked for when that
// was a non-compliant mutability setting. CreateRepository and
// CreateRepositoryCreationTemplate default to MUTABLE, and so does an
// UpdateRepositoryCreationTemplate that leaves it out (the API reference:
// "If this parameter is omitted, the default setting of MUTABLE will be
// used").
func (r *Rules) requestedNonCompliantMutability(e *Event, live Repository) (string, bool) {
	if e == nil || r.echoesState(e, live) {
		return "", false
	}
	m := e.Request.Mutability
	switch e.Name {
	case EventUpdateRepositoryCreationTemplate:
		m = cmp.Or(m, Mutable)
	case EventCreateRepository, EventCreateRepositoryCreationTemplate:
		if m == "" && e.Principal.Type == "AWSService" {
			// ECR created it on its own (pull-through cache, replication,
			// create-on-push) from a template or its defaults: nobody asked
			// for anything, and the event that found it mutable reported it.
			return "", false
		}
		m = cmp.Or(m, Mutable) // ECR's default for both
	case EventPutImageTagMutability:
	default:
		return "", false
	}
	if m == "" {
		return "", false
	}
	if r.MutabilityCompliant(m, e.Request.ExclusionFilters) {
		return "", false
	}
	return DescribeMutability(m, e.Request.ExclusionFilters), true
}

func (r *Rules) decideLifecycle(p *Plan, in *Input) {
	fix, ok := r.fixLifecycle(in.Repo.Lifecycle)
	if !ok {
		if observed := r.observedLifecycleChange(in.Event, in.Repo.Lifecycle); observed != "" {
			p.Findings = append(p.Findings, Finding{Kind: KindObserved, Area: AreaLifecycle, Summary: observed})
		}
		return
	}
	p.PutLifecycle = true
	p.LifecycleText = fix.text
	if r.DryRun {
		p.Findings = append(p.Findings, Finding{Kind: KindWouldRestoreLifecycle, Area: AreaLifecycle, Summary: "dry run: " + fix.problem + "; " + fix.would})
		return
	}
	p.Findings = append(p.Findings, Finding{Kind: KindLifecycleRestored, Area: AreaLifecycle, Summary: fix.problem + "; " + fix.did})
}

// lifecycleFix is what to write for a lifecycle policy that is not
// compliant, and the words of its finding.
type lifecycleFix struct {
	problem    string // what is wrong
	text       string // the policy to write
	did, would string // what writing it does, done and in a dry run
}

// fixLifecycle decides how to make the policy compliant with LIFECYCLE_MODE;
// ok is false when it already is.
func (r *Rules) fixLifecycle(lc Lifecycle) (fix lifecycleFix, ok bool) {
	baseline := func(problem string) (lifecycleFix, bool) {
		return lifecycleFix{problem: problem, text: r.Baseline.Text(),
			did: "applied the baseline lifecycle policy", would: "would apply the baseline lifecycle policy"}, true
	}
	switch {
	case !lc.Exists:
		return baseline("no lifecycle policy")
	case r.LifecycleMode == LifecycleEnforce && !r.Baseline.Equal(lc.Text):
		return baseline("lifecycle policy differs from the baseline")
	case r.LifecycleMode != LifecycleContains || r.Baseline.Equal(lc.Text):
		return lifecycleFix{}, false
	}
	// A policy ecr-guard cannot validate has no rules it could keep for
	// certain: it is replaced, as enforce would.
	rules, err := parseLifecycleRules(lc.Text)
	if err != nil {
		return baseline("lifecycle policy is not valid (" + err.Error() + ")")
	}
	m, err := r.Baseline.merge(rules)
	switch {
	case err != nil:
		return baseline("lifecycle policy lacks baseline rules that cannot be merged in (" + err.Error() + ")")
	case len(m.added) == 0:
		return lifecycleFix{}, false
	}
	return lifecycleFix{problem: "lifecycle policy lacks baseline rules", text: m.text, did: m.describe(false), would: m.describe(true)}, true
}

// observedLifecycleChange describes an event that weakened the lifecycle
// policy in a way the mode cares about, now compliant again ("" when it did
// not). CreateRepository is not one: pipelines that apply the baseline
// right after creating a repository would get a notice for every new
// repository.
func (r *Rules) observedLifecycleChange(e *Event, live Lifecycle) string {
	again := "; the baseline policy is in place again"
	switch {
	case r.LifecycleMode == LifecycleContains:
		again = "; the baseline rules are in place again"
	case r.LifecycleMode == LifecycleMissing && !r.Baseline.Equal(live.Text):
		// Any policy satisfies this mode: say which is there (someone
		// may have put their own right after the delete).
		again = "; a lifecycle policy (" + r.Baseline.State(live) + ") is in place again"
	}
	switch {
	case e == nil:
		return ""
	case e.Name == EventDeleteLifecyclePolicy:
		return "DeleteLifecyclePolicy removed the lifecycle policy" + again
	case e.Name == EventPutLifecyclePolicy && r.LifecycleMode == LifecycleEnforce && !r.Baseline.Equal(e.Request.LifecyclePolicy):
		return "PutLifecyclePolicy replaced the baseline lifecycle policy" + again
	case e.Name == EventPutLifecyclePolicy && r.LifecycleMode == LifecycleContains && !r.Baseline.ContainedIn(e.Request.LifecyclePolicy):
		return "PutLifecyclePolicy left out baseline rules" + again
	}
	return ""
}

// DescribeMutability renders a setting as MUTABILITY [filter, ...].
func DescribeMutability(mutability string, filters []string) string {
	if mutability == "" {
		mutability = "UNKNOWN"
	}
	if len(filters) == 0 || (mutability != ImmutableWithExclusion && mutability != MutableWithExclusion) {
		return mutability
	}
	return mutability + " [" + strings.Join(filters, ", ") + "]"
}

func expirySuffix(e Exemption) string {
	if e.Expires == "" {
		return ""
	}
	return " (expires " + e.Expires + ")"
}
