package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/ecr-guard/ecr-guard/internal/findings"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/scenario"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestSecurityHubFindingUnderRIE: with SECURITY_HUB=on the real bootstrap
// imports the revert's finding, which moto's GetFindings returns.
func TestSecurityHubFindingUnderRIE(t *testing.T) {
	var sc *scenario.Scenario
	for i := range scenario.All {
		if scenario.All[i].Kind == guard.KindRemediated {
			sc = &scenario.All[i]
			break
		}
	}
	if sc == nil {
		t.Fatal("no REMEDIATED scenario")
	}
	moto.Reset(t)
	bootstrap := testenv.BuildBootstrap(t, "./functions/remediate")
	direct := moto.AWSConfig(t, moto.URL())
	api := ecr.NewFromConfig(direct)
	inbox := testenv.NewInbox(t, direct)
	env := moto.Env(moto.URL())
	for k, v := range scenario.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "SNS_TOPIC_ARN="+inbox.TopicARN(), "SECURITY_HUB=on")
	rie := testenv.StartRIE(t, bootstrap, env)

	baseline, err := guard.ParseLifecyclePolicy(guard.DefaultLifecyclePolicy)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := scenario.Seed(ctx, api, sc.Repo, sc.Seed, baseline.Text()); err != nil {
		t.Fatal(err)
	}
	raw, err := scenario.ReadEvent(testenv.ModuleRoot(t), sc.Event, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Account string `json:"account"`
		Region  string `json:"region"`
		Detail  struct {
			EventID string `json:"eventID"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if status, body := rie.Invoke(t, raw); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	arn := "arn:aws:ecr:" + ev.Region + ":" + ev.Account + ":repository/" + sc.Repo
	out, err := sh.NewFromConfig(direct).GetFindings(ctx, &sh.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(findings.ID(findings.ControlTagImmutability, arn))}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// moto may ignore the filter: pick the finding by Id.
	id := findings.ID(findings.ControlTagImmutability, arn)
	var f types.AwsSecurityFinding
	for _, x := range out.Findings {
		if aws.ToString(x.Id) == id {
			f = x
		}
	}
	if f.Id == nil {
		t.Fatalf("no finding %s among %d\n%s", id, len(out.Findings), rie.Output())
	}
	if f.Compliance == nil || f.Compliance.Status != types.ComplianceStatusPassed || f.RecordState != types.RecordStateActive ||
		f.ProductFields[findings.FieldKind] != string(guard.KindRemediated) || f.ProductFields[findings.FieldEventID] != ev.Detail.EventID {
		t.Fatalf("finding %+v %v", f.Compliance, f.ProductFields)
	}
}
