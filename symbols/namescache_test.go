package symbols

import "testing"

// A table moved to another KASLR offset answers as one built there: image
// symbols move, per-CPU and other non-image symbols stay.
func TestMovedTableAnswersAsOneBuiltThere(t *testing.T) {
	syms := []Sym{
		{Name: "fixed_percpu_data", Addr: 0x0, Type: 'D'},
		{Name: "runqueues", Addr: 0x2f800, Type: 'D'},
		{Name: "_stext", Addr: 0xffffffff81000000, Type: 'T'},
		{Name: "schedule", Addr: 0xffffffff81a00000, Type: 'T'},
		{Name: "_end", Addr: 0xffffffff83000000, Type: 'B'},
		{Name: "vsyscall", Addr: 0xffffffffff600000, Type: 'A'},
	}
	back := uint64(0x800000)
	for _, delta := range []uint64{0x2000000, -back} {
		base := NewTable(syms, 0x10000000)
		moved := base.movedBy(delta)
		want := NewTable(syms, 0x10000000+delta)
		for _, s := range syms {
			w, _ := want.Lookup(s.Name)
			if g, ok := moved.Lookup(s.Name); !ok || g != w {
				t.Errorf("delta %#x: Lookup(%s) = %#x, want %#x", delta, s.Name, g, w)
			}
			for _, off := range []uint64{0, 5} {
				wn, wo, _, wok := want.Symbolize(w + off)
				gn, goff, _, gok := moved.Symbolize(w + off)
				if wn != gn || wo != goff || wok != gok {
					t.Errorf("delta %#x: Symbolize(%#x) = %s+%d %v, want %s+%d %v", delta, w+off, gn, goff, gok, wn, wo, wok)
				}
			}
		}
		if moved.Slide() != want.Slide() {
			t.Errorf("delta %#x: slide %#x, want %#x", delta, moved.Slide(), want.Slide())
		}
	}
}
