// Command testsummary reads `go test -json` on standard input and prints
// what `go test` prints (a line per package, the output of failed tests),
// then one line that counts the skipped tests, grouped by why they skipped:
// `make test` must not hide that the corpus or a debug vmlinux was missing.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

var (
	// "    corpus_test.go:15: " — where the skip was called.
	sitePrefix = regexp.MustCompile(`^\s*\S+\.go:\d+: `)
	pathLike   = regexp.MustCompile(`[^\s():,;]*/[^\s():,;]*`)
	number     = regexp.MustCompile(`\b\d+(\.\d+)?\b`)
)

// reason turns a skip message into its gist: paths and numbers masked, the
// wrapped error after the first ": " dropped.
func reason(msg string) string {
	msg = strings.TrimSpace(sitePrefix.ReplaceAllString(msg, ""))
	msg = pathLike.ReplaceAllString(msg, "…")
	msg = number.ReplaceAllString(msg, "N")
	if i := strings.Index(msg, ": "); i > 20 {
		msg = msg[:i]
	}
	if len(msg) > 110 {
		msg = msg[:110] + "…"
	}
	return msg
}

func summarize(r io.Reader, w io.Writer) (failed bool, err error) {
	type key struct{ pkg, test string }
	outputs := map[key][]string{}
	skips := map[string]int{}
	total := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // build errors come as plain text
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package-level lines: "ok …", "FAIL pkg …", panics
				// outside a test; the bare PASS/FAIL verdicts repeat them.
				if e.Output != "PASS\n" && e.Output != "FAIL\n" {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			outputs[k] = append(outputs[k], e.Output)
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "skip":
			if e.Test != "" {
				total++
				msg := "no reason given"
				for i := len(outputs[k]) - 1; i >= 0; i-- {
					if l := outputs[k][i]; !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "=== ") && strings.TrimSpace(l) != "" {
						msg = reason(l)
						break
					}
				}
				skips[msg]++
			}
			delete(outputs, k)
		case "fail":
			if e.Test != "" {
				failed = true
				for _, l := range outputs[k] {
					fmt.Fprint(w, l)
				}
			} else {
				failed = true
			}
			delete(outputs, k)
		case "pass":
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	if total == 0 {
		fmt.Fprintln(w, "skipped: none")
		return failed, nil
	}
	type group struct {
		why string
		n   int
	}
	var groups []group
	for why, n := range skips {
		groups = append(groups, group{why, n})
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].n != groups[j].n {
			return groups[i].n > groups[j].n
		}
		return groups[i].why < groups[j].why
	})
	var parts []string
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%d: %s", g.n, g.why))
	}
	fmt.Fprintf(w, "skipped %d tests — %s\n", total, strings.Join(parts, "; "))
	return failed, nil
}
