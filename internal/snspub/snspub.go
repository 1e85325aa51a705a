// Package snspub publishes notices to the SNS topic the security team reads.
package snspub

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/ecr-guard/ecr-guard/internal/awsfail"
	"github.com/ecr-guard/ecr-guard/internal/notice"
)

// Publisher publishes to one topic.
type Publisher struct {
	api      *sns.Client
	topicARN string
}

// New returns a Publisher for topicARN.
func New(api *sns.Client, topicARN string) *Publisher {
	return &Publisher{api: api, topicARN: topicARN}
}

// Publish sends m with MessageStructure json, so people get the text and
// machines the JSON document. It returns the SNS message id.
func (p *Publisher) Publish(ctx context.Context, m notice.Message) (string, error) {
	body, err := m.SNSMessage()
	if err != nil {
		return "", err
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
	for k, v := range m.Attributes {
		if v != "" { // SNS rejects empty attribute values
			attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	out, err := p.api.Publish(ctx, &sns.PublishInput{
		TopicArn:          &p.topicARN,
		Subject:           aws.String(m.Subject),
		Message:           &body,
		MessageStructure:  aws.String("json"),
		MessageAttributes: attrs,
	})
	if err != nil {
		return "", fmt.Errorf("sns Publish to %s: %w", p.topicARN, awsfail.Classify(err))
	}
	return aws.ToString(out.MessageId), nil
}
