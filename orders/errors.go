package orders

import (
	"errors"
	"fmt"
)

// What a Store answers when InsertOrder meets a number that is taken; both wrap
// ErrConflict, and create words them for the client.
var (
	ErrOrderRefTaken   = fmt.Errorf("order_ref taken: %w", ErrConflict)    // the branch already has the order_ref
	ErrOutOrderNoTaken = fmt.Errorf("out_order_no taken: %w", ErrConflict) // another order has the out_order_no
)

// Error is a domain error with a message for the client, kept apart from its internal
// cause (as in Ben Johnson's wtf.Error{Code, Message}). Kind is one of ErrNotFound,
// ErrConflict, ErrInvalid, ErrForbidden or ErrNotAllowed and decides the answer
// (errors.Is(err, ErrNotFound) holds); Message is written for the client and names no
// table, query or driver; Err, when set, is the cause — logged, never shown.
type Error struct {
	Kind    error
	Message string
	Err     error
}

// Errorf returns an *Error of kind whose client message is format with a.
func Errorf(kind error, format string, a ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, a...)}
}

// Error is the whole chain, for logs: kind, message and cause.
func (e *Error) Error() string {
	s := e.Message
	if e.Kind != nil {
		s = e.Kind.Error() + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is see both the kind and the cause.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// kinds are the domain's error kinds, in the order ErrorKind looks for them.
var kinds = []error{ErrInvalid, ErrForbidden, ErrNotFound, ErrConflict, ErrNotAllowed}

// ErrorKind returns the kind of err (ErrInvalid, ErrForbidden, ErrNotFound, ErrConflict or
// ErrNotAllowed; the outermost *Error's when there is one), or nil for a failure that is
// not the client's (a 500).
func ErrorKind(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		return e.Kind
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ErrInvalid
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// ErrorMessage returns what a client may read of err: the Message of the outermost *Error,
// "invalid fields" for a *ValidationError (its Fields say which), the bare kind's word
// ("not found") for an error of a kind with no message, and "internal error" otherwise.
// It never shows a wrap chain.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return "invalid fields"
	}
	if k := ErrorKind(err); k != nil {
		return k.Error()
	}
	return "internal error"
}
