package findings

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// TemplateInput is one repository creation template's reconcile outcome
// and what it was about.
type TemplateInput struct {
	Key     reconcile.TemplateKey
	Outcome reconcile.TemplateOutcome
	// Event is the CloudTrail call that triggered it (nil for the sweep).
	Event *guard.Event
	Rules guard.Rules
	Now   time.Time
}

// TemplateResourceID identifies a repository creation template in its
// findings (Resources[0].Id, and in the finding Id). A template has no ARN:
// ECR's API names it by prefix and IAM has no resource type for it (ECR
// authorizes the template actions on "*"), so this is ecr-guard's own
// identifier in the shape of an ECR ARN,
// arn:<partition>:ecr:<region>:<account>:repository-creation-template/<prefix>.
func TemplateResourceID(k reconcile.TemplateKey) string {
	return "arn:" + k.Partition + ":ecr:" + k.Region + ":" + k.Registry + ":repository-creation-template/" + k.Prefix
}

// TemplateResourceType is a template's Resources[0].Type: ASFF has no type
// for repository creation templates (its ECR types are AwsEcrContainerImage
// and AwsEcrRepository), and for a resource of none of its types the ASFF
// says to use Other, with the details in Details.Other
// (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resourcedetails-other.html).
const TemplateResourceType = "Other"

// Details.Other keys of a template's resource: the template as ecr-guard
// left it (after its writes; before them in a dry run or when they failed).
const (
	OtherPrefix             = "prefix"
	OtherAppliedFor         = "appliedFor"         // comma-separated
	OtherImageTagMutability = "imageTagMutability" // as ECR spells it
	OtherExclusionFilters   = "imageTagMutabilityExclusionFilters"
	OtherLifecyclePolicy    = "lifecyclePolicy" // guard.LifecyclePolicy.State's word
)

// maxOtherValue: a Details.Other value must have fewer than 1,024 characters.
const maxOtherValue = 1023

// templateChecks: a template's mutability and lifecycle policy are read
// together, so both rules always apply.
var templateChecks = guard.Checks{Mutability: true, Lifecycle: true}

// ForTemplate maps a template's outcome to its findings, with the same
// controls and states as a repository's: none for a retry or for the ROOT
// template under ROOT_TEMPLATE=off; ARCHIVED findings for both controls of
// a template that no longer exists, but for ROOT, whose absence leaves
// every repository ECR creates with MUTABLE tags (FAILED until
// ROOT_TEMPLATE=ensure creates it); otherwise tag-immutability, and
// lifecycle-policy unless LIFECYCLE_MODE=off or the template could not be
// read.
func ForTemplate(in TemplateInput) []types.AwsSecurityFinding {
	o := in.Outcome
	if o.Status == reconcile.Retry || o.Status == "" || o.Plan.Ignored {
		return nil
	}
	after := templateAfter(in)
	if o.Status == reconcile.Gone || (o.Status == reconcile.Done && after == nil && in.Key.Prefix != guard.RootPrefix) {
		return []types.AwsSecurityFinding{archivedTemplate(in, ControlTagImmutability), archivedTemplate(in, ControlLifecyclePolicy)}
	}
	out := []types.AwsSecurityFinding{templateMutability(in, after)}
	known := o.Template != nil || o.Status == reconcile.Done // read, or known to be missing
	if in.Rules.NeedsLifecycle(templateChecks) && known {
		out = append(out, templateLifecycle(in, after))
	}
	return out
}

// templateAfter is the template once the plan's one write is made: as read
// in a dry run or when the write failed; the ROOT template ecr-guard
// created; nil when there is none.
func templateAfter(in TemplateInput) *guard.Template {
	o := in.Outcome
	p := o.Plan
	written := !p.DryRun && !p.Failed(guard.AreaMutability) && !p.Failed(guard.AreaAccess)
	if o.Template == nil {
		if p.Create && written {
			t := in.Rules.RootTemplate()
			return &t
		}
		return nil
	}
	t := *o.Template
	r := p.After(guard.Repository{Mutability: t.Mutability, ExclusionFilters: t.ExclusionFilters, Lifecycle: t.Lifecycle})
	t.Mutability, t.ExclusionFilters, t.Lifecycle = r.Mutability, r.ExclusionFilters, r.Lifecycle
	if written && len(p.AddAppliedFor) > 0 {
		t.AppliedFor = append(slices.Clone(t.AppliedFor), p.AddAppliedFor...)
	}
	return &t
}

func templateMutability(in TemplateInput, after *guard.Template) types.AwsSecurityFinding {
	p := in.Outcome.Plan
	s := collect(p.Plan, ControlTagImmutability)
	switch {
	case p.Failed(guard.AreaMutability), p.Failed(guard.AreaAccess):
		s.status = types.ComplianceStatusFailed
	case has(s.findings, guard.KindWouldRemediate):
		s.status = types.ComplianceStatusFailed
		s.extra = append(s.extra, unchanged(in)+" and the template still gives the repositories ECR creates under it tags that are not immutable.")
	case after == nil: // the ROOT template is missing
		s.status = types.ComplianceStatusFailed
		s.orPlan(p.Plan)
	case p.Exemption.Active() && p.SetMutability == nil && !in.Rules.MutabilityCompliant(after.Mutability, after.ExclusionFilters):
		s.status = types.ComplianceStatusWarning
		s.extra = append(s.extra, exempt(p.Exemption, "the repositories ECR creates under the template get mutable tags"))
	default:
		s.status = types.ComplianceStatusPassed
	}
	rec := "Keep the template's image tag mutability IMMUTABLE (or IMMUTABLE_WITH_EXCLUSION with allowed filters only): every repository ECR creates under its prefix gets it at birth. ecr-guard fixes the template unless its resource tags carry an active exemption."
	if in.Key.Prefix == guard.RootPrefix {
		rec += " Without a ROOT template ECR creates repositories MUTABLE; ROOT_TEMPLATE=ensure makes ecr-guard create it."
	}
	return buildTemplate(in, ControlTagImmutability, s, after, "ECR repository creation template must give immutable tags", rec)
}

func templateLifecycle(in TemplateInput, after *guard.Template) types.AwsSecurityFinding {
	p := in.Outcome.Plan
	s := collect(p.Plan, ControlLifecyclePolicy)
	switch {
	case p.Failed(guard.AreaLifecycle):
		s.status = types.ComplianceStatusFailed
	case has(s.findings, guard.KindWouldRestoreLifecycle):
		s.status = types.ComplianceStatusFailed
		s.extra = append(s.extra, unchanged(in)+" and the template still lacks the baseline lifecycle policy.")
	case after == nil: // the ROOT template is missing: no lifecycle policy either
		s.status = types.ComplianceStatusFailed
		s.orPlan(p.Plan)
	default:
		s.status = types.ComplianceStatusPassed
	}
	return buildTemplate(in, ControlLifecyclePolicy, s, after, "ECR repository creation template must give the baseline lifecycle policy",
		"Keep the baseline lifecycle policy in the template (LIFECYCLE_MODE "+string(in.Rules.LifecycleMode)+"): every repository ECR creates under its prefix gets it; ecr-guard restores it.")
}

// orPlan: a control whose own areas found nothing takes the plan's most
// severe finding (a missing ROOT template is reported once, in the
// template area or as the would-be creation).
func (s *state) orPlan(p guard.Plan) {
	if s.kind == "" {
		s.kind, s.severity = string(p.Kind()), p.Severity()
	}
}

// unchanged says why a non-compliant template was left as it is.
func unchanged(in TemplateInput) string {
	if in.Key.Prefix == guard.RootPrefix && in.Rules.RootTemplateMode == guard.RootTemplateReport {
		return "ROOT_TEMPLATE=report: ecr-guard changed nothing"
	}
	return "Dry run: ecr-guard changed nothing"
}

func (in TemplateInput) common() common {
	k := in.Key
	return common{partition: k.Partition, account: k.Registry, region: k.Region, resourceID: TemplateResourceID(k), event: in.Event, now: in.Now}
}

func buildTemplate(in TemplateInput, control string, s state, after *guard.Template, title, recommendation string) types.AwsSecurityFinding {
	k := in.Key
	subject := "Repository creation template " + k.Prefix
	if t := in.Outcome.Template; t != nil && len(t.AppliedFor) > 0 {
		subject += " (appliedFor " + strings.Join(t.AppliedFor, ", ") + ")"
	}
	subject += fmt.Sprintf(" in account %s, %s. ", k.Registry, k.Region)
	return in.common().verdict(control, s, title+": "+k.Prefix, describe(subject, "template", in.Event, false, s, in.Now),
		recommendation, notice.TemplatesConsoleURL(k.Region), templateResource(in, after))
}

func archivedTemplate(in TemplateInput, control string) types.AwsSecurityFinding {
	k := in.Key
	var b strings.Builder
	fmt.Fprintf(&b, "ecr-guard found that repository creation template %s in account %s, %s no longer exists at %s: the finding is archived.",
		k.Prefix, k.Registry, k.Region, in.Now.UTC().Format(time.RFC3339))
	for _, f := range in.Outcome.Plan.Findings {
		fmt.Fprintf(&b, " [%s] %s.", f.Kind, f.Summary)
	}
	return in.common().archived(control, "ECR repository creation template no longer exists: "+k.Prefix, b.String(), templateResource(in, nil))
}

// templateResource is the template as Resource Other: its identifier, and
// its settings in Details.Other when it exists.
func templateResource(in TemplateInput, after *guard.Template) types.Resource {
	k := in.Key
	other := map[string]string{OtherPrefix: k.Prefix}
	if after != nil {
		if len(after.AppliedFor) > 0 {
			other[OtherAppliedFor] = strings.Join(after.AppliedFor, ",")
		}
		if after.Mutability != "" {
			other[OtherImageTagMutability] = after.Mutability
		}
		if len(after.ExclusionFilters) > 0 {
			other[OtherExclusionFilters] = capText(strings.Join(after.ExclusionFilters, ","), maxOtherValue)
		}
		other[OtherLifecyclePolicy] = in.Rules.Baseline.State(after.Lifecycle)
	}
	return types.Resource{
		Type:      aws.String(TemplateResourceType),
		Id:        aws.String(TemplateResourceID(k)),
		Partition: types.Partition(k.Partition),
		Region:    aws.String(k.Region),
		Details:   &types.ResourceDetails{Other: other},
	}
}
