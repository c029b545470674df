package vmcore

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// VMCoreInfo is the kernel's self-description exported for dump tools: one
// KEY=value per line. SYMBOL() values are runtime (KASLR-relocated)
// addresses; hex values carry no 0x.
type VMCoreInfo struct {
	Raw  string
	kv   map[string]string
	keys []string
}

// maxVMCoreInfo bounds the note we accept; real ones are 2-4 KiB.
const maxVMCoreInfo = 1 << 20

// ParseVMCoreInfo parses VMCOREINFO text. It rejects text that is empty,
// oversized, or carries no KEY=value line at all (a zeroed note).
func ParseVMCoreInfo(b []byte) (*VMCoreInfo, error) {
	if len(b) > maxVMCoreInfo {
		return nil, fmt.Errorf("VMCOREINFO is %d bytes, more than the %d a kernel writes", len(b), maxVMCoreInfo)
	}
	b = bytes.TrimRight(b, "\x00")
	vi := &VMCoreInfo{Raw: string(b), kv: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), maxVMCoreInfo)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := vi.kv[k]; !dup {
			vi.keys = append(vi.keys, k)
		}
		vi.kv[k] = v
	}
	if len(vi.kv) == 0 {
		return nil, fmt.Errorf("VMCOREINFO holds no KEY=value lines (zeroed or damaged)")
	}
	return vi, nil
}

// Keys returns the keys in the order the kernel wrote them.
func (vi *VMCoreInfo) Keys() []string { return vi.keys }

// Get returns the raw value of a key.
func (vi *VMCoreInfo) Get(key string) (string, bool) {
	if vi == nil {
		return "", false
	}
	v, ok := vi.kv[key]
	return v, ok
}

func (vi *VMCoreInfo) hex(key string) (uint64, bool) {
	v, ok := vi.Get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
	return n, err == nil
}

func (vi *VMCoreInfo) dec(key string) (int64, bool) {
	v, ok := vi.Get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		// NUMBER() is printed with %ld but a few keys are hex in old kernels.
		u, err2 := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
		if err2 != nil {
			return 0, false
		}
		return int64(u), true
	}
	return n, true
}

// Symbol returns SYMBOL(name), a runtime virtual address.
func (vi *VMCoreInfo) Symbol(name string) (uint64, bool) { return vi.hex("SYMBOL(" + name + ")") }

// Symbols returns every SYMBOL() entry.
func (vi *VMCoreInfo) Symbols() map[string]uint64 {
	out := map[string]uint64{}
	if vi == nil {
		return out
	}
	for _, k := range vi.keys {
		if strings.HasPrefix(k, "SYMBOL(") && strings.HasSuffix(k, ")") {
			if v, ok := vi.hex(k); ok {
				out[k[len("SYMBOL("):len(k)-1]] = v
			}
		}
	}
	return out
}

// Offset returns OFFSET(struct.member) in bytes.
func (vi *VMCoreInfo) Offset(name string) (int64, bool) { return vi.dec("OFFSET(" + name + ")") }

// Size returns SIZE(type) in bytes.
func (vi *VMCoreInfo) Size(name string) (int64, bool) { return vi.dec("SIZE(" + name + ")") }

// Number returns NUMBER(name).
func (vi *VMCoreInfo) Number(name string) (int64, bool) { return vi.dec("NUMBER(" + name + ")") }

// Length returns LENGTH(name).
func (vi *VMCoreInfo) Length(name string) (int64, bool) { return vi.dec("LENGTH(" + name + ")") }

// OSRelease is `uname -r` of the crashed kernel.
func (vi *VMCoreInfo) OSRelease() string { v, _ := vi.Get("OSRELEASE"); return v }

// BuildID is the vmlinux GNU build-id in hex (5.9+).
func (vi *VMCoreInfo) BuildID() string { v, _ := vi.Get("BUILD-ID"); return v }

// Page sizes a kernel uses: 4 KiB (x86, s390) to 64 KiB (arm64, ppc64).
const (
	MinPageSize = 4 << 10
	MaxPageSize = 64 << 10
)

// PageSize is the kernel's page size. A value that is not a power of two
// from MinPageSize to MaxPageSize is damage, and not returned: it would
// size every page read.
func (vi *VMCoreInfo) PageSize() (int64, bool) {
	n, ok := vi.dec("PAGESIZE")
	if !ok || !ValidPageSize(n) {
		return 0, false
	}
	return n, true
}

// ValidPageSize tells whether n is a page size a kernel uses.
func ValidPageSize(n int64) bool { return n >= MinPageSize && n <= MaxPageSize && n&(n-1) == 0 }

// KernelOffset is the KASLR slide of the kernel image (0 without KASLR).
func (vi *VMCoreInfo) KernelOffset() (uint64, bool) { return vi.hex("KERNELOFFSET") }

// PhysBase is where the kernel image was loaded physically (x86_64).
func (vi *VMCoreInfo) PhysBase() (uint64, bool) {
	if n, ok := vi.Number("phys_base"); ok {
		return uint64(n), true
	}
	return vi.Symbol("phys_base") // before 4.10 only the address of the variable
}

// CrashTime is when the kernel crashed (CRASHTIME, seconds since the epoch).
func (vi *VMCoreInfo) CrashTime() (time.Time, bool) {
	n, ok := vi.dec("CRASHTIME")
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}
