package config

import (
	"strings"
	"testing"
)

func TestLoadSweepDefaults(t *testing.T) {
	c, err := LoadSweep(env(map[string]string{"SNS_TOPIC_ARN": topic, "DRY_RUN": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 8 || c.MaxTPS != 20 {
		t.Errorf("concurrency %d, max tps %v; want 8 and 20", c.Concurrency, c.MaxTPS)
	}
	if c.TopicARN != topic || !c.Rules.DryRun {
		t.Errorf("the event function's settings are not carried over: %+v", c.Config)
	}
}

func TestLoadSweepValues(t *testing.T) {
	for _, tt := range []struct {
		concurrency, tps string
		wantC            int
		wantTPS          float64
	}{
		{"1", "0", 1, 0},
		{"64", "2.5", 64, 2.5},
		{" 16 ", "100", 16, 100},
		{"", "", 8, 20},
	} {
		c, err := LoadSweep(env(map[string]string{"SNS_TOPIC_ARN": topic, "SWEEP_CONCURRENCY": tt.concurrency, "SWEEP_MAX_TPS": tt.tps}))
		if err != nil {
			t.Fatalf("%q/%q: %v", tt.concurrency, tt.tps, err)
		}
		if c.Concurrency != tt.wantC || c.MaxTPS != tt.wantTPS {
			t.Errorf("%q/%q: got %d/%v", tt.concurrency, tt.tps, c.Concurrency, c.MaxTPS)
		}
	}
}

func TestLoadSweepRejectsBadValuesNamingTheVariable(t *testing.T) {
	for _, tt := range []struct{ variable, value string }{
		{"SWEEP_CONCURRENCY", "0"},
		{"SWEEP_CONCURRENCY", "65"},
		{"SWEEP_CONCURRENCY", "eight"},
		{"SWEEP_CONCURRENCY", "2.5"},
		{"SWEEP_MAX_TPS", "-1"},
		{"SWEEP_MAX_TPS", "fast"},
		{"SWEEP_MAX_TPS", "Inf"},
		{"SWEEP_MAX_TPS", "NaN"},
	} {
		_, err := LoadSweep(env(map[string]string{"SNS_TOPIC_ARN": topic, tt.variable: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.variable+": ") || !strings.Contains(err.Error(), tt.value) {
			t.Errorf("%s=%q: err = %v, want it to name the variable and the value", tt.variable, tt.value, err)
		}
	}
	// Errors of the shared settings and of the sweep's own are reported together.
	_, err := LoadSweep(env(map[string]string{"SWEEP_CONCURRENCY": "0"}))
	if err == nil || !strings.Contains(err.Error(), "SNS_TOPIC_ARN") || !strings.Contains(err.Error(), "SWEEP_CONCURRENCY") {
		t.Errorf("err = %v, want both SNS_TOPIC_ARN and SWEEP_CONCURRENCY", err)
	}
}
