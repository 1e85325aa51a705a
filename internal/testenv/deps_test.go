package testenv

import (
	"slices"
	"testing"
)

// TestDemoDoesNotLinkTesting checks that make demo (internal/demo, which uses
// this harness) does not link the test framework: no non-test file of
// testenv, or of anything else the demo imports, may import "testing".
func TestDemoDoesNotLinkTesting(t *testing.T) {
	for _, pkg := range []string{"./internal/demo", "./internal/testenv"} {
		if slices.Contains(Deps(t, pkg), "testing") {
			t.Errorf("%s links the test framework: %q is among its dependencies (go list -deps %s)", pkg, "testing", pkg)
		}
	}
}
