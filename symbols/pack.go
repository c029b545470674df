package symbols

import (
	"archive/zip"
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	kflate "github.com/klauspost/compress/flate"
)

// A debuginfo pack is the part of a debug vmlinux ktriage reads, a few MB
// instead of hundreds: the kernel's types as BTF (encoded from its DWARF by
// pahole, for kernels built without CONFIG_DEBUG_INFO_BTF), its symbol table
// in System.map form, its .debug_frame for unwinding, its source lines
// (packlines.go), and what identifies the build (build-id, linux_banner).
// It is a zip file, so any tool can look inside; WritePack makes one,
// OpenPack reads it. Packs made before the lines entry still load, without
// source lines.
const (
	packBTF        = "btf"
	packSymbols    = "System.map"
	packDebugFrame = "debug_frame"
	packBanner     = "linux_banner"
	packBuildID    = "build-id"
	packLines      = PackLinesEntry
	packMagic      = "PK\x03\x04"
)

// PackLinesEntry names a pack's line table, which packs made before it
// lack.
const PackLinesEntry = "lines"

// Pack is an opened debuginfo pack, relocated for one dump.
type Pack struct {
	Path       string
	Syms       *Table
	BTF        *BTF
	DebugFrame []byte     // .debug_frame, link-time addresses
	Lines      *LineTable // nil in a pack made before it carried lines
	Banner     string
	BuildID    string
}

// IsPack tells whether the file at path is a debuginfo pack (a zip) rather
// than a vmlinux.
func IsPack(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == packMagic
}

// WritePack writes a pack for the vmlinux at vmlinuxPath, whose types come
// from the raw BTF file at btfPath (pahole --btf_encode_detached) or from
// the pack at btfPath, which must have been made from the same build.
func WritePack(w io.Writer, vmlinuxPath, btfPath string) error {
	f, err := elf.Open(vmlinuxPath)
	if err != nil {
		return fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	banner, err := ELFBanner(f)
	if err != nil {
		return fmt.Errorf("%s: %w", vmlinuxPath, err)
	}
	id, _ := ELFBuildID(f)
	var btfData []byte
	if IsPack(btfPath) {
		btfData, err = packBTFOf(btfPath, DumpIdentity{BuildID: id, Banner: banner})
	} else {
		btfData, err = os.ReadFile(btfPath)
	}
	if err != nil {
		return fmt.Errorf("symbols: %w", err)
	}
	if _, err := ParseBTF(btfData); err != nil {
		return fmt.Errorf("%s: %w", btfPath, err)
	}
	syms, err := ELFSymbols(f, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", vmlinuxPath, err)
	}
	var frame []byte
	if sec := f.Section(".debug_frame"); sec != nil {
		if frame, err = sec.Data(); err != nil {
			return fmt.Errorf("%s: .debug_frame: %w", vmlinuxPath, err)
		}
	}
	lines, err := vmlinuxLines(vmlinuxPath)
	if err != nil {
		return err
	}

	z := zip.NewWriter(w)
	add := func(name string, data []byte) error {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if name == packLines {
			h.Method = zip.Store // deflated block by block already
		}
		fw, err := z.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	var sm bytes.Buffer
	bw := bufio.NewWriter(&sm)
	for s := range syms.All() {
		fmt.Fprintf(bw, "%016x %c %s\n", s.Addr, s.Type, s.Name)
	}
	bw.Flush()
	for _, e := range []struct {
		name string
		data []byte
	}{{packBTF, btfData}, {packSymbols, sm.Bytes()}, {packDebugFrame, frame},
		{packBanner, []byte(banner)}, {packBuildID, []byte(id)}, {packLines, lines}} {
		if e.name == packLines && lines == nil {
			continue
		}
		if err := add(e.name, e.data); err != nil {
			return fmt.Errorf("symbols: writing pack: %w", err)
		}
	}
	return z.Close()
}

// OpenPack reads the pack at path, checks it was made from the dump's
// kernel (as OpenVmlinux checks a vmlinux; an empty DumpIdentity skips the
// check) and relocates its symbols by slide.
func OpenPack(path string, slide uint64, dump DumpIdentity) (*Pack, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: debuginfo pack %s: %w", path, err)
	}
	defer z.Close()
	read := packEntryReader(z, path)
	p := &Pack{Path: path}
	banner, err1 := read(packBanner)
	id, err2 := read(packBuildID)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	p.Banner, p.BuildID = string(banner), strings.TrimSpace(string(id))
	switch {
	case dump.BuildID != "":
		if !strings.EqualFold(p.BuildID, dump.BuildID) {
			return nil, &MismatchError{Vmlinux: path, VmlinuxID: p.BuildID, DumpID: dump.BuildID}
		}
	case dump.Banner != "":
		if strings.TrimSpace(p.Banner) != strings.TrimSpace(dump.Banner) {
			return nil, &MismatchError{Vmlinux: path, VmlinuxID: strings.TrimSpace(p.Banner),
				DumpID: strings.TrimSpace(dump.Banner), ByBanner: true}
		}
	}
	sm, err := read(packSymbols)
	if err != nil {
		return nil, err
	}
	if p.Syms, err = ParseSystemMap(bytes.NewReader(sm), slide); err != nil {
		return nil, fmt.Errorf("debuginfo pack %s: %w", path, err)
	}
	b, err := read(packBTF)
	if err != nil {
		return nil, err
	}
	if p.BTF, err = ParseBTF(b); err != nil {
		return nil, fmt.Errorf("debuginfo pack %s: %w", path, err)
	}
	if p.DebugFrame, err = read(packDebugFrame); err != nil {
		return nil, err
	}
	if f, err := z.Open(packLines); err == nil {
		f.Close()
		b, err := read(packLines)
		if err != nil {
			return nil, err
		}
		if p.Lines, err = ParseLineTable(b); err != nil {
			return nil, fmt.Errorf("debuginfo pack %s: %w", path, err)
		}
	}
	return p, nil
}

// vmlinuxLines is the encoded line table of the vmlinux at path; nil when
// it has no DWARF lines (the pack then has none, like an older pack).
func vmlinuxLines(path string) ([]byte, error) {
	d, err := OpenDWARF(path, DWARFOptions{NoCache: true})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	t, err := d.LineTable()
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return t.MarshalBinary()
}

// packBTFOf returns the BTF of the pack at path, which must be of the
// build id names (so a pack's BTF is reused only for its own kernel).
func packBTFOf(path string, id DumpIdentity) ([]byte, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("debuginfo pack %s: %w", path, err)
	}
	defer z.Close()
	read := packEntryReader(z, path)
	gotID, err1 := read(packBuildID)
	banner, err2 := read(packBanner)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(gotID)) != id.BuildID || strings.TrimSpace(string(banner)) != strings.TrimSpace(id.Banner) {
		return nil, fmt.Errorf("debuginfo pack %s is of another build (build-id %q, %q), not of the vmlinux (build-id %q, %q)",
			path, strings.TrimSpace(string(gotID)), strings.TrimSpace(string(banner)), id.BuildID, strings.TrimSpace(id.Banner))
	}
	return read(packBTF)
}

// packEntryReader reads whole entries of the pack z (at path), up to 1 GiB
// each. Entries are inflated by klauspost/compress's flate (about twice the
// standard library's speed: the 3.10 pack's 20 MB of BTF was most of a
// triage with it) into a buffer sized once, not grown by io.ReadAll's
// doubling.
func packEntryReader(z *zip.ReadCloser, path string) func(name string) ([]byte, error) {
	z.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return kflate.NewReader(r) })
	return func(name string) ([]byte, error) {
		f, err := z.Open(name)
		if err != nil {
			return nil, fmt.Errorf("debuginfo pack %s: no %s: %w", path, name, err)
		}
		defer f.Close()
		// The buffer is sized once from the zip's stated size, which is not
		// trusted further than deflate's largest ratio (1032:1) over the
		// stored bytes: a small hostile pack must not claim a huge buffer.
		// ReadFrom passes on the zip reader's CRC and size errors.
		hint := uint64(0)
		if st, err := f.Stat(); err == nil {
			if h, ok := st.Sys().(*zip.FileHeader); ok {
				hint = min(h.UncompressedSize64, 1032*h.CompressedSize64+512, 1<<30)
			}
		}
		buf := bytes.NewBuffer(make([]byte, 0, int(hint)+bytes.MinRead))
		if _, err := buf.ReadFrom(io.LimitReader(f, 1<<30)); err != nil {
			return nil, fmt.Errorf("debuginfo pack %s: %s: %w", path, name, err)
		}
		return buf.Bytes(), nil
	}
}

// Symbols combines the pack's table with modules read from the dump.
func (p *Pack) Symbols(modules []Module) *KernelSymbols {
	return NewKernelSymbols(p.Syms, modules, p.BTF)
}
