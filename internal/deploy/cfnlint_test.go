package deploy

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is not on PATH (install it with `pip install cfn-lint`): %v", err)
	}
	dir, err := filepath.Abs(filepath.Dir(templatePath))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, filepath.Base(templatePath))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		t.Fatalf("cfn-lint %s reported findings (exit %d):\n%s", filepath.Base(templatePath), exitErr.ExitCode(), out)
	case err != nil:
		t.Fatalf("running cfn-lint: %v\n%s", err, out)
	case len(strings.TrimSpace(string(out))) != 0:
		t.Fatalf("cfn-lint printed output:\n%s", out)
	}
}
