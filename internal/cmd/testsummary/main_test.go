package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSkipsAreCountedByReason(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:12: corpus not found at ../../shared/corpus (shared/ must sit beside the repository): stat ../../shared: no such file\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:40: corpus not found at ../shared/corpus (shared/ must sit beside the repository): stat ../shared: no such file\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:9: no debug vmlinux for 6.1.0-56-cloud-amd64 (set KTRIAGE_VMLINUX)\n"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestD","Output":"    d_test.go:9: got 1, want 2\n"}
{"Action":"fail","Package":"p","Test":"TestD"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}
{"Action":"fail","Package":"p"}
`
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	got := out.String()
	for _, want := range []string{"got 1, want 2", "FAIL\tp", "skipped 3 tests — 2: corpus not found at … (… must sit beside the repository); 1: no debug vmlinux for ", "(set KTRIAGE_VMLINUX)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
