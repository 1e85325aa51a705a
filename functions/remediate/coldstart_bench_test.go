package main

import (
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// BenchmarkColdStartFloor is BenchmarkColdStart for a function that does
// nothing but start the Lambda runtime client (testdata/emptyfunction): the
// part of every Go function's init that is the process, the Go runtime, the
// runtime client and the emulator, none of it ecr-guard's.
func BenchmarkColdStartFloor(b *testing.B) {
	coldStarts(b, testenv.BuildBootstrap(b, "./functions/remediate/testdata/emptyfunction"), moto.Env(moto.URL()))
}
