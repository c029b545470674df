package symbols

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Member paths whose layout BTF and DWARF must report identically.
var layoutChecks = []struct{ Typ, Path string }{
	{"task_struct", "tasks"}, {"task_struct", "pid"}, {"task_struct", "tgid"}, {"task_struct", "comm"},
	{"task_struct", "__state"}, {"task_struct", "stack"}, {"task_struct", "thread.sp"}, {"task_struct", "se.exec_start"},
	{"task_struct", "on_cpu"}, {"task_struct", "sched_info.last_arrival"}, {"task_struct", "sched_reset_on_fork"},
	{"task_struct", "thread_info.flags"}, {"task_struct", "thread_info.cpu"}, {"task_struct", "mm"}, {"task_struct", "parent"},
	{"task_struct", "real_parent"}, {"task_struct", "signal"}, {"task_struct", "last_switch_time"}, {"task_struct", "comm[3]"},
	{"rq", "curr"}, {"rq", "cpu"}, {"rq", "clock"}, {"rq", "nr_running"}, {"rq", "idle"},
	{"printk_ringbuffer", "desc_ring"}, {"printk_ringbuffer", "text_data_ring"}, {"printk_ringbuffer", "fail"},
	{"printk_ringbuffer", "desc_ring.count_bits"}, {"printk_ringbuffer", "text_data_ring.data"},
	{"printk_info", "seq"}, {"printk_info", "ts_nsec"}, {"printk_info", "text_len"}, {"printk_info", "facility"},
	{"printk_info", "flags"}, {"printk_info", "level"}, {"printk_info", "caller_id"}, {"printk_info", "dev_info.subsystem"},
	{"list_head", "next"}, {"list_head", "prev"}, {"module", "list"}, {"module", "name"}, {"module", "kallsyms"},
	{"module", "core_layout.base"}, {"module", "core_layout.size"}, {"mod_kallsyms", "symtab"}, {"mod_kallsyms", "num_symtab"},
	{"mod_kallsyms", "strtab"}, {"uts_namespace", "name.release"}, {"new_utsname", "nodename"}, {"atomic_long_t", "counter"},
	{"pglist_data", "node_present_pages"}, {"orc_entry", "sp_reg"}, {"orc_entry", "type"}, {"orc_entry", "end"},
}

func TestBTFAndDWARFAgree(t *testing.T) {
	path := vmlinuxPath(t)
	dw := openTestDWARF(t, DWARFOptions{CacheDir: t.TempDir()})
	bt, err := OpenBTF(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"task_struct", "rq", "printk_ringbuffer", "printk_info", "module", "struct list_head", "atomic_long_t"} {
		a, err1 := dw.StructSize(name)
		b, err2 := bt.StructSize(name)
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("sizeof(%s): DWARF %d %v, BTF %d %v", name, a, err1, b, err2)
		}
	}
	for _, c := range layoutChecks {
		a, err1 := dw.MemberInfo(c.Typ, c.Path)
		b, err2 := bt.MemberInfo(c.Typ, c.Path)
		if err1 != nil || err2 != nil {
			t.Errorf("%s.%s: DWARF err %v, BTF err %v", c.Typ, c.Path, err1, err2)
			continue
		}
		if a != b {
			t.Errorf("%s.%s:\n DWARF %+v\n BTF   %+v", c.Typ, c.Path, a, b)
		}
	}
	m, _ := dw.MemberInfo("task_struct", "comm")
	if m.Offset != 2976 || m.Type.Name != "char[16]" || m.Type.Kind != KindArray || m.Type.ArrayLen != 16 {
		t.Errorf("task_struct.comm = %+v", m)
	}
	m, _ = bt.MemberInfo("printk_info", "level")
	if !m.IsBitfield() || m.BitOffset != 157 || m.BitSize != 3 || m.Offset != 19 {
		t.Errorf("printk_info.level = %+v, want bits 157..159", m)
	}
	m, _ = dw.MemberInfo("task_struct", "sched_reset_on_fork")
	if m.BitOffset != 18720 || m.BitSize != 1 {
		t.Errorf("task_struct.sched_reset_on_fork = %+v, want bit 18720", m)
	}
	for _, typ := range []Types{dw, bt} {
		if typ.HasMember("task_struct", "state") {
			t.Errorf("%T: task_struct.state should be absent in 6.1", typ)
		}
		if _, err := typ.MemberOffset("task_struct", "state"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%T: absent member error %v does not wrap ErrNotFound", typ, err)
		}
		if _, err := typ.StructSize("no_such_struct"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%T: absent struct error %v does not wrap ErrNotFound", typ, err)
		}
	}
	for _, expr := range []string{"struct printk_ringbuffer *", "long unsigned int[3]", "atomic_long_t", "struct pglist_data *[]", "u64"} {
		a, err1 := dw.TypeInfo(expr)
		b, err2 := bt.TypeInfo(expr)
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("TypeInfo(%q): DWARF %+v %v, BTF %+v %v", expr, a, err1, b, err2)
		}
	}
	// BTF has only per-CPU globals; both must agree on runqueues.
	ti, off, err := bt.PerCPUVar("runqueues")
	if err != nil || off != 0x31980 || ti.Name != "struct rq" {
		t.Errorf("BTF per-CPU runqueues = %+v %#x %v", ti, off, err)
	}
}

// The index grows only as far as lookups need, the cache keeps that prefix,
// the next open resumes from it, and a complete cache equals a fresh walk.
func TestDWARFIndexCache(t *testing.T) {
	dir := t.TempDir()
	path := indexCachePath(dir, corpusBuildID)
	first := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if first.Stats().FromCache {
		t.Fatal("first open claims a cache hit in an empty directory")
	}
	// struct mount lives in fs/mount.h: only fs/ units define it, a third
	// of the way into .debug_info.
	if _, err := first.MemberOffset("mount", "mnt_mountpoint"); err != nil {
		t.Fatal(err)
	}
	partial := first.Stats()
	if partial.Walked == 0 || partial.Walked >= partial.Units {
		t.Fatalf("a lookup of struct mount walked %d of %d units; want a proper prefix", partial.Walked, partial.Units)
	}
	first.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("index cache not written: %v", err)
	}
	second := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if st := second.Stats(); !st.FromCache || st.Walked != partial.Walked {
		t.Fatalf("second open: from cache %v, %d units indexed; want the first run's %d", st.FromCache, st.Walked, partial.Walked)
	}
	if err := second.IndexAll(); err != nil {
		t.Fatal(err)
	}
	second.Close()
	third := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	fi, _ := os.Stat(path)
	st := third.Stats()
	if !st.FromCache || st.Walked != st.Units {
		t.Fatalf("third open: from cache %v, %d of %d units", st.FromCache, st.Walked, st.Units)
	}
	t.Logf("cold prefix for struct mount: %d/%d units; complete cache %d KiB loaded in %v", partial.Walked, partial.Units, fi.Size()/1024, st.Elapsed)
	fresh := openTestDWARF(t, DWARFOptions{NoCache: true})
	if err := fresh.IndexAll(); err != nil {
		t.Fatal(err)
	}
	compareIndexes(t, third.idx, fresh.idx)
	if !slices.Equal(third.idx.units, fresh.idx.units) || len(fresh.idx.units) == 0 {
		t.Errorf("cached unit bounds (%d) differ from the walked ones (%d)", len(third.idx.units), len(fresh.idx.units))
	}
	if off, err := third.MemberOffset("task_struct", "thread.sp"); err != nil || off != 5336 {
		t.Errorf("types through the cached index: thread.sp = %d %v", off, err)
	}
	// A damaged cache is ignored and rebuilt, never trusted.
	raw, _ := os.ReadFile(path)
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	fourth := openTestDWARF(t, DWARFOptions{CacheDir: dir})
	if fourth.Stats().FromCache {
		t.Error("a corrupted cache file was used")
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// Lookups on a lazily grown index answer exactly as on a complete one: the
// same DIE for every type and global a complete index holds (a sample, to
// keep the test short), and no answer for names it lacks.
func TestDWARFLazyLookupsMatchComplete(t *testing.T) {
	full := openTestDWARF(t, DWARFOptions{NoCache: true})
	if err := full.IndexAll(); err != nil {
		t.Fatal(err)
	}
	types := full.idx.typeNames()
	names := slices.Sorted(mapKeys(types))
	gnames := slices.Sorted(mapKeys(full.idx.globals))
	// Fresh indexes answer one lookup each (the walk stops early); a shared
	// one answers many as it grows.
	shared := openTestDWARF(t, DWARFOptions{NoCache: true})
	checked := 0
	for i := 0; i < len(names); i += 97 {
		lazy := shared
		if i%(97*10) == 0 {
			lazy = openTestDWARF(t, DWARFOptions{NoCache: true})
		}
		n := names[i]
		got, ok := lazy.TypeOffset(n)
		want, _ := full.TypeOffset(n)
		if !ok || got != want {
			t.Errorf("TypeOffset(%q): lazy %#x %v, complete %#x", n, got, ok, want)
		}
		g := gnames[i*len(gnames)/len(names)]
		la, lok := lazy.GlobalAddr(g)
		fa, _ := full.GlobalAddr(g)
		if !lok || la != fa {
			t.Errorf("GlobalAddr(%q): lazy %#x %v, complete %#x", g, la, lok, fa)
		}
		if lazy != shared {
			lazy.Close()
		}
		checked++
	}
	lazy := openTestDWARF(t, DWARFOptions{NoCache: true})
	if _, ok := lazy.TypeOffset("struct no_such_type_anywhere"); ok {
		t.Error("a type no unit defines was found")
	}
	if st := lazy.Stats(); st.Walked != 0 {
		t.Errorf("a name in no section walked %d of %d units (nameAbsent settles it by a search)", st.Walked, st.Units)
	}
	t.Logf("%d lazy lookups agree with the complete index", checked)
}

func TestDecodeIndexRejects(t *testing.T) {
	idx := testIndex(map[string]uint64{"struct a": 1}, map[string]globalVar{"g": {die: 2, typeDie: 3, addr: 4, external: true}},
		[]unitSpan{{0, 10}, {10, 30}, {40, 41}})
	idx.walked = 2
	enc := encodeIndex("abcd", 100, idx)
	got, err := decodeIndex(enc, "abcd", 100)
	if err != nil || got.globals["g"] != idx.globals["g"] || got.structs["a"] != 1 || !slices.Equal(got.units, idx.units) || got.walked != 2 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := decodeIndex(enc, "abce", 100); err == nil {
		t.Error("index for another build-id accepted")
	}
	if _, err := decodeIndex(enc, "abcd", 101); err == nil {
		t.Error("index for another file size accepted")
	}
	if _, err := decodeIndex(enc[:len(enc)-1], "abcd", 100); err == nil {
		t.Error("truncated index accepted")
	}
}

func BenchmarkDWARFIndexCold(b *testing.B) {
	path := vmlinuxPath(b)
	for b.Loop() {
		d, err := OpenDWARF(path, DWARFOptions{NoCache: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.IndexAll(); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

func BenchmarkDWARFIndexCached(b *testing.B) {
	path := vmlinuxPath(b)
	dir := b.TempDir()
	d, err := OpenDWARF(path, DWARFOptions{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.IndexAll(); err != nil {
		b.Fatal(err)
	}
	d.Close()
	for b.Loop() {
		d, err := OpenDWARF(path, DWARFOptions{CacheDir: dir})
		if err != nil || !d.Stats().FromCache {
			b.Fatal(err, "no cache hit")
		}
		d.Close()
	}
}

// Types are safe for concurrent use (run with -race).
func TestTypesConcurrent(t *testing.T) {
	dw := openTestDWARF(t, DWARFOptions{CacheDir: t.TempDir()})
	bt, err := OpenBTF(vmlinuxPath(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i, c := range layoutChecks {
				if (i+g)%2 == 0 {
					_, err = dw.MemberInfo(c.Typ, c.Path)
				} else {
					_, err = bt.MemberInfo(c.Typ, c.Path)
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
