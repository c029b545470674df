//go:build man

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// gen-man writes a page for the root and for every command a user can run,
// though the run that writes them builds only gen-man itself
// (newRootCmdFor). `make test` runs this with -tags man.
func TestGenManWritesEveryCommand(t *testing.T) {
	dir := t.TempDir()
	root := newRootCmdFor([]string{"gen-man", dir})
	root.SetArgs([]string{"gen-man", dir})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	var want []string
	for _, c := range newRootCmd().Commands() {
		if c.IsAvailableCommand() {
			want = append(want, "ktriage-"+c.Name()+".1")
		}
	}
	for _, w := range append(want, "ktriage.1") {
		if _, err := os.Stat(filepath.Join(dir, w)); err != nil {
			t.Errorf("no page %s (%d pages written)", w, len(pages))
		}
	}
}
