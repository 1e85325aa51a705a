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
	source, detailType, eventName, errorCode string
	// the status of an event ECR sent itself: detail.sync-status (pull
	// through cache) or detail.result (replication)
	syncStatus, result string
}

// handled says, from the sample's facts alone, whether ecr-guard acts on it:
// a successful ECR API call it handles, or a successful pull through cache
// or replication action
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html).
func (s sample) handled() bool {
	if s.source != "aws.ecr" {
		return false
	}
	switch s.detailType {
	case "AWS API Call via CloudTrail":
		return slices.Contains(guard.HandledEventNames, s.eventName) && s.errorCode == ""
	case guard.EventPullThroughCacheAction:
		return s.syncStatus == "SUCCESS"
	case guard.EventReplicationAction:
		return s.result == "SUCCESS"
	}
	return false
}

// key identifies a sample's event among those delivered: its detail, as
// canonical JSON (EventBridge gives the event a new id).
func (s sample) key(t *testing.T) string {
	t.Helper()
	key, err := canonical(s.raw["detail"])
	if err != nil {
		t.Fatalf("%s: %v", s.file, err)
	}
	return key
}

func canonical(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
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
		var detail struct {
			EventName, ErrorCode, Result string
			SyncStatus                   string `json:"sync-status"`
		}
		_ = json.Unmarshal(s.raw["detail"], &detail)
		_ = json.Unmarshal(s.raw["source"], &s.source)
		_ = json.Unmarshal(s.raw["detail-type"], &s.detailType)
		s.eventName, s.errorCode, s.syncStatus, s.result = detail.EventName, detail.ErrorCode, detail.SyncStatus, detail.Result
		out = append(out, s)
	}
	return out
}

// variant is a sample with its source, detail-type, eventName, sync-status
// or result changed, and a detail member "variant" that tells it apart.
func variant(t *testing.T, s sample, suffix, field, value string) sample {
	t.Helper()
	v := s
	v.file, v.raw = s.file+suffix, map[string]json.RawMessage{}
	for k, val := range s.raw {
		v.raw[k] = val
	}
	var detail map[string]any
	if err := json.Unmarshal(s.raw["detail"], &detail); err != nil {
		t.Fatal(err)
	}
	detail["variant"] = suffix
	quoted, _ := json.Marshal(value)
	switch field {
	case "source":
		v.raw["source"], v.source = quoted, value
	case "detail-type":
		v.raw["detail-type"], v.detailType = quoted, value
	case "eventName":
		detail["eventName"], v.eventName = value, value
	case "sync-status":
		detail["sync-status"], v.syncStatus = value, value
	case "result":
		detail["result"], v.result = value, value
	default:
		t.Fatalf("variant of %s", field)
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
// exactly the handled, successful ECR calls and service events reach each
// target. moto 5.2.1 matches "$or" patterns (moto/events/models.py,
// EventPattern._does_event_match).
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
		switch s.file {
		case "put-image-tag-mutability-mutable.json":
			all = append(all,
				variant(t, s, "#s3", "source", "aws.s3"),
				variant(t, s, "#state-change", "detail-type", "ECR Image Action"),
				variant(t, s, "#as-replication", "detail-type", guard.EventReplicationAction),
				variant(t, s, "#other-call", "eventName", "BatchDeleteImage"),
				variant(t, s, "#describe", "eventName", "DescribeRepositories"))
		case "pull-through-cache-action.json":
			all = append(all,
				variant(t, s, "#failed", "sync-status", "FAILED"),
				variant(t, s, "#as-replication", "detail-type", guard.EventReplicationAction),
				variant(t, s, "#as-cloudtrail", "detail-type", "AWS API Call via CloudTrail"),
				variant(t, s, "#s3", "source", "aws.s3"))
		case "replication-action.json":
			all = append(all,
				variant(t, s, "#failed", "result", "FAILED"),
				// ECR sends image pushes with the same detail members.
				variant(t, s, "#image-action", "detail-type", "ECR Image Action"),
				variant(t, s, "#as-pull-through-cache", "detail-type", guard.EventPullThroughCacheAction))
		}
	}
	want := map[string]bool{}
	kinds := map[string]bool{}
	files := map[string]string{} // by key, for the messages
	for _, s := range all {
		files[s.key(t)] = s.file
		if s.handled() {
			want[s.key(t)] = true
			kinds[s.detailType] = true
		}
		detail := string(s.raw["detail"])
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String(s.source), DetailType: aws.String(s.detailType), Detail: aws.String(detail),
		}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("%s: PutEvents err=%v out=%+v", s.file, err, out)
		}
	}
	if len(want) < 9 || len(want) == len(all) || len(kinds) != 3 {
		t.Fatalf("the samples must include handled events of each detail-type and unhandled events: %d of %d handled, of %d detail-types", len(want), len(all), len(kinds))
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
						Detail json.RawMessage `json:"detail"`
					}
					err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev)
					key, kerr := canonical(ev.Detail)
					if err != nil || kerr != nil {
						results <- delivered{name, nil, fmt.Errorf("delivered body is not an event: %s", aws.ToString(m.Body))}
						return
					}
					got[key] = true
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
		for key := range want {
			if !r.ids[key] {
				t.Errorf("%s: handled event %s was not delivered", r.name, files[key])
			}
		}
		for key := range r.ids {
			if !want[key] {
				t.Errorf("%s: event %s was delivered but must not be (detail %s)", r.name, files[key], key)
			}
		}
	}
}
