package symbols

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// realBTFs are the BTF blobs this repository carries: the debuginfo packs'
// (pahole's encoding of 3.10 and 5.4 DWARF) and what the 6.1 and 6.12
// fixtures hold of their kernels' own .BTF.
func realBTFs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	packs, _ := filepath.Glob(filepath.Join(repoRoot(), "testdata", "*", "*.pack"))
	for _, p := range packs {
		z, err := zip.OpenReader(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := z.Open(packBTF)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		raw, err := io.ReadAll(f)
		z.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = raw
	}
	if FixtureDump != nil {
		for _, d := range []string{"dumps/hung-kdump-zstd.vmcore", "dumps-6.12/oops-null-qemu-kdump-zlib.vmcore"} {
			syms, mem := FixtureDump(t, filepath.Join(repoRoot(), "testdata", d))
			ks, err := KallsymsFromDump(syms, mem)
			if err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			b, err := btfFromDump(ks.Lookup, mem)
			if err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			out[d] = b.raw
		}
	}
	if len(out) < 2 {
		t.Fatalf("found %d BTF blobs in testdata", len(out))
	}
	return out
}

// TestBTFDecoderAgreesWithCilium reads every type of every real BTF blob
// with our decoder and with cilium/ebpf's (a well-used one, kept as the
// oracle in tests): kind, size, name, members with their offsets, bitfield
// widths and types, element types and array lengths must all agree.
func TestBTFDecoderAgreesWithCilium(t *testing.T) {
	for name, raw := range realBTFs(t) {
		t.Run(name, func(t *testing.T) {
			ours, err := parseBTF(raw)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			id := func(typ btf.Type) uint32 {
				i, err := spec.TypeID(typ)
				if err != nil {
					t.Fatalf("cilium has no id for %v: %v", typ, err)
				}
				return uint32(i)
			}
			n, members, bitfields := 0, 0, 0
			for typ, err := range spec.All() {
				if err != nil {
					t.Fatal(err)
				}
				n++
				want := typ
				r := btfRef{ours, id(typ)}
				if got, exp := r.kind(), ciliumKind(want); got != exp {
					t.Fatalf("type %d (%v): kind %v, cilium %v", r.id, want, got, exp)
				}
				if got, exp := r.size(), ciliumSize(want); got != exp {
					t.Fatalf("type %d (%v): size %d, cilium %d", r.id, want, got, exp)
				}
				if nm := want.TypeName(); nm != "" {
					if h, _ := ours.header(r.id); ours.name(h.nameOff) != nm {
						t.Fatalf("type %d: name %q, cilium %q", r.id, ours.name(h.nameOff), nm)
					}
				}
				var ms []btf.Member
				switch u := btf.UnderlyingType(want).(type) {
				case *btf.Struct:
					ms = u.Members
				case *btf.Union:
					ms = u.Members
				case *btf.Pointer:
					if e, _ := r.elem(); e.(btfRef).id != id(u.Target) {
						t.Fatalf("type %d: pointee %d, cilium %d", r.id, e.(btfRef).id, id(u.Target))
					}
				case *btf.Array:
					if e, n := r.elem(); e.(btfRef).id != id(u.Type) || n != uint64(u.Nelems) {
						t.Fatalf("type %d: element %d[%d], cilium %d[%d]", r.id, e.(btfRef).id, n, id(u.Type), u.Nelems)
					}
				}
				fs := r.fields()
				if len(fs) != len(ms) {
					t.Fatalf("type %d (%v): %d members, cilium %d", r.id, want, len(fs), len(ms))
				}
				for i, m := range ms {
					f := fs[i]
					if f.name != m.Name || f.bitOff != uint64(m.Offset) || f.bitSize != uint64(m.BitfieldSize) || f.typ.(btfRef).id != id(m.Type) {
						t.Fatalf("type %d member %d: {%q bit %d width %d type %d}, cilium {%q bit %d width %d type %d}",
							r.id, i, f.name, f.bitOff, f.bitSize, f.typ.(btfRef).id, m.Name, m.Offset, m.BitfieldSize, id(m.Type))
					}
					members++
					if f.bitSize != 0 {
						bitfields++
					}
				}
			}
			if n != len(ours.offsets) { // both count void
				t.Fatalf("%d types, cilium %d", len(ours.offsets), n)
			}
			t.Logf("%d types, %d members (%d bitfields) agree", n, members, bitfields)
		})
	}
}

func ciliumKind(t btf.Type) Kind {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return KindInt
	case *btf.Float:
		return KindFloat
	case *btf.Pointer:
		return KindPointer
	case *btf.Array:
		return KindArray
	case *btf.Struct:
		return KindStruct
	case *btf.Union:
		return KindUnion
	case *btf.Enum:
		return KindEnum
	case *btf.FuncProto, *btf.Func:
		return KindFunc
	case *btf.Void:
		return KindVoid
	case *btf.Fwd:
		if u.Kind == btf.FwdUnion {
			return KindUnion
		}
		return KindStruct
	}
	return KindOther
}

func ciliumSize(t btf.Type) uint64 {
	switch btf.UnderlyingType(t).(type) {
	case *btf.Void, *btf.FuncProto, *btf.Func, *btf.Fwd:
		return 0
	}
	n, err := btf.Sizeof(t)
	if err != nil || n < 0 {
		return 0
	}
	return uint64(n)
}

// TestBTFNamedLookups asks the 6.1 fixture's BTF for what a triage asks.
func TestBTFNamedLookups(t *testing.T) {
	if FixtureDump == nil {
		t.Skip("package symbols_test sets FixtureDump")
	}
	raw := realBTFs(t)["dumps/hung-kdump-zstd.vmcore"]
	b, err := ParseBTF(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		kind Kind
		size uint64
	}{
		{"task_struct", KindStruct, 9728}, {"struct rq", KindStruct, 0}, {"pid_t", KindInt, 4},
		{"atomic_long_t", KindStruct, 8}, {"long unsigned int", KindInt, 8}, {"struct list_head", KindStruct, 16},
	} {
		ti, err := b.TypeInfo(c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ti.Kind != c.kind || (c.size != 0 && ti.Size != c.size) {
			t.Errorf("%s: %+v, want kind %v size %d", c.name, ti, c.kind, c.size)
		}
	}
	if _, err := b.TypeInfo("struct no_such_struct_here"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing struct: %v, want ErrNotFound", err)
	}
	if ti, off, err := b.PerCPUVar("runqueues"); err != nil || ti.Name != "struct rq" || off == 0 {
		t.Errorf("runqueues: %+v at %#x, %v", ti, off, err)
	}
	if m, err := b.MemberInfo("task_struct", "thread.sp"); err != nil || m.Type.Kind != KindInt {
		t.Errorf("task_struct.thread.sp: %+v, %v", m, err)
	}
}

// FuzzParseBTF feeds the decoder made-up blobs: parsing may fail, but every
// question about every type must be answered without a panic or a hang
// (type chains that loop, ids out of range, sections out of bounds).
func FuzzParseBTF(f *testing.F) {
	f.Add(tinyBTF())
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := parseBTF(raw)
		if err != nil {
			return
		}
		for id := range uint32(len(b.offsets)) + 2 {
			r := btfRef{b, id}
			_, _, _ = r.cname(), r.kind(), r.size()
			for _, fl := range r.fields() {
				_ = fl.typ.cname()
			}
			if e, _ := r.elem(); e != nil {
				_ = e.kind()
			}
		}
		bt := &BTF{dec: b}
		bt.layoutOf.find = bt.lookupStruct
		_, _ = bt.TypeInfo("s")
		_, _, _ = bt.PerCPUVar("v")
		_, _ = bt.MemberInfo("s", "a.b")
	})
}

// tinyBTF is a small blob in the kernel's encoding: int, a struct s with
// a bitfield and a pointer to itself, a typedef of it, a per-CPU section.
func tinyBTF() []byte {
	le := binary.LittleEndian
	strs := []byte("\x00int\x00s\x00a\x00b\x00s_t\x00v\x00.data..percpu\x00")
	var types []byte
	typ := func(name, kind, vlen uint32, flag bool, sizeOrType uint32, extra ...uint32) {
		info := kind<<24 | vlen
		if flag {
			info |= 1 << 31
		}
		types = le.AppendUint32(types, name)
		types = le.AppendUint32(types, info)
		types = le.AppendUint32(types, sizeOrType)
		for _, e := range extra {
			types = le.AppendUint32(types, e)
		}
	}
	typ(1, btfInt, 0, false, 4, 1<<24|32)                   // 1: int
	typ(5, btfStruct, 2, true, 16, 7, 1, 3<<24|0, 9, 3, 64) // 2: struct s {int a:3; struct s *b;}
	typ(0, btfPtr, 0, false, 2)                             // 3: struct s *
	typ(11, btfTypedef, 0, false, 2)                        // 4: s_t
	typ(15, btfVar, 0, false, 2, 1)                         // 5: v
	typ(17, btfDatasec, 1, false, 16, 5, 0, 16)             // 6: .data..percpu
	out := le.AppendUint16(nil, btfMagic)
	out = append(out, 1, 0)
	for _, v := range []uint32{btfHeaderLen, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
		out = le.AppendUint32(out, v)
	}
	return append(append(out, types...), strs...)
}
