// Package fault says how a failed call is to be handled, as the adapter that
// made it classified it (internal/awsfail for AWS calls), so the flows decide
// without knowing any SDK: a retryable failure (throttling, 5xx, a timeout)
// may succeed if the call is made again later; any other is permanent.
package fault

import (
	"context"
	"errors"
)

// Error is a failed call, classified.
type Error struct {
	Err       error
	Code      string // the service's error code ("" when it has none), for logs and notices
	Retryable bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err may succeed if made again later: as its
// adapter classified it, and always for a deadline or a cancellation. An
// error no adapter classified is permanent.
func Retryable(err error) bool {
	var f *Error
	if errors.As(err, &f) {
		return f.Retryable
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Code is the service's error code of err, "" when it has none.
func Code(err error) string {
	var f *Error
	if errors.As(err, &f) {
		return f.Code
	}
	return ""
}
