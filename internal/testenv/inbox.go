package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Inbox is an SNS topic with an SQS queue subscribed to it (protocol sqs,
// not raw delivery), so a test can read what was published.
type Inbox struct {
	sqs      *sqs.Client
	topicARN string
	queueURL string
}

// Notice is one SNS notification as delivered to the inbox queue.
type Notice struct {
	Subject    string            // empty when the publisher set none
	Message    string            // the body SNS chose for protocol sqs (the "sqs" key under MessageStructure json, else the message)
	Attributes map[string]string // message attribute name → value
	Raw        string            // the whole SQS body: SNS's JSON envelope
}

var inboxSeq atomic.Int64

// NewInbox creates a uniquely named topic and queue through cfg and subscribes
// the queue to the topic. Give it a config that talks to moto directly if the
// setup calls should stay out of a Proxy's records.
func NewInbox(tb T, cfg aws.Config) *Inbox {
	tb.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("testenv-inbox-%d-%d", time.Now().UnixNano(), inboxSeq.Add(1))
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		tb.Fatalf("testenv: inbox: create topic: %v", err)
	}
	queue, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		tb.Fatalf("testenv: inbox: create queue: %v", err)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		tb.Fatalf("testenv: inbox: queue arn: %v", err)
	}
	_, err = snsc.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: topic.TopicArn,
		Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	})
	if err != nil {
		tb.Fatalf("testenv: inbox: subscribe: %v", err)
	}
	return &Inbox{sqs: sqsc, topicARN: aws.ToString(topic.TopicArn), queueURL: aws.ToString(queue.QueueUrl)}
}

// TopicARN is the ARN of the inbox's topic: publish here.
func (i *Inbox) TopicARN() string { return i.topicARN }

// Drain receives and deletes messages until none has arrived for wait, and
// returns them in arrival order. To prove that nothing was published, count
// Publish calls on a Proxy instead; to wait for a known number, use Receive.
func (i *Inbox) Drain(tb T, wait time.Duration) []Notice {
	tb.Helper()
	var notices []Notice
	last := time.Now()
	for time.Since(last) < wait {
		batch := i.receive(tb)
		if len(batch) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		last = time.Now()
		notices = append(notices, batch...)
	}
	return notices
}

// Receive receives and deletes messages until n have arrived, and returns
// them in arrival order as soon as they have; it fails the test if fewer
// arrived within timeout, or if it got more than n. It does not wait for
// more: count Publish calls on a Proxy to prove there were no others. moto
// delivers to the queue while it handles Publish, so what was published
// before Receive is there at once.
func (i *Inbox) Receive(tb T, n int, timeout time.Duration) []Notice {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var notices []Notice
	for len(notices) < n {
		batch := i.receive(tb)
		notices = append(notices, batch...)
		if len(batch) > 0 {
			continue
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: inbox: %d of %d notices after %v: %+v", len(notices), n, timeout, notices)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(notices) > n {
		tb.Fatalf("testenv: inbox: %d notices, want %d: %+v", len(notices), n, notices)
	}
	return notices
}

// receive takes what one ReceiveMessage returns and deletes it.
func (i *Inbox) receive(tb T) []Notice {
	tb.Helper()
	ctx := context.Background()
	out, err := i.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:              aws.String(i.queueURL),
		MaxNumberOfMessages:   10,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		tb.Fatalf("testenv: inbox: receive: %v", err)
	}
	var notices []Notice
	for _, msg := range out.Messages {
		n, err := parseNotice(aws.ToString(msg.Body))
		if err != nil {
			tb.Fatalf("testenv: inbox: %v", err)
		}
		notices = append(notices, n)
		if _, err := i.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{
			QueueUrl: aws.String(i.queueURL), ReceiptHandle: msg.ReceiptHandle,
		}); err != nil {
			tb.Fatalf("testenv: inbox: delete: %v", err)
		}
	}
	return notices
}

// parseNotice decodes SNS's envelope for protocol sqs.
func parseNotice(body string) (Notice, error) {
	var env struct {
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return Notice{}, fmt.Errorf("not an SNS envelope: %v: %s", err, body)
	}
	n := Notice{Subject: env.Subject, Message: env.Message, Attributes: map[string]string{}, Raw: body}
	for k, v := range env.MessageAttributes {
		n.Attributes[k] = v.Value
	}
	return n, nil
}
