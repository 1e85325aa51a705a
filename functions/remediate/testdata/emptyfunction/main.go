// Command emptyfunction is a Lambda function that does nothing: its cold
// start under the RIE is the floor of any Go function's (BenchmarkColdStartFloor).
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() error { return nil }) }
