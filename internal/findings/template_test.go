package findings

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
)

func TestForTemplate(t *testing.T) {
	immutable := &guard.MutabilitySetting{Mutability: guard.Immutable}
	ev := &guard.Event{EventID: "ev-t", Name: guard.EventCreateRepositoryCreationTemplate, Time: now.Add(-time.Minute), Template: "prod",
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/mallory"}}
	deleted := &guard.Event{EventID: "ev-d", Name: guard.EventDeleteRepositoryCreationTemplate, Time: now.Add(-time.Minute), Template: "prod",
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/mallory"}}
	tmpl := func(prefix, m string, lc bool) *guard.Template {
		t := &guard.Template{Prefix: prefix, AppliedFor: []string{guard.AppliedForReplication}, Mutability: m}
		if lc {
			t.Lifecycle = guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
		}
		return t
	}
	type want struct {
		control string
		status  types.ComplianceStatus
		record  types.RecordState
		label   types.SeverityLabel
		kind    string
		other   map[string]string // Details.Other, exactly
		desc    []string
	}
	fixed := map[string]string{OtherPrefix: "prod", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Immutable, OtherLifecyclePolicy: guard.PolicyBaseline}
	left := map[string]string{OtherPrefix: "prod", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyAbsent}
	prefixOnly := func(p string) map[string]string { return map[string]string{OtherPrefix: p} }
	tests := []struct {
		name   string
		prefix string
		mode   guard.RootTemplateMode
		lcOff  bool
		o      reconcile.TemplateOutcome
		event  *guard.Event
		want   []want
	}{
		{
			name: "made MUTABLE, fixed", prefix: "prod", event: ev,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl("prod", guard.Mutable, false), Plan: guard.TemplatePlan{Plan: guard.Plan{
				SetMutability: immutable, PutLifecycle: true, LifecycleText: guard.DefaultLifecyclePolicy,
				Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "reverted the template to IMMUTABLE"},
					{Kind: guard.KindLifecycleRestored, Area: guard.AreaLifecycle, Summary: "applied the baseline"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
					kind: "REMEDIATED", other: fixed, desc: []string{"Repository creation template prod (appliedFor REPLICATION)", "user/mallory", "ev-t", "[REMEDIATED] reverted"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
					kind: "LIFECYCLE_RESTORED", other: fixed},
			},
		},
		{
			name: "dry run", prefix: "prod", event: ev,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl("prod", guard.Mutable, false), Plan: guard.TemplatePlan{Plan: guard.Plan{
				DryRun: true, SetMutability: immutable, PutLifecycle: true, LifecycleText: guard.DefaultLifecyclePolicy,
				Findings: []guard.Finding{{Kind: guard.KindWouldRemediate, Area: guard.AreaMutability, Summary: "would revert"},
					{Kind: guard.KindWouldRestoreLifecycle, Area: guard.AreaLifecycle, Summary: "would apply the baseline"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelHigh,
					kind: "WOULD_REMEDIATE", other: left, desc: []string{"Dry run: ecr-guard changed nothing"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelLow,
					kind: "WOULD_RESTORE_LIFECYCLE", other: left, desc: []string{"Dry run"}},
			},
		},
		{
			name: "refused write", prefix: "prod",
			o: reconcile.TemplateOutcome{Status: reconcile.Failed, Template: tmpl("prod", guard.Mutable, true), Plan: guard.TemplatePlan{Plan: guard.Plan{
				SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: "AccessDenied"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelCritical,
					kind: "FAILED", other: map[string]string{OtherPrefix: "prod", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline},
					desc: []string{"scheduled sweep", "[FAILED] AccessDenied"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
					kind: "COMPLIANT", desc: []string{"found the template compliant"},
					other: map[string]string{OtherPrefix: "prod", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
			},
		},
		{
			name: "unreadable: no lifecycle verdict, not archived", prefix: "prod",
			o: reconcile.TemplateOutcome{Status: reconcile.Failed, Plan: guard.TemplatePlan{Plan: guard.Plan{
				Findings: []guard.Finding{{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: "could not read the template"}}}}},
			want: []want{{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelCritical,
				kind: "FAILED", other: prefixOnly("prod")}},
		},
		{
			name: "exempt", prefix: "dev", event: ev,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl("dev", guard.Mutable, true), Plan: guard.TemplatePlan{Plan: guard.Plan{
				Exemption: guard.Exemption{Status: guard.ExemptionActive, Tag: "environment=dev", Expires: "2026-04-01"},
				Findings:  []guard.Finding{{Kind: guard.KindExempt, Area: guard.AreaMutability, Summary: "exempt"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusWarning, record: types.RecordStateActive, label: types.SeverityLabelMedium,
					kind: "EXEMPT", desc: []string{"Exempt by tag environment=dev (expires 2026-04-01)"},
					other: map[string]string{OtherPrefix: "dev", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "COMPLIANT",
					other: map[string]string{OtherPrefix: "dev", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
			},
		},
		{
			name: "deleted", prefix: "prod", event: deleted,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Plan: guard.TemplatePlan{Plan: guard.Plan{
				Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "template prod deleted by mallory"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational,
					kind: "DELETED", other: prefixOnly("prod"), desc: []string{"no longer exists", "[OBSERVED] template prod deleted by mallory"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational,
					kind: "DELETED", other: prefixOnly("prod")},
			},
		},
		{
			name: "gone meanwhile", prefix: "prod",
			o: reconcile.TemplateOutcome{Status: reconcile.Gone, Template: tmpl("prod", guard.Mutable, false), Err: guard.ErrTemplateNotFound},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational, kind: "DELETED", other: prefixOnly("prod")},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational, kind: "DELETED", other: prefixOnly("prod")},
			},
		},
		{
			name: "ROOT missing (report)", prefix: guard.RootPrefix, mode: guard.RootTemplateReport,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Plan: guard.TemplatePlan{Plan: guard.Plan{DryRun: true,
				Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "there is no ROOT template"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelMedium,
					kind: "OBSERVED", other: prefixOnly("ROOT"), desc: []string{"[OBSERVED] there is no ROOT template"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelMedium,
					kind: "OBSERVED", other: prefixOnly("ROOT")},
			},
		},
		{
			name: "ROOT non-compliant (report)", prefix: guard.RootPrefix, mode: guard.RootTemplateReport,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl(guard.RootPrefix, guard.Mutable, true), Plan: guard.TemplatePlan{Plan: guard.Plan{
				DryRun: true, SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindWouldRemediate, Area: guard.AreaMutability, Summary: "would revert"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelHigh,
					kind: "WOULD_REMEDIATE", desc: []string{"ROOT_TEMPLATE=report: ecr-guard changed nothing"},
					other: map[string]string{OtherPrefix: "ROOT", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "COMPLIANT",
					other: map[string]string{OtherPrefix: "ROOT", OtherAppliedFor: "REPLICATION", OtherImageTagMutability: guard.Mutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
			},
		},
		{
			name: "ROOT created (ensure)", prefix: guard.RootPrefix, mode: guard.RootTemplateEnsure,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Plan: guard.TemplatePlan{Create: true, Plan: guard.Plan{
				SetMutability: immutable, PutLifecycle: true, LifecycleText: guard.DefaultLifecyclePolicy,
				Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "created the ROOT template"}}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "REMEDIATED",
					other: map[string]string{OtherPrefix: "ROOT", OtherAppliedFor: "REPLICATION,PULL_THROUGH_CACHE", OtherImageTagMutability: guard.Immutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "COMPLIANT",
					other: map[string]string{OtherPrefix: "ROOT", OtherAppliedFor: "REPLICATION,PULL_THROUGH_CACHE", OtherImageTagMutability: guard.Immutable, OtherLifecyclePolicy: guard.PolicyBaseline}},
			},
		},
		{
			name: "ROOT appliedFor added (ensure)", prefix: guard.RootPrefix, mode: guard.RootTemplateEnsure, lcOff: true,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl(guard.RootPrefix, guard.Immutable, true), Plan: guard.TemplatePlan{
				AddAppliedFor: []string{guard.AppliedForPullThroughCache},
				Plan:          guard.Plan{Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "added appliedFor PULL_THROUGH_CACHE"}}}}},
			want: []want{{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "REMEDIATED",
				other: map[string]string{OtherPrefix: "ROOT", OtherAppliedFor: "REPLICATION,PULL_THROUGH_CACHE", OtherImageTagMutability: guard.Immutable, OtherLifecyclePolicy: guard.PolicyBaseline}}},
		},
		{name: "ROOT ignored (off)", prefix: guard.RootPrefix, mode: guard.RootTemplateOff,
			o: reconcile.TemplateOutcome{Status: reconcile.Done, Template: tmpl(guard.RootPrefix, guard.Mutable, false), Plan: guard.TemplatePlan{Ignored: true}}},
		{name: "retry", prefix: "prod", o: reconcile.TemplateOutcome{Status: reconcile.Retry}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rules(t)
			r.RootTemplateMode = tc.mode
			r.RootTemplateAppliedFor = []string{guard.AppliedForReplication, guard.AppliedForPullThroughCache}
			if tc.lcOff {
				r.LifecycleMode = guard.LifecycleOff
			}
			k := reconcile.TemplateKey{Partition: "aws", Registry: "123456789012", Region: "eu-west-1", Prefix: tc.prefix}
			got := ForTemplate(TemplateInput{Key: k, Outcome: tc.o, Event: tc.event, Rules: r, Now: now})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d", len(got), len(tc.want))
			}
			resourceID := "arn:aws:ecr:eu-west-1:123456789012:repository-creation-template/" + tc.prefix
			for i, w := range tc.want {
				f := got[i]
				checkTemplate(t, f, tc.prefix)
				eq(t, "Id", aws.ToString(f.Id), "ecr-guard/"+w.control+"/"+resourceID)
				eq(t, "GeneratorId", aws.ToString(f.GeneratorId), "ecr-guard/"+w.control)
				eq(t, "Resource.Id", aws.ToString(f.Resources[0].Id), resourceID)
				eq(t, "Compliance", string(f.Compliance.Status), string(w.status))
				eq(t, "RecordState", string(f.RecordState), string(w.record))
				eq(t, "Severity", string(f.Severity.Label), string(w.label))
				eq(t, "FindingProviderFields.Severity", string(f.FindingProviderFields.Severity.Label), string(w.label))
				eq(t, "kind", f.ProductFields[FieldKind], w.kind)
				wantEvent := ""
				if tc.event != nil {
					wantEvent = tc.event.EventID
				}
				eq(t, "eventId", f.ProductFields[FieldEventID], wantEvent)
				other := f.Resources[0].Details.Other
				if len(other) != len(w.other) {
					t.Errorf("Details.Other %v, want %v", other, w.other)
				}
				for key, v := range w.other {
					eq(t, "Details.Other "+key, other[key], v)
				}
				for _, s := range w.desc {
					if !strings.Contains(aws.ToString(f.Description), s) {
						t.Errorf("description %q lacks %q", aws.ToString(f.Description), s)
					}
				}
			}
		})
	}
}

// checkTemplate asserts what every template finding carries and what it
// must never carry.
func checkTemplate(t *testing.T, f types.AwsSecurityFinding, prefix string) {
	t.Helper()
	eq(t, "SchemaVersion", aws.ToString(f.SchemaVersion), "2018-10-08")
	eq(t, "ProductArn", aws.ToString(f.ProductArn), "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default")
	eq(t, "AwsAccountId", aws.ToString(f.AwsAccountId), "123456789012")
	eq(t, "Types", strings.Join(f.Types, ","), Type)
	eq(t, "CreatedAt", aws.ToString(f.CreatedAt), "2026-03-01T12:00:00Z")
	eq(t, "Resource.Type", aws.ToString(f.Resources[0].Type), "Other")
	eq(t, "Resource.Partition", string(f.Resources[0].Partition), "aws")
	eq(t, "Resource.Region", aws.ToString(f.Resources[0].Region), "eu-west-1")
	if len(f.Resources) != 1 || f.Resources[0].Details.AwsEcrRepository != nil {
		t.Errorf("resources %+v", f.Resources)
	}
	if !strings.HasSuffix(aws.ToString(f.Title), ": "+prefix) {
		t.Errorf("title %q does not name %s", aws.ToString(f.Title), prefix)
	}
	if f.RecordState == types.RecordStateActive {
		eq(t, "Recommendation.Url", aws.ToString(f.Remediation.Recommendation.Url),
			"https://eu-west-1.console.aws.amazon.com/ecr/private-registry/repository-creation-templates?region=eu-west-1")
	}
	if f.Workflow != nil || f.Note != nil || f.VerificationState != "" || f.UserDefinedFields != nil {
		t.Error("Workflow, Note, VerificationState and UserDefinedFields are the customer's")
	}
	for k, v := range f.Resources[0].Details.Other {
		if len(k) >= 128 || len(v) >= 1024 {
			t.Errorf("Details.Other %s over the ASFF limit", k)
		}
	}
}

// Exclusion filters longer than a Details.Other value may be are cut.
func TestTemplateDetailsAreCapped(t *testing.T) {
	long := make([]string, 200)
	for i := range long {
		long[i] = "release-candidate-*"
	}
	o := reconcile.TemplateOutcome{Status: reconcile.Done, Template: &guard.Template{Prefix: "prod", Mutability: guard.ImmutableWithExclusion, ExclusionFilters: long}}
	f := ForTemplate(TemplateInput{Key: reconcile.TemplateKey{Partition: "aws", Registry: "123456789012", Region: "eu-west-1", Prefix: "prod"}, Outcome: o, Rules: rules(t), Now: now})[0]
	if v := f.Resources[0].Details.Other[OtherExclusionFilters]; len(v) > maxOtherValue || !strings.HasSuffix(v, "…") {
		t.Errorf("filters not capped: %d bytes", len(v))
	}
}
