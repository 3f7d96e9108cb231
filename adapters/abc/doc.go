// Package abc is the adapter for the Agricultural Bank of China poverty-alleviation mall
// (农业银行扶贫商城) partner API, version 2, exactly as shared/specs/abc-mall.md fixes
// it: JSON over REST, SM2/SM3 signatures (GM/T 0003, GM/T 0004) on requests, responses and
// notifications, amounts in integer fen, X-Abc-Timestamp in Unix milliseconds and body
// times in RFC 3339.
//
// Client implements orders.MallClient (create, query, cancel), acknowledges notifications
// and fetches daily statements; Verifier checks and parses notifications; ParseStatement
// reads a statement (JSON Lines). The signing helpers (SigningString, Sign, Verify) are
// shared with the mall side (adapters/mallsim).
package abc
