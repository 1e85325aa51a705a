package notice_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ecr-guard/ecr-guard/internal/guard"
	"github.com/ecr-guard/ecr-guard/internal/metrics"
	"github.com/ecr-guard/ecr-guard/internal/notice"
	"github.com/ecr-guard/ecr-guard/internal/notify"
	"github.com/ecr-guard/ecr-guard/internal/snspub"
	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestChatNoticePublishedToSNS publishes an event notice, a template's
// notice and a sweep report through the functions' publisher with HTTPS_NOTICE_FORMAT=chat to moto's
// SNS (MessageStructure json) and reads the Message SNS accepted: https is
// the chat notification, every other protocol what it was. moto does not
// deliver to https endpoints, so the structured message is what is checked.
func TestChatNoticePublishedToSNS(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes to moto")
	}
	moto := testenv.StartMoto(t)
	proxy := testenv.NewProxy(t, moto.URL())
	api := sns.NewFromConfig(moto.AWSConfig(t, proxy.URL()))
	ctx := context.Background()
	topic, err := api.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("notice-chat")})
	if err != nil {
		t.Fatal(err)
	}
	pub := notify.New(snspub.New(api, aws.ToString(topic.TopicArn)), metrics.NewEMF(io.Discard, "chat", time.Now)).WithHTTPSFormat(notice.HTTPSChat)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	deleted := guard.Plan{Findings: []guard.Finding{{Kind: guard.KindObserved, Area: guard.AreaTemplate, Summary: "template prod deleted"}}}
	template := notice.ForEvent(notice.EventInput{Region: "us-east-1", Account: "123456789012", Template: &guard.Template{Prefix: "prod"}, Plan: deleted})
	msgs := append([]notice.Message{readmeNotice(t), template}, notice.ForSweep(notice.SweepInput{Account: "123456789012", Region: "us-east-1", Complete: true})...)
	proxy.Reset()
	for _, m := range msgs {
		if id, err := pub.Send(ctx, log, m); err != nil || id == "" {
			t.Fatalf("SNS refused %q: %v", m.Subject, err)
		}
	}
	var published []map[string]string
	for _, c := range proxy.Calls() {
		if c.Operation != "Publish" {
			continue
		}
		form, err := url.ParseQuery(string(c.Body))
		if err != nil {
			t.Fatal(err)
		}
		if form.Get("MessageStructure") != "json" {
			t.Errorf("MessageStructure %q", form.Get("MessageStructure"))
		}
		var structured map[string]string
		if err := json.Unmarshal([]byte(form.Get("Message")), &structured); err != nil {
			t.Fatal(err)
		}
		published = append(published, structured)
	}
	if len(published) != len(msgs) {
		t.Fatalf("%d Publish calls, want %d", len(published), len(msgs))
	}
	for i, structured := range published {
		n := notice.CheckChatSchema(t, structured["https"])
		if n.Metadata == nil || n.Metadata.Summary != msgs[i].Subject {
			t.Errorf("chat summary %+v, want the subject %q", n.Metadata, msgs[i].Subject)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(structured["sqs"]), &doc); err != nil || doc["schemaVersion"] != notice.SchemaVersion {
			t.Errorf("sqs is not the JSON document: %v", err)
		}
		if structured["lambda"] != structured["sqs"] || structured["http"] != structured["sqs"] || structured["default"] != msgs[i].Text || structured["email"] != msgs[i].Text {
			t.Error("the other protocols changed")
		}
	}
}
