// Package lambdainvoke is the AWS adapter that starts a Lambda function
// asynchronously: the sweep uses it to start its own next link.
package lambdainvoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// API is the part of the Lambda client Invoker uses (*lambda.Client).
type API interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Invoker invokes one function asynchronously (InvocationType Event) with a
// JSON-encoded payload of type P. It knows nothing of what P means, so it
// satisfies a caller's interface such as sweep.Continuer without importing
// the caller: lambdainvoke.New[sweep.Payload](client, name).
type Invoker[P any] struct {
	api      API
	function string
}

// New returns an Invoker of function (a name, or a function or alias ARN)
// through api.
func New[P any](api API, function string) Invoker[P] {
	return Invoker[P]{api: api, function: function}
}

// Continue invokes the function asynchronously with payload encoded as JSON.
// Lambda queues the event and answers 202 at once; an error (the SDK's,
// after its retries) is wrapped with the function's name and keeps the SDK
// error for errors.As.
func (i Invoker[P]) Continue(ctx context.Context, payload P) error {
	if i.function == "" {
		return errors.New("invoke asynchronously: no function name")
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode the payload for %s: %w", i.function, err)
	}
	_, err = i.api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(i.function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        body,
	})
	if err != nil {
		return fmt.Errorf("invoke %s asynchronously: %w", i.function, err)
	}
	return nil
}
