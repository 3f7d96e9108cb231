package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
)

// TestImportOfOnlyBadRowsFails: an import that stores nothing because every row of its
// file is bad ends in an error (exit status 1), naming the file, so that a scheduled
// import can tell it from one that loaded the good rows and listed the bad (which
// succeeds). Each bad row is still listed on stdout.
func TestImportOfOnlyBadRowsFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	bundle := sqltest.ExampleBundle()

	// Order history into a database without the registry: no order's branch is known.
	out, err := cli(t, db, dir, "import", "orders", bundle)
	if err == nil || !strings.Contains(err.Error(), "no order loaded") || !strings.Contains(out, "unknown branch") {
		t.Fatalf("history with no order loadable: %v\n%s", err, out)
	}

	// A folder that is not there, or holds no orders.csv, is named.
	missing := filepath.Join(dir, "no-such-folder")
	if _, err := cli(t, db, dir, "import", "orders", missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("history from a folder that is not there: %v", err)
	}
	empty := t.TempDir()
	if _, err := cli(t, db, dir, "import", "orders", empty); err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "orders.csv") {
		t.Fatalf("history from a folder without orders.csv: %v", err)
	}

	// A households file whose every row is bad; then the bundle's, with 3 bad rows of
	// 630, succeeds.
	bad := filepath.Join(dir, "households.csv")
	if err := os.WriteFile(bad, []byte("户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,贫困户属性,脱贫年度,联系电话\n"+
		"X1,张三,123,0,宜川县,丹州街道,南关村,一般贫困户,2018,1\nX2,李四,456,13,宜川县,丹州街道,南关村,一般贫困户,2018,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, db, dir, "import", "households", bad); err == nil || !strings.Contains(err.Error(), "nothing imported") || !strings.Contains(out, "row 2") {
		t.Fatalf("households with every row bad: %v\n%s", err, out)
	}
	if out, err := cli(t, db, dir, "import", "bundle", bundle); err != nil || !strings.Contains(out, "3 row errors") {
		t.Fatalf("the bundle, 3 bad household rows of 630: %v\n%s", err, out)
	}

	// A statement whose every row is bad (the header is the mall's own).
	stmt := filepath.Join(dir, "statement-abc.jsonl")
	if err := os.WriteFile(stmt, []byte("{not json\n{\"also\": \"not an event\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, db, dir, "import", "statement", stmt); err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(out, "bad row") {
		t.Fatalf("statement with every row bad: %v\n%s", err, out)
	}

	// A mall's statement given another mall's --mall: the error says which mall its name
	// names and what to give, for a header that does not read and for rows that do not.
	for _, c := range []struct{ file, mall, named string }{
		{"statement-abc.jsonl", "ccb", "abc"},
		{"statement-ccb.csv", "abc", "ccb"},
	} {
		out, err := cli(t, db, dir, "import", "statement", filepath.Join(bundle, c.file), "--mall", c.mall)
		if want := "give --mall " + c.named; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with --mall %s: %v; want it to say %q", c.file, c.mall, err, want)
		}
		// Every row is bad: the first few are listed, the rest counted (not 679 lines), and
		// the error asks whether it is --mall's statement.
		if n := strings.Count(out, "bad row:"); n > allBadRowsListed {
			t.Errorf("%s with --mall %s: %d bad rows listed, want at most %d", c.file, c.mall, n, allBadRowsListed)
		}
		if c.mall == "abc" && (err == nil || !strings.Contains(err.Error(), "is it abc's statement?")) {
			t.Errorf("%s with --mall %s: %v; want it to ask whether the file is abc's statement", c.file, c.mall, err)
		}
	}
}

// TestImportOfAPathThatIsNotThere: an import given a path that is not there, or a file
// where it takes a folder (or the reverse), fails naming the import and the path, and
// leaves no new database behind.
func TestImportOfAPathThatIsNotThere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "new.db")
	missing := filepath.Join(dir, "no-such.csv")
	aFile := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(aFile, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "households", missing}, "import households: " + missing},
		{[]string{"import", "branches", dir}, "import branches takes a file: " + dir + " is a folder"},
		{[]string{"import", "linkages", missing}, "import linkages: " + missing},
		{[]string{"import", "statement", missing}, "import statement: " + missing},
		{[]string{"import", "bundle", aFile}, "import bundle takes a folder"},
		{[]string{"import", "orders", missing}, "import orders takes a folder"},
	} {
		_, err := cli(t, db, dir, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", strings.Join(c.args, " "), err, c.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%s left a new database %s behind", strings.Join(c.args, " "), db)
		}
	}
}

// A household number not in the registry is named in the error, so that a clerk sees
// which of the numbers typed was wrong.
func TestProvenanceOfAnUnknownHouseholdNamesIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	mustCLI(t, db, dir, "migrate")
	_, err := cli(t, db, dir, "household", "provenance", "610000000000000099", "--year", "2019")
	if err == nil || !strings.Contains(err.Error(), "household 610000000000000099: not found") {
		t.Fatalf("provenance of an unknown household: %v, want it named", err)
	}
}
