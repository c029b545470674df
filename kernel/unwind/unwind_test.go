package unwind

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// fakeMemory is a few words of kernel memory.
type fakeMemory map[uint64]uint64

func (m fakeMemory) ReadVirt(p []byte, addr uint64) error {
	for i := 0; i < len(p); i += 8 {
		v, ok := m[addr+uint64(i)]
		if !ok || len(p)-i < 8 {
			return fmt.Errorf("%#x not mapped", addr+uint64(i))
		}
		binary.LittleEndian.PutUint64(p[i:], v)
	}
	return nil
}

// fakeSymbols are functions laid out back to back from 0xffffffff81000000,
// 0x100 bytes each.
type fakeSymbols []string

const fakeText = 0xffffffff81000000

func (s fakeSymbols) FuncAt(addr uint64) (Func, bool) {
	i := (addr - fakeText) / 0x100
	if addr < fakeText || i >= uint64(len(s)) {
		return Func{}, false
	}
	return Func{Name: s[i], Offset: (addr - fakeText) % 0x100, Size: 0x100}, true
}

type tableORC struct{ *ORCTable }

func (tableORC) Absent() bool { return false }

// An Unwinder built from nothing but a memory reader, symbols and an ORC
// table walks a stack of two ordinary frames to its end-of-stack entry,
// naming each frame and how its caller was found.
func TestWalkThroughSources(t *testing.T) {
	syms := fakeSymbols{"a", "b", "start"}
	call := orcBytes(8, 0, byte(orcRegSP), 0)
	end := orcBytes(0, 0, 0, 1<<2)
	const base = 0xffffffff82000000
	ipRaw, ents := orcTableBytes(base, []uint64{fakeText, fakeText + 0x100, fakeText + 0x200, fakeText + 0x300},
		[][]byte{call, call, end, end})
	tab, err := ParseORCTable(ipRaw, base, ents, ORCLayout61)
	if err != nil {
		t.Fatal(err)
	}
	const sp = 0xffffc90000003f00
	mem := fakeMemory{sp: fakeText + 0x120, sp + 8: fakeText + 0x210}
	u := New(Config{Memory: mem, Symbols: syms, ORC: tableORC{tab}})
	stacks := Stacks{{Name: "task", Lo: 0xffffc90000000000, Hi: 0xffffc90000004000}}
	frames, err := u.Walk(Start{PC: fakeText + 0x10, SP: sp, Slot: sp - 8, Exact: true}, stacks)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range frames {
		got = append(got, fmt.Sprintf("%s@%#x/%s/%s", f.Name(), f.SP, f.Via, f.Stack))
	}
	want := []string{"a+16@0xffffc90000003ef8/orc/task", "b+32@0xffffc90000003f00/orc/task", "start+16@0xffffc90000003f08//task"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	// The same walk with the return address gone stops with an error and
	// the frames up to there.
	delete(mem, sp+8)
	frames, err = u.Walk(Start{PC: fakeText + 0x10, SP: sp, Slot: sp - 8, Exact: true}, stacks)
	if err == nil || len(frames) != 2 {
		t.Errorf("unreadable return address: %d frames, error %v", len(frames), err)
	}
}
