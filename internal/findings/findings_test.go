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

var (
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key = reconcile.Key{Partition: "aws", Registry: "123456789012", Region: "eu-west-1", Name: "team/app"}
)

func rules(t *testing.T) guard.Rules {
	t.Helper()
	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	return guard.Rules{ExemptTags: []guard.TagMatcher{{Key: "environment", Value: "dev"}}, Baseline: baseline, LifecycleMode: guard.LifecycleEnforce}
}

func TestFor(t *testing.T) {
	immutable := &guard.MutabilitySetting{Mutability: guard.Immutable}
	ev := &guard.Event{EventID: "ev-1", Name: guard.EventPutImageTagMutability, Time: now.Add(-time.Minute),
		Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/mallory"}}
	repo := func(m string, lc bool) guard.Repository {
		r := guard.Repository{Name: key.Name, ARN: key.ARN(), RegistryID: key.Registry, Mutability: m}
		if lc {
			r.Lifecycle = guard.Lifecycle{Exists: true, Text: guard.DefaultLifecyclePolicy}
		}
		return r
	}
	type want struct {
		control    string
		status     types.ComplianceStatus
		record     types.RecordState
		label      types.SeverityLabel
		kind       string
		mutability string
		lifecycle  bool
		desc       []string
	}
	tests := []struct {
		name  string
		o     reconcile.Outcome
		event *guard.Event
		want  []want
	}{
		{
			name:  "reverted",
			event: ev,
			o: reconcile.Outcome{Status: reconcile.Done, Repo: repo(guard.Mutable, false), Read: guard.Checks{Mutability: true},
				Plan: guard.Plan{SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "reverted to IMMUTABLE"}}}},
			want: []want{{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
				kind: "REMEDIATED", mutability: guard.Immutable, desc: []string{"user/mallory", "ev-1", "[REMEDIATED] reverted to IMMUTABLE"}}},
		},
		{
			name:  "dry run",
			event: ev,
			o: reconcile.Outcome{Status: reconcile.Done, Repo: repo(guard.Mutable, false), Read: guard.Checks{Mutability: true},
				Plan: guard.Plan{DryRun: true, SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindWouldRemediate, Area: guard.AreaMutability, Summary: "would revert"}}}},
			want: []want{{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelHigh,
				kind: "WOULD_REMEDIATE", mutability: guard.Mutable, desc: []string{"Dry run"}}},
		},
		{
			name: "failed write",
			o: reconcile.Outcome{Status: reconcile.Failed, Repo: repo(guard.Mutable, true), Read: guard.Checks{Mutability: true, Lifecycle: true},
				Plan: guard.Plan{SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: "AccessDenied"}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelCritical,
					kind: "FAILED", mutability: guard.Mutable, lifecycle: true, desc: []string{"scheduled sweep", "[FAILED] AccessDenied"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
					kind: "COMPLIANT", mutability: guard.Mutable, lifecycle: true, desc: []string{"compliant"}},
			},
		},
		{
			name:  "exemption",
			event: ev,
			o: reconcile.Outcome{Status: reconcile.Done, Repo: repo(guard.Mutable, false), Read: guard.Checks{Mutability: true},
				Plan: guard.Plan{Exemption: guard.Exemption{Status: guard.ExemptionActive, Tag: "environment=dev", Expires: "2026-04-01"},
					Findings: []guard.Finding{{Kind: guard.KindExempt, Area: guard.AreaMutability, Summary: "exempt"}}}},
			want: []want{{control: ControlTagImmutability, status: types.ComplianceStatusWarning, record: types.RecordStateActive, label: types.SeverityLabelMedium,
				kind: "EXEMPT", mutability: guard.Mutable, desc: []string{"environment=dev", "2026-04-01"}}},
		},
		{
			// The lifecycle read refused (a repository policy denies it):
			// the revert went through, the lifecycle control is FAILED
			// though the policy was not read.
			name:  "lifecycle read refused, revert done",
			event: ev,
			o: reconcile.Outcome{Status: reconcile.Failed, Repo: repo(guard.Mutable, false), Read: guard.Checks{Mutability: true},
				Plan: guard.Plan{SetMutability: immutable, Findings: []guard.Finding{{Kind: guard.KindRemediated, Area: guard.AreaMutability, Summary: "reverted to IMMUTABLE"},
					{Kind: guard.KindFailed, Area: guard.AreaLifecycle, Summary: "could not read the lifecycle policy: AccessDenied"}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational,
					kind: "REMEDIATED", mutability: guard.Immutable},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelCritical,
					kind: "FAILED", mutability: guard.Immutable, desc: []string{"could not read the lifecycle policy"}},
			},
		},
		{
			name: "lifecycle restored",
			o: reconcile.Outcome{Status: reconcile.Done, Repo: repo(guard.Immutable, false), Read: guard.Checks{Mutability: true, Lifecycle: true},
				Plan: guard.Plan{PutLifecycle: true, Findings: []guard.Finding{{Kind: guard.KindLifecycleRestored, Area: guard.AreaLifecycle, Summary: "restored"}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "COMPLIANT", mutability: guard.Immutable, lifecycle: true},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "LIFECYCLE_RESTORED", mutability: guard.Immutable, lifecycle: true},
			},
		},
		{
			name: "lifecycle dry run",
			o: reconcile.Outcome{Status: reconcile.Done, Repo: repo(guard.Immutable, false), Read: guard.Checks{Mutability: true, Lifecycle: true},
				Plan: guard.Plan{DryRun: true, PutLifecycle: true, Findings: []guard.Finding{{Kind: guard.KindWouldRestoreLifecycle, Area: guard.AreaLifecycle, Summary: "would restore"}}}},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusPassed, record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "COMPLIANT", mutability: guard.Immutable},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusFailed, record: types.RecordStateActive, label: types.SeverityLabelLow, kind: "WOULD_RESTORE_LIFECYCLE", mutability: guard.Immutable},
			},
		},
		{
			name:  "deleted",
			event: ev,
			o:     reconcile.Outcome{Status: reconcile.Gone, Repo: guard.Repository{Name: key.Name, RegistryID: key.Registry}, Err: guard.ErrRepositoryNotFound},
			want: []want{
				{control: ControlTagImmutability, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational, kind: "DELETED", desc: []string{"no longer exists"}},
				{control: ControlLifecyclePolicy, status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived, label: types.SeverityLabelInformational, kind: "DELETED"},
			},
		},
		{name: "retry", o: reconcile.Outcome{Status: reconcile.Retry}},
		{name: "stale and compliant", event: ev, o: reconcile.Outcome{Status: reconcile.Gone, Plan: guard.Plan{Stale: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := For(Input{Key: key, Outcome: tc.o, Event: tc.event, Rules: rules(t), Now: now})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				f := got[i]
				check(t, f)
				arn := "arn:aws:ecr:eu-west-1:123456789012:repository/team/app"
				eq(t, "Id", aws.ToString(f.Id), "ecr-guard/"+w.control+"/"+arn)
				eq(t, "GeneratorId", aws.ToString(f.GeneratorId), "ecr-guard/"+w.control)
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
				d := f.Resources[0].Details.AwsEcrRepository
				eq(t, "Resource.Id", aws.ToString(f.Resources[0].Id), arn)
				eq(t, "ImageTagMutability", aws.ToString(d.ImageTagMutability), w.mutability)
				eq(t, "LifecyclePolicy read", d.LifecyclePolicy != nil, w.lifecycle)
				for _, s := range w.desc {
					if !strings.Contains(aws.ToString(f.Description), s) {
						t.Errorf("description %q lacks %q", aws.ToString(f.Description), s)
					}
				}
			}
		})
	}
}

// check asserts what every finding carries and what it must never carry.
func check(t *testing.T, f types.AwsSecurityFinding) {
	t.Helper()
	eq(t, "SchemaVersion", aws.ToString(f.SchemaVersion), "2018-10-08")
	eq(t, "ProductArn", aws.ToString(f.ProductArn), "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default")
	eq(t, "AwsAccountId", aws.ToString(f.AwsAccountId), "123456789012")
	eq(t, "Types", strings.Join(f.Types, ","), Type)
	eq(t, "UpdatedAt", aws.ToString(f.UpdatedAt), "2026-03-01T12:00:00Z")
	eq(t, "CreatedAt", aws.ToString(f.CreatedAt), "2026-03-01T12:00:00Z")
	eq(t, "Resource.Type", aws.ToString(f.Resources[0].Type), "AwsEcrRepository")
	eq(t, "Resource.Partition", string(f.Resources[0].Partition), "aws")
	eq(t, "Resource.Region", aws.ToString(f.Resources[0].Region), "eu-west-1")
	eq(t, "RepositoryName", aws.ToString(f.Resources[0].Details.AwsEcrRepository.RepositoryName), "team/app")
	if f.Workflow != nil || f.Note != nil || f.VerificationState != "" || f.UserDefinedFields != nil {
		t.Error("Workflow, Note, VerificationState and UserDefinedFields are the customer's")
	}
	if f.RecordState == types.RecordStateActive {
		eq(t, "Recommendation.Url", aws.ToString(f.Remediation.Recommendation.Url),
			"https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/app?region=eu-west-1")
	}
	if len(aws.ToString(f.Title)) > maxTitle || len(aws.ToString(f.Description)) > maxDescription {
		t.Error("title or description over the ASFF limit")
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestDescriptionIsCapped(t *testing.T) {
	o := reconcile.Outcome{Status: reconcile.Failed, Read: guard.Checks{Mutability: true},
		Plan: guard.Plan{Findings: []guard.Finding{{Kind: guard.KindFailed, Area: guard.AreaMutability, Summary: strings.Repeat("é", 2000)}}}}
	f := For(Input{Key: key, Outcome: o, Rules: rules(t), Now: now})[0]
	if d := aws.ToString(f.Description); len(d) > maxDescription || !strings.HasSuffix(d, "…") {
		t.Errorf("description not capped: %d bytes", len(d))
	}
}
