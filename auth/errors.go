// Package auth decides who may make folio regenerate: Contentful's request
// signatures, and Auth0 machine-to-machine credentials (HTTP Basic client id
// and secret exchanged for an access token, or a Bearer access token), each
// verified before the webhook body is even parsed.
package auth

import "fmt"

// Kind says how a failed authentication should be answered.
type Kind int

// The kinds of failure, each with one HTTP meaning (handlers maps them).
const (
	// Unauthenticated: no credentials, or credentials that prove nothing
	// (bad signature, wrong secret, expired or forged token): 401.
	Unauthenticated Kind = iota + 1
	// Forbidden: a valid identity that may not do this (client not
	// allowed, scope missing, wrong audience): 403.
	Forbidden
	// Unavailable: the check could not be made (Auth0 or its key set
	// unreachable). Contentful retries 5xx, so this is 503, never a 2xx.
	Unavailable
	// NotConfigured: no method is configured outside demo mode; folio fails
	// closed: 503.
	NotConfigured
	// Throttled: too many failed attempts for these credentials: 429.
	Throttled
)

// Error is an authentication failure. Code is a stable snake_case code for
// the JSON error; Reason is a human sentence safe to show the caller: it
// never contains a secret, a token or a signature.
type Error struct {
	Kind   Kind
	Code   string
	Reason string
	// Err is the underlying cause, for logs only (never shown to callers).
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("auth: %s: %s (%v)", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("auth: %s: %s", e.Code, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func unauthenticated(code, reason string, err error) *Error {
	return &Error{Kind: Unauthenticated, Code: code, Reason: reason, Err: err}
}

func forbidden(code, reason string) *Error {
	return &Error{Kind: Forbidden, Code: code, Reason: reason}
}

func unavailable(code, reason string, err error) *Error {
	return &Error{Kind: Unavailable, Code: code, Reason: reason, Err: err}
}
