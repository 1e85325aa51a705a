// Package metrics writes CloudWatch metrics as Embedded Metric Format lines
// in the function's log, so counting costs no API call: CloudWatch Logs
// extracts the metrics from the log group.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/ecr-guard/ecr-guard/internal/guard"
)

// Namespace is the CloudWatch namespace of ecr-guard's metrics.
const Namespace = "ecr-guard"

// Metric names.
const (
	Remediated        = "Remediated"
	Observed          = "Observed"
	Exempt            = "Exempt"
	ExemptionGranted  = "ExemptionGranted"
	ExemptionRejected = "ExemptionRejected"
	LifecycleRestored = "LifecycleRestored"
	Failed            = "Failed"
	NoticeFailures    = "NoticeFailures"
	Skipped           = "Skipped"
	// FindingFailures: findings Security Hub did not import.
	FindingFailures = "FindingFailures"
	// SecurityHubDisabled: findings not imported because Security Hub is
	// not enabled in the account and region.
	SecurityHubDisabled = "SecurityHubDisabled"
	// FindingReadFailures: findings imported with the decision's time as
	// CreatedAt because reading the stored one (GetFindings) failed.
	FindingReadFailures = "FindingReadFailures"
)

// Counter counts outcomes; EMF is the production one. The flows (reconcile,
// notify and both drivers) take this one interface.
type Counter interface {
	Count(metric, kind string, value int)
}

// EMF writes one EMF line per count.
type EMF struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// NewEMF writes to w (the function's stdout) for the named function.
func NewEMF(w io.Writer, function string, now func() time.Time) *EMF {
	return &EMF{w: w, function: function, now: now}
}

// Count records value for metric, with the Kind dimension set to kind (the
// notice kind, or the reason for Skipped). Each line publishes two
// aggregates: per function, and per function and kind, so an alarm can watch
// the function-wide total.
func (e *EMF) Count(metric, kind string, value int) {
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{"FunctionName"}, {"FunctionName", "Kind"}},
				"Metrics":    []map[string]string{{"Name": metric, "Unit": "Count"}},
			}},
		},
		"FunctionName": e.function,
		"Kind":         kind,
		metric:         value,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return // a map of strings and ints always encodes
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}

// ForKind names the metric that counts findings of a kind; dry-run kinds
// count with their real counterparts (the Kind dimension tells them apart).
func ForKind(kind guard.Kind) string {
	switch kind {
	case guard.KindRemediated, guard.KindWouldRemediate:
		return Remediated
	case guard.KindObserved:
		return Observed
	case guard.KindExempt:
		return Exempt
	case guard.KindExemptionGranted:
		return ExemptionGranted
	case guard.KindExemptionRejected:
		return ExemptionRejected
	case guard.KindLifecycleRestored, guard.KindWouldRestoreLifecycle:
		return LifecycleRestored
	default: // guard.KindFailed
		return Failed
	}
}
