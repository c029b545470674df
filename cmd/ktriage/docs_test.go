package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every rule shown in docs/rules.md loads and passes `rules check` as it is
// written there.
func TestDocsRulesExamplesLoad(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "rules.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 9 {
		t.Fatalf("docs/rules.md holds %d YAML examples; want one per kind of match and more", len(blocks))
	}
	for i, b := range blocks {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("example%d.yaml", i)), []byte(b[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := runSplit(t, "rules", "check", dir)
		if err != nil || !strings.Contains(out, "OK") {
			t.Errorf("example %d of docs/rules.md does not pass check: %v\n%s\n%s", i+1, err, out, b[1])
		}
	}
}
