package main

import (
	"io"
	"testing"

	"aidmall/adapters/registryfile"
	"aidmall/households"
)

// householdSheet decodes a household registry file as the import does.
func householdSheet(t testing.TB, r io.Reader) households.File {
	t.Helper()
	f, err := registryfile.Sheet(r, households.HouseholdSheet)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// csvFile decodes a catalogue CSV file as the import does.
func csvFile(t testing.TB, r io.Reader) households.File {
	t.Helper()
	f, err := registryfile.CSV(r)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
