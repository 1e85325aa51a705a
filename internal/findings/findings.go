// Package findings maps one reconcile outcome to AWS Security Finding Format
// (ASFF) findings for Security Hub's default product in the resource's own
// account: one finding per repository, or repository creation template, and
// control (tag-immutability, lifecycle-policy), with a stable Id so every
// import upserts it.
//
// Following the BatchImportFindings documentation, a provider never sets
// the fields the customer manages (Workflow, Note, VerificationState,
// UserDefinedFields: BatchImportFindings cannot change them once the
// finding exists), and gives Severity and Types in FindingProviderFields
// too, the object Security Hub reads a provider's updates of them from.
package findings

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

// Controls.
const (
	ControlTagImmutability = "tag-immutability"
	ControlLifecyclePolicy = "lifecycle-policy"
)

// SchemaVersion is the ASFF schema version.
const SchemaVersion = "2018-10-08"

// Type is the one finding type ecr-guard reports.
const Type = "Software and Configuration Checks/AWS Security Best Practices"

// ProductFields keys.
const (
	FieldKind    = "ecr-guard/kind"
	FieldEventID = "ecr-guard/eventId"
)

// ASFF string limits.
const (
	maxTitle       = 256
	maxDescription = 1024
	maxText        = 512
)

// Input is one reconcile's outcome and what it was about.
type Input struct {
	Key     reconcile.Key
	Outcome reconcile.Outcome
	// Event is the CloudTrail call that triggered it (nil for the sweep).
	Event *guard.Event
	Rules guard.Rules
	Now   time.Time
}

// ProductARN is the default product of account in region.
func ProductARN(partition, region, account string) string {
	return "arn:" + partition + ":securityhub:" + region + ":" + account + ":product/" + account + "/default"
}

// ID is the stable finding Id of a control for a resource: a repository's
// ARN, or a template's TemplateResourceID.
func ID(control, resourceID string) string { return "ecr-guard/" + control + "/" + resourceID }

// For maps an outcome to its findings: none for a retry (nothing is known
// yet) or for a stale event about an earlier repository of the same name
// whose live successor needed nothing; ARCHIVED findings for both controls
// of a repository that no longer exists; otherwise tag-immutability, and
// lifecycle-policy when the lifecycle policy was read.
func For(in Input) []types.AwsSecurityFinding {
	o := in.Outcome
	switch {
	case o.Status == reconcile.Retry, o.Status == "":
		return nil
	case o.Status == reconcile.Gone && o.Plan.Stale:
		return nil
	case o.Status == reconcile.Gone:
		return []types.AwsSecurityFinding{archived(in, ControlTagImmutability), archived(in, ControlLifecyclePolicy)}
	}
	out := []types.AwsSecurityFinding{mutability(in)}
	// A lifecycle read that failed is a FAILED finding too, though the
	// outcome did not read the policy.
	if (in.Rules.NeedsLifecycle(o.Read) || o.Plan.Failed(guard.AreaLifecycle)) && !o.Plan.Failed(guard.AreaAccess) {
		out = append(out, lifecycle(in))
	}
	return out
}

// state is one control's verdict.
type state struct {
	status   types.ComplianceStatus
	kind     string
	severity guard.Severity
	findings []guard.Finding
	extra    []string // sentences for the description
}

func areasOf(control string) []guard.Area {
	if control == ControlLifecyclePolicy {
		return []guard.Area{guard.AreaLifecycle, guard.AreaAccess}
	}
	// AreaTemplate: a template's deletion, or a missing ROOT template.
	return []guard.Area{guard.AreaMutability, guard.AreaExemption, guard.AreaOwnRole, guard.AreaAccess, guard.AreaTemplate}
}

func collect(p guard.Plan, control string) state {
	var s state
	areas := areasOf(control)
	for _, f := range p.Findings {
		for _, a := range areas {
			if f.Area == a {
				s.findings = append(s.findings, f)
				if f.Severity() > s.severity {
					s.severity, s.kind = f.Severity(), string(f.Kind)
				}
			}
		}
	}
	return s
}

func has(fs []guard.Finding, k guard.Kind) bool {
	for _, f := range fs {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func mutability(in Input) types.AwsSecurityFinding {
	o := in.Outcome
	p := o.Plan
	s := collect(p, ControlTagImmutability)
	after := p.After(o.Repo)
	switch {
	case p.Failed(guard.AreaMutability), p.Failed(guard.AreaAccess):
		s.status = types.ComplianceStatusFailed
	case has(s.findings, guard.KindWouldRemediate):
		s.status = types.ComplianceStatusFailed
		s.extra = append(s.extra, "Dry run: ecr-guard changed nothing and the repository's tags are still mutable.")
	case p.Exemption.Active() && p.SetMutability == nil && !in.Rules.MutabilityCompliant(after.Mutability, after.ExclusionFilters):
		s.status = types.ComplianceStatusWarning
		s.extra = append(s.extra, exempt(p.Exemption, "tags stay mutable"))
	default:
		s.status = types.ComplianceStatusPassed
	}
	return build(in, ControlTagImmutability, s, after, "ECR repository tags must be immutable",
		"Keep image tags IMMUTABLE: set the repository's image tag mutability to IMMUTABLE (ecr-guard reverts other settings unless the repository carries an active exemption tag).")
}

// exempt says which exemption leaves what as it is, until when.
func exempt(x guard.Exemption, what string) string {
	exp := "no expiry"
	if x.Expires != "" {
		exp = "expires " + x.Expires
	}
	return fmt.Sprintf("Exempt by tag %s (%s): %s until the exemption ends.", x.Tag, exp, what)
}

func lifecycle(in Input) types.AwsSecurityFinding {
	o := in.Outcome
	p := o.Plan
	s := collect(p, ControlLifecyclePolicy)
	after := p.After(o.Repo)
	switch {
	case p.Failed(guard.AreaLifecycle):
		s.status = types.ComplianceStatusFailed
	case has(s.findings, guard.KindWouldRestoreLifecycle):
		s.status = types.ComplianceStatusFailed
		s.extra = append(s.extra, "Dry run: ecr-guard changed nothing and the baseline lifecycle policy is not in place.")
	default:
		s.status = types.ComplianceStatusPassed
	}
	return build(in, ControlLifecyclePolicy, s, after, "ECR repository must have the baseline lifecycle policy",
		"Keep the baseline lifecycle policy on the repository (LIFECYCLE_MODE "+string(in.Rules.LifecycleMode)+"); ecr-guard restores it.")
}

// common is what the findings of one outcome share: where the resource
// lives, its identifier, the triggering event and the decision's time.
type common struct {
	partition, account, region string
	resourceID                 string
	event                      *guard.Event
	now                        time.Time
}

func (c common) base(control string) types.AwsSecurityFinding {
	now := c.now.UTC().Format(time.RFC3339Nano)
	return types.AwsSecurityFinding{
		SchemaVersion: aws.String(SchemaVersion),
		Id:            aws.String(ID(control, c.resourceID)),
		ProductArn:    aws.String(ProductARN(c.partition, c.region, c.account)),
		GeneratorId:   aws.String("ecr-guard/" + control),
		AwsAccountId:  aws.String(c.account),
		Region:        aws.String(c.region),
		Types:         []string{Type},
		// Required on every import. ecr-guard keeps no state: the
		// publisher replaces now with the CreatedAt Security Hub already
		// holds for the Id, when it can read it.
		CreatedAt:   aws.String(now),
		UpdatedAt:   aws.String(now),
		RecordState: types.RecordStateActive,
		ProductFields: map[string]string{
			"ProviderName": "ecr-guard",
		},
	}
}

// verdict is an active finding of a control in state s.
func (c common) verdict(control string, s state, title, description, recommendation, url string, r types.Resource) types.AwsSecurityFinding {
	f := c.base(control)
	label := label(s)
	f.Severity = &types.Severity{Label: label}
	f.FindingProviderFields = &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{Label: label}, Types: []string{Type}}
	f.Title = aws.String(capText(title, maxTitle))
	f.Description = aws.String(capText(description, maxDescription))
	f.Compliance = &types.Compliance{Status: s.status}
	f.Resources = []types.Resource{r}
	rec := &types.Recommendation{Text: aws.String(capText(recommendation, maxText))}
	if url != "" {
		rec.Url = aws.String(url)
	}
	f.Remediation = &types.Remediation{Recommendation: rec}
	f.ProductFields[FieldKind] = kindOf(s)
	c.addEventID(&f)
	return f
}

// archived is the finding of a control about a resource that no longer
// exists.
func (c common) archived(control, title, description string, r types.Resource) types.AwsSecurityFinding {
	f := c.base(control)
	f.RecordState = types.RecordStateArchived
	f.Severity = &types.Severity{Label: types.SeverityLabelInformational}
	f.FindingProviderFields = &types.FindingProviderFields{Severity: &types.FindingProviderSeverity{Label: types.SeverityLabelInformational}, Types: []string{Type}}
	f.Title = aws.String(capText(title, maxTitle))
	f.Description = aws.String(capText(description, maxDescription))
	f.Compliance = &types.Compliance{Status: types.ComplianceStatusNotAvailable}
	f.Resources = []types.Resource{r}
	f.ProductFields[FieldKind] = "DELETED"
	c.addEventID(&f)
	return f
}

func (c common) addEventID(f *types.AwsSecurityFinding) {
	if c.event != nil && c.event.EventID != "" {
		f.ProductFields[FieldEventID] = c.event.EventID
	}
}

func (in Input) common() common {
	k := in.Key
	return common{partition: k.Partition, account: k.Registry, region: k.Region, resourceID: k.ARN(), event: in.Event, now: in.Now}
}

func resource(in Input, after guard.Repository, lifecycleRead bool) types.Resource {
	k := in.Key
	d := &types.AwsEcrRepositoryDetails{Arn: aws.String(k.ARN()), RepositoryName: aws.String(k.Name)}
	if after.Mutability != "" {
		d.ImageTagMutability = aws.String(after.Mutability)
	}
	if lifecycleRead && after.Lifecycle.Exists {
		d.LifecyclePolicy = &types.AwsEcrRepositoryLifecyclePolicyDetails{LifecyclePolicyText: aws.String(after.Lifecycle.Text)}
	}
	return types.Resource{
		Type:      aws.String("AwsEcrRepository"),
		Id:        aws.String(k.ARN()),
		Partition: types.Partition(k.Partition),
		Region:    aws.String(k.Region),
		Details:   &types.ResourceDetails{AwsEcrRepository: d},
	}
}

func build(in Input, control string, s state, after guard.Repository, title, recommendation string) types.AwsSecurityFinding {
	k := in.Key
	subject := fmt.Sprintf("Repository %s in account %s, %s. ", k.Name, k.Registry, k.Region)
	return in.common().verdict(control, s, title+": "+k.Name, describe(subject, "repository", in.Event, in.Outcome.Plan.Stale, s, in.Now),
		recommendation, notice.ConsoleURL(k.Region, k.Registry, k.Name), resource(in, after, in.Rules.NeedsLifecycle(in.Outcome.Read)))
}

func archived(in Input, control string) types.AwsSecurityFinding {
	k := in.Key
	return in.common().archived(control, "ECR repository no longer exists: "+k.Name,
		"ecr-guard found that repository "+k.Name+" in account "+k.Registry+", "+k.Region+
			" no longer exists at "+in.Now.UTC().Format(time.RFC3339)+": the finding is archived.",
		resource(in, guard.Repository{}, false))
}

// label: a control left compliant is INFORMATIONAL; otherwise the most
// severe finding's severity (a non-compliant state always has one).
func label(s state) types.SeverityLabel {
	if s.status == types.ComplianceStatusPassed {
		return types.SeverityLabelInformational
	}
	switch s.severity {
	case guard.SeverityCritical:
		return types.SeverityLabelCritical
	case guard.SeverityHigh:
		return types.SeverityLabelHigh
	case guard.SeverityMedium:
		return types.SeverityLabelMedium
	case guard.SeverityLow:
		return types.SeverityLabelLow
	}
	return types.SeverityLabelMedium
}

func kindOf(s state) string {
	if s.kind != "" {
		return s.kind
	}
	return "COMPLIANT"
}

// describe says what the finding is about (subject, a sentence), what
// triggered the check, and what ecr-guard found and did.
func describe(subject, noun string, e *guard.Event, stale bool, s state, now time.Time) string {
	var b strings.Builder
	b.WriteString(subject)
	switch {
	case e != nil && stale:
		fmt.Fprintf(&b, "CloudTrail event %s (%s at %s) predates this repository: it was about a deleted repository of the same name. ", e.EventID, e.Name, e.Time.UTC().Format(time.RFC3339))
	case e != nil:
		fmt.Fprintf(&b, "%s by %s at %s (CloudTrail event %s). ", e.Name, e.Principal.Who(), e.Time.UTC().Format(time.RFC3339), e.EventID)
	default:
		b.WriteString("Found by the scheduled sweep. ")
	}
	for _, x := range s.extra {
		b.WriteString(x + " ")
	}
	if len(s.findings) == 0 {
		b.WriteString("ecr-guard found the " + noun + " compliant")
	} else {
		b.WriteString("ecr-guard:")
		for i, f := range s.findings {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " [%s] %s", f.Kind, f.Summary)
		}
	}
	fmt.Fprintf(&b, " (checked %s).", now.UTC().Format(time.RFC3339))
	return b.String()
}

// capText cuts s to n bytes at a rune boundary, marking the cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
