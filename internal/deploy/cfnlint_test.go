package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// cfnLint runs cfn-lint on dir/file and fails on any finding.
func cfnLint(t *testing.T, dir, file string) {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is not on PATH (install it with `pip install cfn-lint`): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, file)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		t.Fatalf("cfn-lint %s reported findings (exit %d):\n%s", file, exitErr.ExitCode(), out)
	case err != nil:
		t.Fatalf("running cfn-lint: %v\n%s", err, out)
	case len(strings.TrimSpace(string(out))) != 0:
		t.Fatalf("cfn-lint printed output:\n%s", out)
	}
}

// TestCfnLint lints template.yaml as written (defaults: Scope=account).
func TestCfnLint(t *testing.T) {
	dir, err := filepath.Abs(filepath.Dir(templatePath))
	if err != nil {
		t.Fatal(err)
	}
	cfnLint(t, dir, filepath.Base(templatePath))
}

// TestCfnLintOrganizationScope lints template.yaml with the Scope=organization
// parameters made its defaults: cfn-lint resolves parameters from their
// defaults, and ignores --parameters for a template with a SAM Transform.
func TestCfnLintOrganizationScope(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := withDefaults(data, organizationParams)
	if err != nil {
		t.Fatal(err)
	}
	// The copy is what it says.
	tmpl, err := ParseTemplate(patched)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range organizationParams {
		if got := scalarString(lookup(tmpl, "Parameters", name, "Default")); got != v {
			t.Fatalf("patched Default of %s is %q, want %q", name, got, v)
		}
	}
	resolved, err := Resolve(tmpl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !isOrganization(resolved) {
		t.Fatal("the patched template is not Scope=organization by default")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "template.yaml"), patched, 0o644); err != nil {
		t.Fatal(err)
	}
	cfnLint(t, dir, "template.yaml")
}

// TestCfnLintMemberTemplate lints the member template the StackSet carries.
func TestCfnLintMemberTemplate(t *testing.T) {
	t.Parallel()
	body, err := MemberTemplate(loadRawTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "member-template.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfnLint(t, dir, "member-template.yaml")
}

// withDefaults returns the template text with the Default of each named
// parameter replaced by the given value; every other byte is kept.
func withDefaults(data []byte, values map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("not a single YAML document")
	}
	params := mappingValue(doc.Content[0], "Parameters")
	lines := strings.Split(string(data), "\n")
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := mappingValue(mappingValue(params, name), "Default")
		if def == nil || def.Kind != yaml.ScalarNode || def.Line < 1 || def.Line > len(lines) {
			return nil, fmt.Errorf("parameter %s has no one-line Default", name)
		}
		quoted, err := json.Marshal(values[name]) // a JSON string is a YAML double-quoted scalar
		if err != nil {
			return nil, err
		}
		line := lines[def.Line-1]
		lines[def.Line-1] = line[:def.Column-1] + string(quoted)
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
