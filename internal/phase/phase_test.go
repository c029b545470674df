package phase

import (
	"bytes"
	"strings"
	"testing"
)

func TestPhasesAddUpByName(t *testing.T) {
	r := New()
	var counter int64
	r.Record("open", 0, 100)
	r.CountBytes(func() int64 { return counter })
	for i := 0; i < 3; i++ {
		end := r.Start("stack")
		counter += 10
		end()
	}
	end := r.Start("render")
	end()
	got := r.Phases()
	if len(got) != 3 || got[0].Name != "open" || got[1].Name != "stack" || got[2].Name != "render" {
		t.Fatalf("phases %+v, want open, stack, render in first-run order", got)
	}
	if got[1].Count != 3 || got[1].Bytes != 30 {
		t.Errorf("stack: count %d bytes %d, want 3 and 30", got[1].Count, got[1].Bytes)
	}
	if got[0].Bytes != 100 || got[2].Bytes != 0 {
		t.Errorf("open %d bytes, render %d bytes; want 100 and 0", got[0].Bytes, got[2].Bytes)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"phase", "stack", "total"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPhaseBeforeTheCounterCountsNoBytes(t *testing.T) {
	r := New()
	end := r.Start("open")
	r.CountBytes(func() int64 { return 5 })
	end()
	if b := r.Phases()[0].Bytes; b != -1 {
		t.Errorf("bytes %d, want -1 (unknown)", b)
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	r.Start("x")()
	r.Record("y", 1, 1)
	r.CountBytes(nil)
	if r.Phases() != nil || r.Write(&bytes.Buffer{}) != nil {
		t.Error("a nil recorder recorded something")
	}
}
