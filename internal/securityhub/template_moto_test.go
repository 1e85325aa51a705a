package securityhub_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/findings"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/reconcile"
	"github.com/ecr-guard/ecr-guard/internal/securityhub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

func templateKey(prefix string) reconcile.TemplateKey {
	return reconcile.TemplateKey{Partition: "aws", Registry: account, Region: testenv.Region, Prefix: prefix}
}

// findingByID reads one finding back from moto, whose GetFindings ignores
// filters: it is picked by Id among all, paged.
func findingByID(t *testing.T, hub *sh.Client, id string) types.AwsSecurityFinding {
	t.Helper()
	pages := sh.NewGetFindingsPaginator(hub, &sh.GetFindingsInput{})
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Findings {
			if aws.ToString(f.Id) == id {
				return f
			}
		}
	}
	t.Fatalf("no finding %s", id)
	return types.AwsSecurityFinding{}
}

// Template findings end to end against moto: the reconciler's
// RecordTemplate hands the outcome to the production publisher, which
// imports it through the registries resolver. moto 5.2.1 has no repository
// creation template API: the proxy serves those operations from testenv's
// fake in ECR's wire format, and everything else (Security Hub included)
// from moto.
func TestTemplateFindingsInMoto(t *testing.T) {
	w := newWorld(t, false, false)
	rules := w.rules
	rules.RootTemplateMode = guard.RootTemplateReport
	m := metrics.NewEMF(io.Discard, "ecr-guard", time.Now)
	pub := securityhub.New(securityhub.Of(w.res.SecurityHub), rules, m, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, securityhub.Options{})
	rec := reconcile.New(w.res, rules, m, time.Now).WithFindings(pub)
	templates := ecr.NewFromConfig(moto.AWSConfig(t, w.proxy.URL()))
	ctx := context.Background()
	create := func(prefix string, mutability ecrtypes.ImageTagMutability, tags ...ecrtypes.Tag) {
		t.Helper()
		if _, err := templates.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String(prefix),
			AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForReplication}, ImageTagMutability: mutability, ResourceTags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	// event reconciles the template as the event path does and records it.
	event := func(name, prefix, id string) reconcile.TemplateOutcome {
		t.Helper()
		ev := &guard.Event{ID: "env-" + id, EventID: id, Name: name, Time: time.Now(), Region: testenv.Region, Account: account, Template: prefix,
			Principal: guard.Principal{Type: "IAMUser", ARN: "arn:aws:iam::" + account + ":user/mallory"}}
		o := rec.ReconcileTemplate(ctx, reconcile.TemplateRequest{Key: templateKey(prefix), Event: ev})
		rec.RecordTemplate(ctx, templateKey(prefix), o, ev)
		return o
	}
	read := func(control, prefix string) types.AwsSecurityFinding {
		t.Helper()
		return findingByID(t, w.hub, findings.ID(control, findings.TemplateResourceID(templateKey(prefix))))
	}
	type want struct {
		status  types.ComplianceStatus
		record  types.RecordState
		label   types.SeverityLabel
		kind    string
		eventID string
		other   map[string]string
		desc    []string
	}
	check := func(f types.AwsSecurityFinding, control, prefix string, w want) {
		t.Helper()
		eq := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("%s %s: %s = %q, want %q", control, prefix, what, got, want)
			}
		}
		eq("GeneratorId", aws.ToString(f.GeneratorId), "ecr-guard/"+control)
		eq("ProductArn", aws.ToString(f.ProductArn), "arn:aws:securityhub:us-east-1:"+account+":product/"+account+"/default")
		eq("AwsAccountId", aws.ToString(f.AwsAccountId), account)
		eq("RecordState", string(f.RecordState), string(w.record))
		eq("Compliance", string(f.Compliance.Status), string(w.status))
		eq("Severity", string(f.Severity.Label), string(w.label))
		eq("kind", f.ProductFields[findings.FieldKind], w.kind)
		eq("eventId", f.ProductFields[findings.FieldEventID], w.eventID)
		if len(f.Resources) != 1 || f.Resources[0].Details == nil {
			t.Fatalf("resources %+v", f.Resources)
		}
		r := f.Resources[0]
		eq("Resource.Type", aws.ToString(r.Type), "Other")
		eq("Resource.Id", aws.ToString(r.Id), "arn:aws:ecr:us-east-1:"+account+":repository-creation-template/"+prefix)
		if r.Details.AwsEcrRepository != nil {
			t.Errorf("a template finding with Details.AwsEcrRepository")
		}
		for k, v := range w.other {
			eq("Details.Other "+k, r.Details.Other[k], v)
		}
		for _, s := range w.desc {
			if !strings.Contains(aws.ToString(f.Description), s) {
				t.Errorf("%s %s: description %q lacks %q", control, prefix, aws.ToString(f.Description), s)
			}
		}
	}

	create("prod", ecrtypes.ImageTagMutabilityMutable)
	if o := event(guard.EventCreateRepositoryCreationTemplate, "prod", "ev-prod"); o.Status != reconcile.Done {
		t.Fatalf("prod: %+v", o)
	}
	fixed := map[string]string{findings.OtherPrefix: "prod", findings.OtherAppliedFor: guard.AppliedForReplication,
		findings.OtherImageTagMutability: guard.Immutable, findings.OtherLifecyclePolicy: guard.PolicyBaseline}
	check(read(findings.ControlTagImmutability, "prod"), findings.ControlTagImmutability, "prod", want{status: types.ComplianceStatusPassed,
		record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "REMEDIATED", eventID: "ev-prod", other: fixed,
		desc: []string{"Repository creation template prod (appliedFor REPLICATION)", "user/mallory", "[REMEDIATED]"}})
	check(read(findings.ControlLifecyclePolicy, "prod"), findings.ControlLifecyclePolicy, "prod", want{status: types.ComplianceStatusPassed,
		record: types.RecordStateActive, label: types.SeverityLabelInformational, kind: "LIFECYCLE_RESTORED", eventID: "ev-prod", other: fixed})

	create("dev", ecrtypes.ImageTagMutabilityMutable, ecrtypes.Tag{Key: aws.String("environment"), Value: aws.String("dev")})
	event(guard.EventCreateRepositoryCreationTemplate, "dev", "ev-dev")
	check(read(findings.ControlTagImmutability, "dev"), findings.ControlTagImmutability, "dev", want{status: types.ComplianceStatusWarning,
		record: types.RecordStateActive, label: types.SeverityLabelMedium, kind: "EXEMPT", eventID: "ev-dev",
		other: map[string]string{findings.OtherImageTagMutability: guard.Mutable}, desc: []string{"Exempt by tag environment=dev"}})

	// The deleted template's findings are the same two, archived.
	if _, err := templates.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	event(guard.EventDeleteRepositoryCreationTemplate, "prod", "ev-deleted")
	for _, control := range []string{findings.ControlTagImmutability, findings.ControlLifecyclePolicy} {
		check(read(control, "prod"), control, "prod", want{status: types.ComplianceStatusNotAvailable, record: types.RecordStateArchived,
			label: types.SeverityLabelInformational, kind: "DELETED", eventID: "ev-deleted", other: map[string]string{findings.OtherPrefix: "prod"},
			desc: []string{"no longer exists", "deleted by arn:aws:iam::" + account + ":user/mallory"}})
	}

	// The sweep's look at a missing ROOT template (ROOT_TEMPLATE=report).
	root := rec.ReconcileTemplate(ctx, reconcile.TemplateRequest{Key: templateKey(guard.RootPrefix), Missing: true})
	rec.RecordTemplate(ctx, templateKey(guard.RootPrefix), root, nil)
	check(read(findings.ControlTagImmutability, guard.RootPrefix), findings.ControlTagImmutability, guard.RootPrefix, want{status: types.ComplianceStatusFailed,
		record: types.RecordStateActive, label: types.SeverityLabelMedium, kind: "OBSERVED", desc: []string{"there is no ROOT template", "scheduled sweep"}})

	// prod's 2, dev's 2, ROOT's 2: one per template and control, upserted.
	if n := w.count(t); n != 6 {
		t.Errorf("%d findings in Security Hub, want 6", n)
	}
}
