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
// imports the revert's finding, which moto's GetFindings returns, and a
// later re-import keeps its CreatedAt.
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
	id := findings.ID(findings.ControlTagImmutability, arn)
	hub := sh.NewFromConfig(direct)
	f := readFinding(t, hub, id, rie)
	if f.Compliance == nil || f.Compliance.Status != types.ComplianceStatusPassed || f.RecordState != types.RecordStateActive ||
		f.ProductFields[findings.FieldKind] != string(guard.KindRemediated) || f.ProductFields[findings.FieldEventID] != ev.Detail.EventID {
		t.Fatalf("finding %+v %v", f.Compliance, f.ProductFields)
	}

	// The same event again: the repository is compliant now (the change is
	// observed, closed), and its finding is imported again. Security Hub keeps what the provider sends
	// (moto too), so the function reads the CreatedAt it holds and sends it
	// back: CreatedAt stays, UpdatedAt moves on.
	if status, body := rie.Invoke(t, raw); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	again := readFinding(t, hub, id, rie)
	if aws.ToString(again.CreatedAt) != aws.ToString(f.CreatedAt) {
		t.Errorf("CreatedAt %s, then %s: want it kept", aws.ToString(f.CreatedAt), aws.ToString(again.CreatedAt))
	}
	if !parseTime(t, again.UpdatedAt).After(parseTime(t, f.UpdatedAt)) {
		t.Errorf("UpdatedAt %s, then %s: want it later", aws.ToString(f.UpdatedAt), aws.ToString(again.UpdatedAt))
	}
}

// readFinding reads the finding id back from moto, whose GetFindings may
// ignore the filter: it is picked by Id.
func readFinding(t *testing.T, hub *sh.Client, id string, rie *testenv.RIE) types.AwsSecurityFinding {
	t.Helper()
	out, err := hub.GetFindings(t.Context(), &sh.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(id)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range out.Findings {
		if aws.ToString(x.Id) == id {
			return x
		}
	}
	t.Fatalf("no finding %s among %d\n%s", id, len(out.Findings), rie.Output())
	return types.AwsSecurityFinding{}
}

func parseTime(t *testing.T, s *string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, aws.ToString(s))
	if err != nil {
		t.Fatal(err)
	}
	return at
}
