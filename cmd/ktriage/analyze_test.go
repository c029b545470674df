package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpusDumps(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "dumps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not found at %s (shared/ must sit beside the repository): %v", dir, err)
	}
	return dir
}

type analyzeJSON struct {
	Title  string `json:"title"`
	Source struct {
		Kind string `json:"kind"`
	} `json:"source"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Title    string `json:"title"`
	} `json:"findings"`
	Warnings []string `json:"warnings"`
}

func analyzeToJSON(t *testing.T, path string) analyzeJSON {
	t.Helper()
	out, _, err := runSplit(t, "analyze", "--format", "json", path)
	if err != nil {
		t.Fatalf("analyze %s: %v\n%s", path, err, out)
	}
	var doc analyzeJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("analyze %s: %v\n%s", path, err, out)
	}
	if len(doc.Findings) == 0 {
		t.Fatalf("analyze %s: no findings", path)
	}
	return doc
}

// The corpus dumps' directories: the vmcore when a dump loader is
// registered, else the text log beside it (with a warning saying so).
func TestAnalyzeCorpusDirectories(t *testing.T) {
	dir := corpusDumps(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		doc := analyzeToJSON(t, filepath.Join(dir, e.Name()))
		top := doc.Findings[0]
		switch {
		case strings.HasPrefix(e.Name(), "hung"):
			if top.ID != "hung-task-frozen-filesystem" {
				t.Errorf("%s: top finding %s, want the frozen filesystem", e.Name(), top.ID)
			}
			// From the vmcore itself the super block says which mount is frozen.
			if doc.Source.Kind == "vmcore" && !strings.Contains(top.Title, "/data1") {
				t.Errorf("%s: the frozen mount is not named: %q", e.Name(), top.Title)
			}
		case strings.HasPrefix(e.Name(), "sysrq"):
			if top.ID != "sysrq-triggered-crash" || top.Severity != "info" {
				t.Errorf("%s: top finding %s/%s, want operator-initiated sysrq", e.Name(), top.ID, top.Severity)
			}
		}
	}
	if n == 0 {
		t.Fatal("no dump directories in the corpus")
	}
}

func TestAnalyzeWritesHTMLFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "kern.log")
	text := "[  1.000000] evil: <script>alert(1)</script>\n[  8.264157] sysrq: Trigger a crash\n[  8.264692] Kernel panic - not syncing: sysrq triggered crash\n"
	if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(t.TempDir(), "report.html")
	if out, err := runKtriage(t, "analyze", "--format", "html", "-o", html, log); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "<script>") || !strings.Contains(string(page), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the <script> log line is not shown as escaped text")
	}
	if !strings.Contains(string(page), "Crash triggered on purpose with SysRq-c") {
		t.Error("the verdict is missing")
	}
}

func TestAnalyzeRejectsUnknownFormat(t *testing.T) {
	if _, err := runKtriage(t, "analyze", "--format", "pdf", "x.log"); err == nil || !strings.Contains(err.Error(), "unknown --format") {
		t.Errorf("err = %v", err)
	}
}
