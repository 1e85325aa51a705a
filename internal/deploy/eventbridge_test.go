package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecr-guard/ecr-guard/internal/deploy"
	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

type sample struct {
	file string
	raw  map[string]json.RawMessage
	// the facts the expectation is derived from, independently of the pattern
	source, detailType, eventName, errorCode, eventID string
}

func loadSamples(t *testing.T) []sample {
	t.Helper()
	dir := filepath.Join(testenv.ModuleRoot(t), "events")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := sample{file: e.Name()}
		if err := json.Unmarshal(b, &s.raw); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		var detail struct{ EventName, ErrorCode, EventID string }
		_ = json.Unmarshal(s.raw["detail"], &detail)
		_ = json.Unmarshal(s.raw["source"], &s.source)
		_ = json.Unmarshal(s.raw["detail-type"], &s.detailType)
		s.eventName, s.errorCode, s.eventID = detail.EventName, detail.ErrorCode, detail.EventID
		out = append(out, s)
	}
	return out
}

// variant is a sample with its source, detail-type or eventName changed.
func variant(t *testing.T, s sample, suffix, field, value string) sample {
	t.Helper()
	v := sample{file: s.file + suffix, raw: map[string]json.RawMessage{}, source: s.source, detailType: s.detailType, eventName: s.eventName, errorCode: s.errorCode}
	for k, val := range s.raw {
		v.raw[k] = val
	}
	var detail map[string]any
	if err := json.Unmarshal(s.raw["detail"], &detail); err != nil {
		t.Fatal(err)
	}
	v.eventID = s.eventID + suffix
	detail["eventID"] = v.eventID
	quoted, _ := json.Marshal(value)
	switch field {
	case "source":
		v.raw["source"], v.source = quoted, value
	case "detail-type":
		v.raw["detail-type"], v.detailType = quoted, value
	case "eventName":
		detail["eventName"], v.eventName = value, value
	}
	v.raw["detail"], _ = json.Marshal(detail)
	return v
}

// rulePatterns returns the pattern of every rule ecr-guard deploys: the
// default bus's (Scope=account), the central bus's (Scope=organization) and
// the member template's forward rule, keyed by a rule name for moto.
func rulePatterns(t *testing.T) map[string]map[string]any {
	t.Helper()
	raw, err := deploy.LoadTemplate(filepath.Join(testenv.ModuleRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	account, err := deploy.Resolve(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	accountPattern, err := deploy.RulePattern(account)
	if err != nil {
		t.Fatal(err)
	}
	org, err := deploy.Resolve(raw, map[string]string{"Scope": "organization", "OrganizationId": "o-exampleorg1", "TargetOrganizationalUnits": "r-ab12"})
	if err != nil {
		t.Fatal(err)
	}
	orgPatterns, err := deploy.RulePatterns(org)
	if err != nil {
		t.Fatal(err)
	}
	body, err := deploy.MemberTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	member, err := deploy.ParseTemplate([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	member, err = deploy.Resolve(member, map[string]string{"AWS::AccountId": "222222222222", "AWS::Region": "eu-west-1", "IamRegion": "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	memberPattern, err := deploy.RulePattern(member)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{"account": accountPattern, "member-forward": memberPattern}
	for where, p := range orgPatterns {
		if where != "EcrApiCallRule" {
			out["organization-"+where] = p
		}
	}
	if len(out) != 3 {
		t.Fatalf("want the account, central and member rules, got %v", out)
	}
	return out
}

// TestRulePatternDeliversExactlyTheHandledEvents creates each EventBridge
// rule ecr-guard deploys (the default bus's, the central bus's and the
// member template's; their patterns are equal, see TestRulePatternsAreEqual)
// in moto, each with its own queue, puts every events/ sample (and variants
// from other sources and of other kinds) on the default bus, and checks that
// exactly the handled, successful ECR calls reach each target.
func TestRulePatternDeliversExactlyTheHandledEvents(t *testing.T) {
	patterns := rulePatterns(t)

	moto := testenv.StartMoto(t)
	cfg := moto.AWSConfig(t, moto.URL())
	ctx := context.Background()
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	queues := map[string]*string{}
	for name, pattern := range patterns {
		patternJSON, err := json.Marshal(pattern)
		if err != nil {
			t.Fatal(err)
		}
		queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-target")})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(string(patternJSON))}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
			t.Fatal(err)
		}
		queues[name] = queue.QueueUrl
	}

	samples := loadSamples(t)
	var all []sample
	for _, s := range samples {
		all = append(all, s)
		if s.file == "put-image-tag-mutability-mutable.json" {
			all = append(all,
				variant(t, s, "#s3", "source", "aws.s3"),
				variant(t, s, "#state-change", "detail-type", "ECR Image Action"),
				variant(t, s, "#other-call", "eventName", "BatchDeleteImage"),
				variant(t, s, "#describe", "eventName", "DescribeRepositories"))
		}
	}
	want := map[string]bool{}
	for _, s := range all {
		handled := s.source == "aws.ecr" && s.detailType == "AWS API Call via CloudTrail" &&
			slices.Contains(guard.HandledEventNames, s.eventName) && s.errorCode == ""
		if handled {
			want[s.eventID] = true
		}
		detail := string(s.raw["detail"])
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String(s.source), DetailType: aws.String(s.detailType), Detail: aws.String(detail),
		}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("%s: PutEvents err=%v out=%+v", s.file, err, out)
		}
	}
	if len(want) < 9 || len(want) == len(all) {
		t.Fatalf("the samples must include handled and unhandled events: %d of %d handled", len(want), len(all))
	}

	// Receive from every queue at once until nothing more arrives, so stray
	// deliveries show up too.
	type delivered struct {
		name string
		ids  map[string]bool
		err  error
	}
	results := make(chan delivered, len(queues))
	for name, queueURL := range queues {
		go func() {
			got := map[string]bool{}
			for quiet := 0; quiet < 2; {
				msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					results <- delivered{name, nil, err}
					return
				}
				if len(msgs.Messages) == 0 {
					quiet++
				}
				for _, m := range msgs.Messages {
					var ev struct {
						Detail struct{ EventID string } `json:"detail"`
					}
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
						results <- delivered{name, nil, fmt.Errorf("delivered body is not an event: %s", aws.ToString(m.Body))}
						return
					}
					got[ev.Detail.EventID] = true
				}
			}
			results <- delivered{name, got, nil}
		}()
	}
	for range queues {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		for id := range want {
			if !r.ids[id] {
				t.Errorf("%s: handled event %s was not delivered", r.name, id)
			}
		}
		for id := range r.ids {
			if !want[id] {
				t.Errorf("%s: event %s was delivered but must not be", r.name, id)
			}
		}
	}
}
