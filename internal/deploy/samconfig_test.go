package deploy

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// samOverride mirrors the SAM CLI's "Key=Value" parameter_overrides syntax.
var samOverride = regexp.MustCompile(`(?: )([A-Za-z0-9"']+)=("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)`)

func TestSamconfigParameterOverrides(t *testing.T) {
	f, err := os.Open(samconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	values := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		values[section+strings.TrimSpace(key)] = strings.TrimSpace(val)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"version":                                      "0.1",
		"[default.global.parameters]stack_name":        `"ecr-guard"`,
		"[default.build.parameters]cached":             "true",
		"[default.build.parameters]parallel":           "true",
		"[default.deploy.parameters]capabilities":      `"CAPABILITY_IAM CAPABILITY_NAMED_IAM"`,
		"[default.deploy.parameters]confirm_changeset": "true",
		"[default.deploy.parameters]resolve_s3":        "true",
		"[default.deploy.parameters]region":            `"us-east-1"`,
	} {
		if values[key] != want {
			t.Errorf("samconfig %s = %q, want %q", key, values[key], want)
		}
	}

	raw, err := strconv.Unquote(values["[default.deploy.parameters]parameter_overrides"])
	if err != nil {
		t.Fatalf("parameter_overrides is not a basic string: %v", err)
	}
	tmpl := loadTemplate(t)
	params, _ := tmpl["Parameters"].(map[string]any)
	matches := samOverride.FindAllStringSubmatch(" "+strings.TrimSpace(raw), -1)
	if len(matches) == 0 {
		t.Fatal("parameter_overrides has no Key=Value pairs")
	}
	for _, m := range matches {
		key, val := m[1], m[2]
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		p, ok := params[key].(map[string]any)
		if !ok {
			t.Errorf("parameter_overrides sets %s, which is not a template parameter", key)
			continue
		}
		if def := fmt.Sprint(p["Default"]); def != val {
			t.Errorf("parameter_overrides %s=%q differs from the template default %q", key, val, def)
		}
	}
}
