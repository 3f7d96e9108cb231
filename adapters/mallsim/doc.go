// Package mallsim runs in-process simulators of both bank malls — the CCB mall
// (shared/specs/ccb-mall.md, version 1) and the ABC mall (shared/specs/abc-mall.md,
// version 2) — so that the demo and the end-to-end tests exercise the real adapters
// (adapters/ccb, adapters/abc) over real HTTP on 127.0.0.1 with no external service.
//
// It is the MALL side of both specs: it verifies the partner's signed requests (CCB RSA2
// envelope, ABC SM2/SM3 headers), checks timestamps and nonces, validates orders against
// the listings of a catalogue, creates orders idempotently, answers queries and cancels,
// and after a create has been answered it fulfils the order: either by replaying the
// order's events from a bundle's statements (a Script) or by the default script
// (accepted, every line shipped, every line delivered in full). Fulfilment events are
// notified, signed, to the notify URL given at create, one at a time per order and in
// order, retried on failure with the spec's schedule divided by a time scale; the events
// sent so far are served as each mall's daily statement.
//
// The signing helpers are the adapters' own (ccb.SigningString/Sign/Verify,
// abc.SigningString/Sign/Verify), so both sides use the same algorithms.
package mallsim
