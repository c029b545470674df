package symbols

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

const corpusRelease = corpus.Release
const corpusBuildID = "3b43fad5034874490492495d552c0af6a5fab235"

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// vmlinuxPath finds the corpus kernel's debug vmlinux or skips.
func vmlinuxPath(t testing.TB) string { return corpus.Vmlinux(t) }

func systemMapPath(t testing.TB) string {
	p := filepath.Join(filepath.Dir(vmlinuxPath(t)), "System.map-"+corpusRelease)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("System.map not found at %s: %v", p, err)
	}
	return p
}

// elfDump is a test-only reader of the corpus's uncompressed ELF vmcore:
// physical reads from PT_LOAD segments, kernel-image addresses translated
// with phys_base and everything else by walking the page tables.
type elfDump struct {
	r        io.ReaderAt
	loads    []elf.ProgHeader
	info     map[string]string
	physBase uint64
	pgd      uint64 // physical address of init_top_pgt
}

var (
	dumpOnce sync.Once
	dumpVal  *elfDump
	dumpErr  error
)

// sysrqDump opens the sysrq-elf corpus dump, or skips.
func sysrqDump(t testing.TB) *elfDump {
	path := ""
	for _, c := range corpus.Dumps(t) {
		if c.Name == "sysrq-elf" {
			path = c.Files[0] // unpacked once by internal/corpus
		}
	}
	if path == "" {
		t.Skip("sysrq-elf not in the corpus")
	}
	dumpOnce.Do(func() { dumpVal, dumpErr = openSysrqDump(path) })
	if dumpErr != nil {
		t.Skipf("sysrq-elf dump unavailable: %v", dumpErr)
	}
	return dumpVal
}

func openSysrqDump(path string) (*elfDump, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	d := &elfDump{r: fh, info: map[string]string{}}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			d.loads = append(d.loads, p.ProgHeader)
		case elf.PT_NOTE:
			data, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, err
			}
			for len(data) >= 12 {
				nsz := int(binary.LittleEndian.Uint32(data))
				dsz := int(binary.LittleEndian.Uint32(data[4:]))
				name := strings.TrimRight(string(data[12:12+nsz]), "\x00")
				doff := 12 + (nsz+3)&^3
				desc := data[doff : doff+dsz]
				if name == "VMCOREINFO" {
					for _, l := range strings.Split(string(desc), "\n") {
						if k, v, ok := strings.Cut(l, "="); ok {
							d.info[k] = v
						}
					}
				}
				data = data[doff+(dsz+3)&^3:]
			}
		}
	}
	if d.physBase, err = strconv.ParseUint(d.info["NUMBER(phys_base)"], 10, 64); err != nil {
		return nil, fmt.Errorf("phys_base: %v", err)
	}
	pgt, err := strconv.ParseUint(d.info["SYMBOL(init_top_pgt)"], 16, 64)
	if err != nil {
		return nil, fmt.Errorf("init_top_pgt: %v", err)
	}
	d.pgd = pgt - KernelMapBase + d.physBase
	return d, nil
}

// symbolValues returns VMCOREINFO SYMBOL(x)=hex entries keyed by x.
func (d *elfDump) symbolValues() map[string]uint64 {
	m := map[string]uint64{}
	for k, v := range d.info {
		if strings.HasPrefix(k, "SYMBOL(") && strings.HasSuffix(k, ")") {
			if a, err := strconv.ParseUint(v, 16, 64); err == nil {
				m[k[7:len(k)-1]] = a
			}
		}
	}
	return m
}

func (d *elfDump) kernelOffset() uint64 {
	v, _ := strconv.ParseUint(d.info["KERNELOFFSET"], 16, 64)
	return v
}

func (d *elfDump) readPhys(p []byte, paddr uint64) error {
	for len(p) > 0 {
		found := false
		for _, l := range d.loads {
			if paddr >= l.Paddr && paddr < l.Paddr+l.Memsz {
				n := min(uint64(len(p)), l.Paddr+l.Memsz-paddr)
				off := paddr - l.Paddr
				if off >= l.Filesz {
					clear(p[:n])
				} else {
					n = min(n, l.Filesz-off)
					if _, err := d.r.ReadAt(p[:n], int64(l.Off+off)); err != nil {
						return err
					}
				}
				p, paddr, found = p[n:], paddr+n, true
				break
			}
		}
		if !found {
			return fmt.Errorf("physical address %#x not in dump", paddr)
		}
	}
	return nil
}

func (d *elfDump) translate(v uint64) (uint64, error) {
	if v >= KernelMapBase && v < KernelMapBase+1<<30 {
		return v - KernelMapBase + d.physBase, nil
	}
	table := d.pgd
	var b [8]byte
	for level, shift := 0, 39; level < 4; level, shift = level+1, shift-9 {
		idx := (v >> shift) & 511
		if err := d.readPhys(b[:], table+idx*8); err != nil {
			return 0, err
		}
		e := binary.LittleEndian.Uint64(b[:])
		if e&1 == 0 {
			return 0, fmt.Errorf("virtual address %#x not mapped (level %d)", v, level)
		}
		frame := e & 0x000ffffffffff000
		if level > 0 && level < 3 && e&0x80 != 0 { // 1 GiB or 2 MiB page
			mask := uint64(1)<<shift - 1
			return frame&^mask | v&mask, nil
		}
		table = frame
	}
	return table | v&0xfff, nil
}

// ReadVirt implements Memory.
func (d *elfDump) ReadVirt(p []byte, vaddr uint64) error {
	for len(p) > 0 {
		n := min(uint64(len(p)), 4096-vaddr&0xfff)
		pa, err := d.translate(vaddr)
		if err != nil {
			return err
		}
		if err := d.readPhys(p[:n], pa); err != nil {
			return err
		}
		p, vaddr = p[n:], vaddr+n
	}
	return nil
}

// dumpKallsymsBTF decodes the dump's own kallsyms and BTF.
func dumpKallsymsBTF(t testing.TB, d *elfDump) (*Table, *BTF) {
	t.Helper()
	ks, err := KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BTFFromDump(ks, d)
	if err != nil {
		t.Fatal(err)
	}
	return ks, b
}

// CrashModules parses crash's `mod` output for the external corpus test.
var CrashModules = crashModules
