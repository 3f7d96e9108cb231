// Package securitycheck holds checks of the repository's security tooling that are not
// any one package's: the review of gosec's exclusions (.ci/gosec.json), run by .ci/run.
package securitycheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exclusion is one entry of .ci/gosec.json's exclude-rules: gosec reads path and rules;
// rule, file and why are the review, kept beside them.
type exclusion struct {
	Rule  string   `json:"rule"`
	File  string   `json:"file"`
	Why   string   `json:"why"`
	Path  string   `json:"path"`
	Rules []string `json:"rules"`
}

var ruleID = regexp.MustCompile(`^G[0-9]{3}$`)

// checkExclusions returns what is wrong with the exclusions of a gosec configuration:
// each must name one rule, one file of the repository (root) and say why in a sentence,
// and its gosec terms must exclude exactly that rule in exactly that file — no wildcard
// rule, no pattern that could match another file, no repeat.
func checkExclusions(root string, conf []byte) []string {
	var doc struct {
		Exclusions []exclusion `json:"exclude-rules"`
	}
	if err := json.Unmarshal(conf, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var bad []string
	seen := map[string]bool{}
	for i, e := range doc.Exclusions {
		at := fmt.Sprintf("exclude-rules[%d] (%s %s)", i, e.Rule, e.File)
		if !ruleID.MatchString(e.Rule) {
			bad = append(bad, at+": rule is not a gosec rule id like G104")
		}
		if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(e.File))); e.File == "" || err != nil || st.IsDir() {
			bad = append(bad, at+": file is not a file of the repository")
		}
		if len(strings.Fields(e.Why)) < 6 {
			bad = append(bad, at+": why does not explain (a sentence, at least six words)")
		}
		if want := "/" + regexp.QuoteMeta(e.File) + "$"; e.Path != want {
			bad = append(bad, fmt.Sprintf("%s: path %q, want %q (exactly this file)", at, e.Path, want))
		}
		if len(e.Rules) != 1 || e.Rules[0] != e.Rule {
			bad = append(bad, fmt.Sprintf("%s: rules %q, want [%q]", at, e.Rules, e.Rule))
		}
		if seen[e.Rule+" "+e.File] {
			bad = append(bad, at+": repeated")
		}
		seen[e.Rule+" "+e.File] = true
	}
	return bad
}

func TestGosecExclusionsAreReviewed(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	conf, err := os.ReadFile(filepath.Join(root, ".ci", "gosec.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range checkExclusions(root, conf) {
		t.Error(b)
	}
}

// The check refuses what a careless exclusion looks like.
func TestCheckExclusions_refusesUnexplainedOrBroadEntries(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	good := exclusion{Rule: "G104", File: "reports/render.go", Why: "csv.Writer errors are sticky and checked after Flush.",
		Path: `/reports/render\.go$`, Rules: []string{"G104"}}
	tests := []struct {
		name   string
		change func(e *exclusion)
		want   string
	}{
		{"no_why", func(e *exclusion) { e.Why = "" }, "why"},
		{"a_shrug_for_a_why", func(e *exclusion) { e.Why = "false positive" }, "why"},
		{"every_rule", func(e *exclusion) { e.Rules = []string{"*"} }, "rules"},
		{"a_folder_pattern", func(e *exclusion) { e.Path = `/reports/.*` }, "path"},
		{"a_file_that_is_gone", func(e *exclusion) { e.File, e.Path = "reports/gone.go", `/reports/gone\.go$` }, "file"},
		{"not_a_rule", func(e *exclusion) { e.Rule, e.Rules = "errcheck", []string{"errcheck"} }, "rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := good
			tt.change(&e)
			conf, _ := json.Marshal(map[string]any{"exclude-rules": []exclusion{e}})
			bad := checkExclusions(root, conf)
			if len(bad) == 0 || !strings.Contains(strings.Join(bad, "\n"), tt.want) {
				t.Errorf("%+v: %q, want a complaint about %s", e, bad, tt.want)
			}
		})
	}
	conf, _ := json.Marshal(map[string]any{"exclude-rules": []exclusion{good, good}})
	if bad := checkExclusions(root, conf); len(bad) != 1 || !strings.Contains(bad[0], "repeated") {
		t.Errorf("a repeated entry: %q", bad)
	}
	conf, _ = json.Marshal(map[string]any{"exclude-rules": []exclusion{good}})
	if bad := checkExclusions(root, conf); len(bad) != 0 {
		t.Errorf("a good entry refused: %q", bad)
	}
}
