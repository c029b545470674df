package kernel

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// dumpDmesg opens a dump and renders its log as ktriage dmesg prints it.
func dumpDmesg(tb testing.TB, files ...string) []byte {
	tb.Helper()
	d, err := vmcore.Open(files...)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	o, err := Open(d, OpenOptions{LogOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	recs, err := o.Log, o.LogErr
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(dmesgOf(tb, recs))
}

// sameLog fails the test at the first line where got and want differ.
func sameLog(t *testing.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("log differs in length: got %d lines, want %d", len(gl), len(wl))
}
