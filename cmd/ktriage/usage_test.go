package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command a user runs shows examples in its help.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || c.Name() == "help" || c.HasParent() && c.Parent().Name() == "completion" || c.Name() == "completion" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples in its help", c.CommandPath())
		}
	}
	root := newRootCmd()
	root.InitDefaultCompletionCmd()
	walk(root)
}

// A command line naming a subcommand builds that one alone, under the name
// it was registered with; and it behaves as in the whole tree.
func TestRootBuiltForOneCommand(t *testing.T) {
	for _, c := range commands {
		root := newRootCmdFor([]string{c.name, "--help"})
		if subs := root.Commands(); len(subs) != 1 || subs[0].Name() != c.name {
			t.Errorf("%s: built %d commands, want that one alone", c.name, len(subs))
			continue
		}
		var out strings.Builder
		root.SetOut(&out)
		root.SetArgs([]string{c.name, "--help"})
		if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Usage:\n  ktriage "+c.name) {
			t.Errorf("%s --help: %v\n%s", c.name, err, out.String())
		}
	}
	if subs := newRootCmdFor([]string{"--deadline", "1s", "dmesg"}).Commands(); len(subs) != len(commands) {
		t.Errorf("a flag before the command: %d commands built, want all %d", len(subs), len(commands))
	}
}

// Shell completion scripts come from the binary itself.
func TestCompletionScripts(t *testing.T) {
	for sh, want := range map[string]string{"bash": "__start_ktriage", "zsh": "#compdef ktriage", "fish": "complete -c ktriage"} {
		out, _, err := runSplit(t, "completion", sh)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("completion %s: %v, output lacks %q", sh, err, want)
		}
	}
}

// --version names the module version, the commit and its date when the
// build recorded them, and the Go release.
func TestVersionFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "38506f96394d5ed24482e32ce53bddfe5dffdfe9"},
		{Key: "vcs.time", Value: "2026-12-07T02:59:22Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	got := formatVersion("", info, true)
	if got != "v1.4.0 (commit 38506f96394d with local changes, 2026-12-07T02:59:22Z, go1.26.8)" {
		t.Errorf("got %q", got)
	}
	if got := formatVersion("v2.0.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true); got != "v2.0.0 (go1.26.8)" {
		t.Errorf("linked version: %q", got)
	}
	out, _, err := runSplit(t, "--version")
	if err != nil || !strings.HasPrefix(out, "ktriage ") || strings.Contains(out, "dev\n") {
		t.Errorf("--version: %v %q", err, out)
	}
}

// rules init writes a rulebook that passes check; rules show prints a file
// that loads as it is (as a replacement of the built-in rule).
func TestRulesInitAndShowRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "team")
	if out, _, err := runSplit(t, "rules", "init", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	if out, _, err := runSplit(t, "rules", "check", dir); err != nil || !strings.Contains(out, "1 rule OK") {
		t.Fatalf("check of the initial file: %v\n%s", err, out)
	}
	if _, _, err := runSplit(t, "rules", "init", dir); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("init over an existing file: %v", err)
	}
	shown, _, err := runSplit(t, "rules", "show", "hung-task-frozen-filesystem")
	if err != nil {
		t.Fatal(err)
	}
	// As printed, and as the bare list a user may cut out of it.
	list := shown[strings.Index(shown, "  - id:"):]
	for name, text := range map[string]string{"shown.yaml": shown, "list.yaml": strings.ReplaceAll(list, "\n  ", "\n")[2:]} {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := runSplit(t, "rules", "check", d)
		if err != nil || !strings.Contains(out, "replaces the built-in rule") {
			t.Errorf("%s does not load: %v\n%s", name, err, out)
		}
	}
	if out, _, err := runSplit(t, "rules", "show", "--format", "json", "hung-task-frozen-filesystem"); err != nil || !strings.Contains(out, `"id": "hung-task-frozen-filesystem"`) {
		t.Errorf("show --format json: %v\n%.300s", err, out)
	}
	if _, _, err := runSplit(t, "rules", "show", "--format", "xml", "hung-task-frozen-filesystem"); err == nil {
		t.Error("show --format xml accepted")
	}
}
