package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// withVMCoreInfo returns vi with each KEY=value of set replacing the
// line of that key.
func withVMCoreInfo(t *testing.T, vi *vmcore.VMCoreInfo, set ...string) *vmcore.VMCoreInfo {
	t.Helper()
	raw := vi.Raw
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `=.*$`)
		if !re.MatchString(raw) {
			t.Fatalf("VMCOREINFO has no %s", k)
		}
		raw = re.ReplaceAllLiteralString(raw, kv)
	}
	out, err := vmcore.ParseVMCoreInfo([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// openDumpAS opens a dump (closed when the test ends) and its address space.
func openDumpAS(t *testing.T, files ...string) (*vmcore.Dump, *AddressSpace) {
	t.Helper()
	d, err := vmcore.Open(files...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	as, err := NewAddressSpace(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, as
}

// TestLogHostileVMCoreInfo: the VMCOREINFO values the damage sweep found
// crashing readLockless (slice bounds) on every format. Each is now an
// error naming the key, on a real dump of each format.
func TestLogHostileVMCoreInfo(t *testing.T) {
	cases := []struct{ set, want string }{
		{"OFFSET(prb_desc.state_var)=99999", "OFFSET(prb_desc.state_var)=99999"},
		{"OFFSET(prb_desc.state_var)=-8", "OFFSET(prb_desc.state_var)=-8"},
		{"SIZE(prb_desc)=0", "SIZE(prb_desc)=0"},
		{"SIZE(printk_info)=0", "SIZE(printk_info)=0"},
		{"OFFSET(printk_info.text_len)=9223372036854775807", "OFFSET(printk_info.text_len)="},
		{"OFFSET(printk_info.seq)=4096", "OFFSET(printk_info.seq)=4096"},
		{"OFFSET(prb_data_blk_lpos.next)=1000000", "OFFSET(prb_data_blk_lpos.next)=1000000"},
		{"SIZE(prb_desc)=99999999999", "SIZE(prb_desc)="},
		{"OFFSET(prb_desc.text_blk_lpos)=20", "OFFSET(prb_desc.text_blk_lpos)=20"},
	}
	for _, f := range dumpFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			d, as := openDumpAS(t, f.files...)
			for _, c := range cases {
				recs, err := ReadLog(as, withVMCoreInfo(t, d.VMCoreInfo, c.set))
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: got %d records, error %v; want an error naming %s", c.set, len(recs), err, c.want)
				}
			}
		})
	}
}

// TestLogHostileCallerID: a caller_id offset outside printk_info loses the
// caller ids only: every record is still read, and the damage is named.
func TestLogHostileCallerID(t *testing.T) {
	d, as := openDumpAS(t, filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	want, err := ReadLog(as, d.VMCoreInfo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadLog(as, withVMCoreInfo(t, d.VMCoreInfo, "OFFSET(printk_info.caller_id)=123456789"))
	var dmg *LogDamage
	if !errors.As(err, &dmg) || !strings.Contains(err.Error(), "caller_id") {
		t.Fatalf("error %v, want a LogDamage naming caller_id", err)
	}
	if dmesgOf(t, got) != dmesgOf(t, want) {
		t.Fatal("the log text changed when only caller ids were unreadable")
	}
	for _, r := range got {
		if r.CallerID != 0 {
			t.Fatalf("record %d has caller id %#x from an offset outside the struct", r.Seq, r.CallerID)
		}
	}
}

// TestLogMissingPages: a page of the text ring, or of the descriptor or
// info arrays, that the dump lacks loses only the records on it; the
// rest are read, and the loss is named.
func TestLogMissingPages(t *testing.T) {
	const prbVar, rb, descs, infos, data = 0x1000000, 0x1000100, 0x2000000, 0x3000000, 0x4000000
	for _, c := range []struct {
		name string
		page uint64 // physical page to drop
		want string
	}{
		{"text", data + 0x1000, "seq "},
		{"descriptors", descs + 0x1000, "descriptor(s) unreadable"},
		{"infos", infos + 0x2000, "record(s) lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newLocklessRing(10, 15) // 1024 descriptors, 32 KiB of text
			for i := 0; i < 600; i++ {
				r.add(LogRecord{Seq: uint64(i), TsNsec: uint64(i) * 1e6, Text: []byte(fmt.Sprintf("record %d", i))})
			}
			as, vi := r.image(t)
			m := as.phys.(physImage)
			delete(m, c.page>>12)
			got, err := ReadLog(as, vi)
			var dmg *LogDamage
			if !errors.As(err, &dmg) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a LogDamage saying %q", err, c.want)
			}
			if len(got) == 0 || len(got) >= len(r.live) {
				t.Fatalf("%d of %d records read: want all but those on the missing page", len(got), len(r.live))
			}
			byseq := map[uint64]LogRecord{}
			for _, l := range r.live {
				byseq[l.rec.Seq] = l.rec
			}
			for _, g := range got {
				if w, ok := byseq[g.Seq]; !ok || string(w.Text) != string(g.Text) {
					t.Fatalf("record seq %d %q is not one the ring holds", g.Seq, g.Text)
				}
			}
			t.Logf("%d of %d records read; %v", len(got), len(r.live), err)
		})
	}
}

// TestStacksWithoutOSRelease: an absent or garbled OSRELEASE picked the
// wrong ORC entry layout, and no stack unwound past its first frame. The
// release now comes from the kernel's utsname when VMCOREINFO's is bad.
func TestStacksWithoutOSRelease(t *testing.T) {
	files := []string{filepath.Join(fixtureDir, "hung-kdump-zstd.vmcore")}
	want := cpuStacks(t, files, "")
	if len(want[0]) < 3 {
		t.Fatalf("the undamaged dump unwinds %d frames on cpu 0", len(want[0]))
	}
	for _, rel := range []string{"OSRELEASE=", "OSRELEASE=\x1b[2Jgarbage", "OSRELEASE=99"} {
		got := cpuStacks(t, files, rel)
		for cpu := range want {
			if strings.Join(got[cpu], " ") != strings.Join(want[cpu], " ") {
				t.Errorf("%q: cpu %d unwinds %v, want %v", rel, cpu, got[cpu], want[cpu])
			}
		}
	}
}

// cpuStacks attaches the dump's own kallsyms+BTF, with one VMCOREINFO line
// replaced when set is not empty, and names the frames of each CPU.
func cpuStacks(t *testing.T, files []string, set string) [][]string {
	t.Helper()
	d, _ := openDumpAS(t, files...)
	if set != "" {
		d.VMCoreInfo = withVMCoreInfo(t, d.VMCoreInfo, set)
	}
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for cpu := 0; cpu < d.NrCPUs; cpu++ {
		_, frames, _ := k.CPUBacktrace(cpu)
		var names []string
		for _, f := range frames {
			names = append(names, f.Function)
		}
		out = append(out, names)
	}
	return out
}

// TestBadVmlinuxFallsBack: a --vmlinux that is not one turned off the
// dump's own kallsyms and BTF; now it is named in a warning and they are
// used.
func TestBadVmlinuxFallsBack(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(bad, []byte("not an ELF file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := openDumpAS(t, filepath.Join(fixtureDir, "hung-kdump-zstd.vmcore"))
	k, err := Attach(d, AttachOptions{Vmlinux: bad})
	if err != nil {
		t.Fatalf("Attach with a bad --vmlinux: %v", err)
	}
	if k.Source != "kallsyms+BTF from dump" || len(k.Warnings) == 0 || !strings.Contains(k.Warnings[0], bad) {
		t.Fatalf("source %q, warnings %q: want the dump's own names and a warning naming %s", k.Source, k.Warnings, bad)
	}
}

// patchedPhys serves a dump's memory with one 8-byte value replaced.
type patchedPhys struct {
	PhysReader
	at, val uint64
}

func (p patchedPhys) ReadPhys(b []byte, pa uint64) (int, error) {
	n, err := p.PhysReader.ReadPhys(b, pa)
	for i := 0; i < 8; i++ {
		if a := p.at + uint64(i); a >= pa && a < pa+uint64(n) {
			b[a-pa] = byte(p.val >> (8 * i))
		}
	}
	return n, err
}

// TestImplausibleMemory: a damaged node_present_pages was shown as fact
// (MEMORY 621367315.3 GB). A count above the page frames the dump
// describes is now not shown, and the warning says why.
func TestImplausibleMemory(t *testing.T) {
	d, _ := openDumpAS(t, filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore"))
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := k.Sys(); s.MemoryBytes == 0 {
		t.Fatal("the undamaged fixture shows no memory")
	}
	nodeData, err := k.Addr("node_data")
	if err != nil {
		t.Fatal(err)
	}
	off, err := k.Off("pglist_data", "node_present_pages")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := k.U64(nodeData)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := k.AS.Translate(pg + off)
	if err != nil {
		t.Fatal(err)
	}
	k.AS.phys = patchedPhys{k.AS.phys, pa, 621367315 << 18}
	s, warns := k.Sys()
	if s.MemoryBytes != 0 || !strings.Contains(strings.Join(warns, "\n"), "page frames the dump describes") {
		t.Fatalf("memory %d bytes, warnings %q: want none shown, and why", s.MemoryBytes, warns)
	}
}

// lossyMemory fails reads that touch one virtual page.
type lossyMemory struct {
	*AddressSpace
	page uint64
}

func (m lossyMemory) ReadVirt(p []byte, va uint64) error {
	if va < m.page+4096 && va+uint64(len(p)) > m.page {
		return fmt.Errorf("virtual address %#x: %w", m.page, vmcore.ErrDamaged)
	}
	return m.AddressSpace.ReadVirt(p, va)
}

// TestBTFStringPageLost: one unreadable page of the BTF lost every type.
// A page of its string section now loses only the names on it: the BTF
// loads, says what was lost, and types named elsewhere are found.
func TestBTFStringPageLost(t *testing.T) {
	d, as := openDumpAS(t, filepath.Join(fixtureDir, "hung-kdump-zstd.vmcore"))
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start, err := k.Addr("__start_BTF")
	if err != nil {
		t.Fatal(err)
	}
	var hdr [24]byte
	if err := as.ReadVirt(hdr[:], start); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	strs := start + uint64(le.Uint32(hdr[4:])) + uint64(le.Uint32(hdr[16:]))
	page := (strs + uint64(le.Uint32(hdr[20:]))/2) &^ 4095
	vsyms := d.VMCoreInfo.Symbols()
	_, b, err := symbols.FromDump(vsyms, lossyMemory{as, page}, symbols.FromDumpOptions{})
	if b == nil {
		t.Fatalf("BTF with one string page lost: %v", err)
	}
	if !strings.Contains(b.Damage, "string section") {
		t.Fatalf("damage %q does not say what was lost", b.Damage)
	}
	if _, err := b.TypeInfo("task_struct"); err != nil {
		t.Logf("task_struct: %v", err)
	}
	// A lost page of the type section is still fatal: layouts would be wrong.
	if _, b, err := symbols.FromDump(vsyms, lossyMemory{as, (start + 4096) &^ 4095}, symbols.FromDumpOptions{}); b != nil || err == nil {
		t.Fatal("BTF with a type-section page lost was accepted")
	}
}

// TestKallsymsNamesPageLost: one unreadable page of kallsyms_names lost
// every symbol. Now only the names up to the next kallsyms marker are
// lost; an address among them is named as lost, never given a neighbour's
// name, and the loss is said.
func TestKallsymsNamesPageLost(t *testing.T) {
	d, as := openDumpAS(t, filepath.Join(fixtureDir, "hung-kdump-zstd.vmcore"))
	vsyms := d.VMCoreInfo.Symbols()
	// FromDump reads the BTF and module list too; the lost page is in
	// neither.
	wholeSyms, _, err := symbols.FromDump(vsyms, as, symbols.FromDumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page := (vsyms["kallsyms_names"] + 300<<10) &^ 4095
	cutSyms, _, err := symbols.FromDump(vsyms, lossyMemory{as, page}, symbols.FromDumpOptions{})
	if err != nil {
		t.Fatalf("kallsyms with one names page lost: %v", err)
	}
	whole, cut := wholeSyms.Kernel, cutSyms.Kernel
	if !strings.Contains(cut.Damage, "lost") || cut.Len() != whole.Len() {
		t.Fatalf("%d of %d symbols, damage %q", cut.Len(), whole.Len(), cut.Damage)
	}
	named, lost, namedPast := 0, 0, 0
	var lastLost uint64
	for s := range whole.All() {
		if s.Type == 'A' || s.Addr < 0xffffffff80000000 {
			continue // absolute and per-CPU values are no code address
		}
		got, ok := cut.SymbolAt(s.Addr)
		switch {
		case ok && got.Name == s.Name:
			named++
			if lastLost != 0 && s.Addr > lastLost {
				namedPast++
			}
		case ok && strings.HasPrefix(got.Name, "(name lost"):
			lost++
			lastLost = max(lastLost, s.Addr)
		case !ok: // unnamed is fine; a wrong name is not
		default:
			if want, _ := whole.SymbolAt(s.Addr); want.Name != got.Name {
				t.Fatalf("%#x: named %q, the whole table says %q", s.Addr, got.Name, want.Name)
			}
		}
	}
	// Decoding resumes at the first kallsyms marker past the lost page:
	// the page costs a few hundred names, not every name after it.
	if named == 0 || lost == 0 || lost > 1000 {
		t.Fatalf("%d addresses named as before, %d named lost", named, lost)
	}
	if namedPast == 0 {
		t.Errorf("no address past the lost names (%#x) is named again", lastLost)
	}
	t.Logf("%d addresses named as before, %d named lost; %s", named, lost, cut.Damage)
}

// pageGone serves a dump's memory with one physical page unreadable, or
// (zero) read as zeros.
type pageGone struct {
	PhysReader
	pfn  uint64
	zero bool
}

func (p pageGone) ReadPhys(b []byte, pa uint64) (int, error) {
	n, err := p.PhysReader.ReadPhys(b, pa)
	for i := 0; i < n; i++ {
		if (pa+uint64(i))>>12 != p.pfn {
			continue
		}
		if !p.zero {
			return i, &vmcore.PageError{Addr: pa + uint64(i), Err: vmcore.ErrNotPresent}
		}
		b[i] = 0
	}
	return n, err
}

// TestOldLogPageLost: on the CentOS 7 (3.10, struct log) dumps, a page of
// the log buffer the dump lacks lost the whole log. Now, with a page in the
// middle of the log lost or zeroed, every other line is crash's log as it
// is, the lines lost are one run of them, and the warning names the
// records around it by their time stamps.
func TestOldLogPageLost(t *testing.T) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "dumps-el7", "*.vmcore"))
	if len(fixtures) == 0 {
		t.Skip("no 3.10 fixtures in testdata/dumps-el7")
	}
	for _, f := range fixtures {
		oracle, err := os.ReadFile(strings.TrimSuffix(f, ".vmcore") + ".crash/log.txt")
		if err != nil {
			t.Fatalf("crash's log beside %s: %v", f, err)
		}
		want := strings.Split(strings.TrimSuffix(string(oracle), "\n"), "\n")
		for _, zero := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/zeroed=%v", filepath.Base(f), zero), func(t *testing.T) {
				d, as := openDumpAS(t, f)
				vi := d.VMCoreInfo
				bufVar, _ := vi.Symbol("log_buf")
				nextVar, _ := vi.Symbol("log_next_idx")
				buf, err1 := as.ReadU64(bufVar)
				next, err2 := as.ReadU32(nextVar)
				if err := errors.Join(err1, err2); err != nil {
					t.Fatal(err)
				}
				pa, err := as.Translate(buf + uint64(next)/2)
				if err != nil {
					t.Fatal(err)
				}
				as.phys = pageGone{as.phys, pa >> 12, zero}
				recs, err := ReadLog(as, vi)
				var dmg *LogDamage
				if !errors.As(err, &dmg) {
					t.Fatalf("error %v, want a LogDamage", err)
				}
				got := strings.Split(strings.TrimSuffix(dmesgOf(t, recs), "\n"), "\n")
				// got is want with one run of lines left out (and, zeroed,
				// the lines of records whose text was zeroed in its place).
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				j := 0
				for j < len(got)-i && j < len(want)-i && got[len(got)-1-j] == want[len(want)-1-j] {
					j++
				}
				lost, changed := want[i:len(want)-j], got[i:len(got)-j]
				for _, c := range changed {
					if !zero || !strings.Contains(c, `\x00`) {
						t.Fatalf("line %q is not in crash's log", c)
					}
				}
				if len(lost) == 0 || len(lost) > 100 || i == 0 || j == 0 {
					t.Fatalf("%d of %d lines lost, %d kept before and %d after: want one run from the page's middle", len(lost), len(want), i, j)
				}
				// The warning names the records on either side of the loss.
				before, after := lastStamp(want[:i]), lastStamp(want[:len(want)-j+1])
				if zero && len(changed) > 0 {
					before = lastStamp(want[:i+1])
				}
				msg := err.Error()
				if !strings.Contains(msg, before) || !strings.Contains(msg, after) {
					t.Errorf("warning %q does not name the records around the loss (%s, %s)", msg, before, after)
				}
				t.Logf("%d of %d lines lost; %s", len(lost), len(want), msg)
			})
		}
	}
}

// lastStamp is the time stamp of the last record among lines.
func lastStamp(lines []string) string {
	for k := len(lines) - 1; k >= 0; k-- {
		if strings.HasPrefix(lines[k], "[") {
			return lines[k][:strings.IndexByte(lines[k], ']')+1]
		}
	}
	return ""
}

// TestOldLogHostileVMCoreInfo: struct log offsets and sizes outside the
// struct they index, on the CentOS 7 fixtures, are refused by name; a
// dict_len offset outside it only loses that check.
func TestOldLogHostileVMCoreInfo(t *testing.T) {
	f := filepath.Join("..", "testdata", "dumps-el7", "sysrq-kdump-lzo.vmcore")
	if _, err := os.Stat(f); err != nil {
		t.Skip("no 3.10 fixtures in testdata/dumps-el7")
	}
	d, as := openDumpAS(t, f)
	want, err := ReadLog(as, d.VMCoreInfo)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"SIZE(log)=0", "SIZE(log)=99999999", "OFFSET(log.len)=99999", "OFFSET(log.text_len)=-8",
		"OFFSET(log.ts_nsec)=12"} {
		recs, err := ReadLog(as, withVMCoreInfo(t, d.VMCoreInfo, set))
		key, _, _ := strings.Cut(set, "=")
		if err == nil || !strings.Contains(err.Error(), key) || len(recs) != 0 {
			t.Errorf("%s: %d records, error %v; want an error naming %s", set, len(recs), err, key)
		}
	}
	got, err := ReadLog(as, withVMCoreInfo(t, d.VMCoreInfo, "OFFSET(log.dict_len)=4096"))
	if err != nil || dmesgOf(t, got) != dmesgOf(t, want) {
		t.Errorf("dict_len outside the struct: error %v, log changed %v", err, dmesgOf(t, got) != dmesgOf(t, want))
	}
}
