package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassification(t *testing.T) {
	throttled := &Error{Err: errors.New("rate exceeded"), Code: "ThrottlingException", Retryable: true}
	denied := &Error{Err: errors.New("not authorized"), Code: "AccessDeniedException"}
	tests := []struct {
		name      string
		err       error
		retryable bool
		code      string
	}{
		{"nil", nil, false, ""},
		{"classified retryable, wrapped", fmt.Errorf("PutImageTagMutability team-a/web: %w", throttled), true, "ThrottlingException"},
		{"classified permanent", denied, false, "AccessDeniedException"},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), true, ""},
		{"canceled", context.Canceled, true, ""},
		{"not classified", errors.New("encode notice"), false, ""},
		{"permanent before retryable", errors.Join(denied, throttled), false, "AccessDeniedException"},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.retryable {
			t.Errorf("%s: Retryable = %v, want %v", tt.name, got, tt.retryable)
		}
		if got := Code(tt.err); got != tt.code {
			t.Errorf("%s: Code = %q, want %q", tt.name, got, tt.code)
		}
	}
}
