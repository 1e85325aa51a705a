package testenv

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDemoDoesNotLinkTesting checks that make demo (internal/demo, which uses
// this harness) does not link the test framework: no non-test file of
// testenv, or of anything else the demo imports, may import "testing".
func TestDemoDoesNotLinkTesting(t *testing.T) {
	root := ModuleRoot(t)
	for _, pkg := range []string{"./internal/demo", "./internal/testenv"} {
		cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps %s listed nothing", pkg)
		}
		if slices.Contains(deps, "testing") {
			t.Errorf("%s links the test framework: %q is among its dependencies (go list -deps %s)", pkg, "testing", pkg)
		}
	}
}
