package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// ValidateEMF checks one line against the EMF specification's rules: the
// _aws metadata, a namespace, dimension sets naming top-level string members,
// and metrics naming top-level numbers.
func validateEMF(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("not JSON: %q", line)
	}
	meta, ok := m["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %q", line)
	}
	if ts, ok := meta["Timestamp"].(float64); !ok || ts <= 0 {
		t.Fatalf("Timestamp must be epoch milliseconds: %q", line)
	}
	directives, ok := meta["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("no CloudWatchMetrics: %q", line)
	}
	for _, d := range directives {
		dir := d.(map[string]any)
		if ns, _ := dir["Namespace"].(string); ns == "" {
			t.Fatalf("no Namespace: %q", line)
		}
		for _, set := range dir["Dimensions"].([]any) {
			names := set.([]any)
			if len(names) == 0 || len(names) > 30 {
				t.Fatalf("bad dimension set %v", names)
			}
			for _, n := range names {
				if v, ok := m[n.(string)].(string); !ok || v == "" {
					t.Fatalf("dimension %v is not a top-level string: %q", n, line)
				}
			}
		}
		for _, metric := range dir["Metrics"].([]any) {
			name := metric.(map[string]any)["Name"].(string)
			if _, ok := m[name].(float64); !ok {
				t.Fatalf("metric %s is not a top-level number: %q", name, line)
			}
		}
	}
	return m
}

func TestCountWritesEMF(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "ecr-guard-remediate", func() time.Time { return time.UnixMilli(1_700_000_000_000) })
	e.Count(Remediated, "REMEDIATED", 1)
	e.Count(Skipped, "self", 1)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines = %q", lines)
	}
	m := validateEMF(t, lines[0])
	if m["Remediated"] != 1.0 || m["Kind"] != "REMEDIATED" || m["FunctionName"] != "ecr-guard-remediate" {
		t.Fatalf("line = %v", m)
	}
	if m := validateEMF(t, lines[1]); m["Skipped"] != 1.0 || m["Kind"] != "self" {
		t.Fatalf("line = %v", m)
	}
}
