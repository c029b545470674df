package symbols_test

import (
	"testing"
	"time"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

// BTF read from the dump's memory must be the vmlinux's .BTF.
func TestBTFFromDump(t *testing.T) {
	d := sysrqDump(t)
	ks, err := symbols.KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bd, err := symbols.BTFFromDump(ks, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BTF from dump read and parsed in %v", time.Since(start))
	bv, err := symbols.OpenBTF(corpus.Vmlinux(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range symbols.LayoutChecks {
		a, err1 := bd.MemberInfo(c.Typ, c.Path)
		b, err2 := bv.MemberInfo(c.Typ, c.Path)
		if err1 != nil || a != b {
			t.Errorf("%s.%s: dump BTF %+v %v, vmlinux BTF %+v %v", c.Typ, c.Path, a, err1, b, err2)
		}
	}
}
