package main

import (
	"io"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/imports"
	"aidmall/malls"
	"aidmall/orders"
)

// statementScanner reads mall m's statement files for aidmall import statement: CCB's
// and ABC's as streams of any size (ScanStatement), another mall's through its driver's
// ParseStatement (the file held whole).
func statementScanner(m orders.Mall, d malls.Driver) imports.StatementScanner {
	switch m {
	case ccb.Code:
		return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
			return ccb.ScanStatement(r, each, func(e malls.RowError) { bad(e) })
		}
	case abc.Code:
		return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
			return abc.ScanStatement(r, each, func(e malls.RowError) { bad(e) })
		}
	}
	return imports.StatementParser(d.ParseStatement).Scanner()
}
