package unwind

import "testing"

// TestDerefCFA: the CFA expression 3.10's interrupt entry writes after it
// moves to the IRQ stack (CentOS 7.9's reboot_interrupt, from readelf
// --debug-frame: "DW_OP_breg7 (rsp): 0; DW_OP_deref; DW_OP_const1u: 136;
// DW_OP_plus"), its other spellings, and expressions it must refuse.
func TestDerefCFA(t *testing.T) {
	for _, c := range []struct {
		name     string
		expr     []byte
		reg      uint64
		off, add int64
		ok       bool
	}{
		{"el7 reboot_interrupt", []byte{0x77, 0x00, 0x06, 0x08, 0x88, 0x22}, dwarfRegRSP, 0, 136, true},
		{"const2u", []byte{0x77, 0x10, 0x06, 0x0a, 0x00, 0x01, 0x22}, dwarfRegRSP, 16, 256, true},
		{"plus_uconst", []byte{0x76, 0x78, 0x06, 0x23, 0x88, 0x01}, dwarfRegRBP, -8, 136, true},
		{"no deref", []byte{0x77, 0x00, 0x08, 0x88, 0x22}, 0, 0, 0, false},
		{"other register", []byte{0x70, 0x00, 0x06, 0x08, 0x88, 0x22}, 0, 0, 0, false},
		{"trailing op", []byte{0x77, 0x00, 0x06, 0x08, 0x88, 0x22, 0x06}, 0, 0, 0, false},
		{"truncated", []byte{0x77}, 0, 0, 0, false},
		{"empty", nil, 0, 0, 0, false},
	} {
		reg, off, add, ok := derefCFA(c.expr)
		if ok != c.ok || ok && (reg != c.reg || off != c.off || add != c.add) {
			t.Errorf("%s: got reg %d off %d add %d ok %v, want reg %d off %d add %d ok %v", c.name, reg, off, add, ok, c.reg, c.off, c.add, c.ok)
		}
	}
}
