package main

import (
	"slices"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/testenv"
)

// TestLinksNoSweepOnlyClient: the event function lists no accounts and
// continues no sweep, so it links neither the Organizations client
// (internal/targets) nor the Lambda one (the sweep's next link), whose
// package init would lengthen every cold start. The sweep links both.
func TestLinksNoSweepOnlyClient(t *testing.T) {
	sweepOnly := []string{"github.com/aws/aws-sdk-go-v2/service/organizations", "github.com/aws/aws-sdk-go-v2/service/lambda"}
	event, sweep := testenv.Deps(t, "./functions/remediate"), testenv.Deps(t, "./functions/sweep")
	for _, pkg := range sweepOnly {
		if slices.Contains(event, pkg) {
			t.Errorf("functions/remediate links %s", pkg)
		}
		if !slices.Contains(sweep, pkg) {
			t.Errorf("functions/sweep does not link %s: is this test's list still right?", pkg)
		}
	}
}
