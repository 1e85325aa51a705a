// Command echo is a tiny Lambda function for testenv's own tests: it echoes
// its payload, fails on {"fail":true}, and answers {"getenv":"NAME"} with
// {"value":"<$NAME>"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	fmt.Printf("echo: got %s\n", payload)
	var in struct {
		Fail   bool   `json:"fail"`
		Getenv string `json:"getenv"`
	}
	_ = json.Unmarshal(payload, &in)
	switch {
	case in.Fail:
		return nil, errors.New("asked to fail")
	case in.Getenv != "":
		return json.Marshal(map[string]string{"value": os.Getenv(in.Getenv)})
	}
	return payload, nil
}

func main() { lambda.Start(handle) }
