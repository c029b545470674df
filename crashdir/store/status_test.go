package store

import (
	"encoding/json"
	"testing"
)

// A status is typed in Go and one string in JSON and in the store; rows
// stored by earlier builds (plain strings) read back to the same kinds.
func TestStatusRoundTrip(t *testing.T) {
	for _, s := range []Status{StatusOK, StatusIncomplete, StatusInterrupted,
		Failed("kdump header truncated: EOF"), LogOnly("no dump was saved beside the log")} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Status
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%v: JSON %s reads back as %+v (%v)", s, b, back, err)
		}
		if ParseStatus(s.String()) != s {
			t.Errorf("%v: ParseStatus(%q) = %+v", s, s.String(), ParseStatus(s.String()))
		}
	}
	if b, _ := json.Marshal(Failed("x")); string(b) != `"failed: x"` {
		t.Errorf("JSON form %s, want the plain string", b)
	}
	if s := ParseStatus("log-only: dump unreadable: bad"); s.Kind != KindLogOnly || s.Reason != "dump unreadable: bad" {
		t.Errorf("stored log-only row read as %+v", s)
	}
}

// jsonb refuses the \u0000 escape; the store writes U+FFFD in its place,
// and only for a real escape, not for an escaped backslash before "u0000".
func TestReplaceNULEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`{"comm":"a\u0000b"}`:   `{"comm":"a\ufffdb"}`,
		`{"path":"C:\\u0000"}`:  `{"path":"C:\\u0000"}`,
		`{"x":"\\\u0000"}`:      `{"x":"\\\ufffd"}`,
		`{"plain":"no escape"}`: `{"plain":"no escape"}`,
	} {
		if got := string(replaceNULEscapes([]byte(in))); got != want {
			t.Errorf("replaceNULEscapes(%s) = %s, want %s", in, got, want)
		}
	}
}
