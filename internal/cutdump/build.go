package cutdump

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/ktriage/ktriage/vmcore"
)

// Build writes a kdump-compressed file from scratch, for sources whose
// header cannot be copied (ELF cores) or should not be (a minimized dump
// gets a header of its own): a version 6 header as makedumpfile 1.7 writes
// it, the sub-header, the note area (NT_PRSTATUS per CPU and VMCOREINFO),
// both bitmaps, the page descriptors and the page data, in that order.
// Write, above, copies a source's header verbatim instead.

// Page codecs, as the header's status and each descriptor's flags name them.
const (
	FlagZlib = 0x1
	FlagZstd = 0x20
)

// Image is what the header and sub-header of a built dump say.
type Image struct {
	Uts        vmcore.Utsname
	Time       time.Time // the header's timestamp; zero writes 0
	BlockSize  int64     // page size
	MaxMapnr   uint64    // one past the highest pfn the bitmaps describe
	NrCPUs     int
	CurrentCPU int // the panic CPU; negative writes 0
	PhysBase   uint64
	DumpLevel  int
	// Notes is the ELF note area; the VMCOREINFO note's descriptor must
	// be in it (see EncodeNotes).
	Notes         []byte
	VMCoreInfoOff int64 // offset of VMCOREINFO's text within Notes
	VMCoreInfoLen int64
	// RAM tells whether a pfn below MaxMapnr is memory (bitmap 1).
	RAM func(pfn uint64) bool
	// Status is the header's compression flag (FlagZlib, FlagZstd or 0).
	Status uint32
	// Incomplete marks the dump incomplete (the source was), lost pages
	// or not.
	Incomplete bool
}

// Packed is one page ready to write: its bytes as stored and the
// descriptor flags saying how they are compressed (0: stored as is).
type Packed struct {
	PFN   uint64
	Data  []byte
	Flags uint32
	// Lost: the page is listed as dumped but its descriptor is left zero,
	// as in a capture cut short (the header is marked incomplete).
	Lost bool
}

// Packer compresses pages with one codec.
type Packer struct {
	flag uint32
	buf  bytes.Buffer
	zw   *zlib.Writer
	zstd *zstd.Encoder
}

// NewPacker returns a packer for "zlib" (what every crash reads), "zstd"
// (crash 8.0.3 and later) or "none".
func NewPacker(codec string) (*Packer, error) {
	p := &Packer{}
	switch codec {
	case "zlib":
		p.flag = FlagZlib
		p.zw, _ = zlib.NewWriterLevel(&p.buf, zlib.BestCompression)
	case "zstd":
		p.flag = FlagZstd
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
		if err != nil {
			return nil, err
		}
		p.zstd = enc
	case "none":
	default:
		return nil, fmt.Errorf("unknown page compression %q (zlib, zstd or none)", codec)
	}
	return p, nil
}

// Status is the header status flag of the packer's codec.
func (p *Packer) Status() uint32 { return p.flag }

// Pack compresses one page; a page that does not shrink is stored as is,
// as makedumpfile does.
func (p *Packer) Pack(pfn uint64, page []byte) Packed {
	var out []byte
	switch p.flag {
	case FlagZlib:
		p.buf.Reset()
		p.zw.Reset(&p.buf)
		p.zw.Write(page)
		p.zw.Close()
		out = append([]byte(nil), p.buf.Bytes()...)
	case FlagZstd:
		out = p.zstd.EncodeAll(page, nil)
	}
	if out == nil || len(out) >= len(page) {
		return Packed{PFN: pfn, Data: append([]byte(nil), page...)}
	}
	return Packed{PFN: pfn, Data: out, Flags: p.flag}
}

// EncodedNote is one ELF note to put in a built dump's note area.
type EncodedNote struct {
	Name string
	Type uint32
	Desc []byte
}

// EncodeNotes lays notes out as an ELF note area (4-byte aligned name and
// descriptor, little endian) and returns where each note's descriptor
// starts in it.
func EncodeNotes(notes []EncodedNote) (area []byte, descOff []int64) {
	le := binary.LittleEndian
	pad := func() {
		for len(area)%4 != 0 {
			area = append(area, 0)
		}
	}
	for _, n := range notes {
		var h [12]byte
		le.PutUint32(h[0:], uint32(len(n.Name)+1))
		le.PutUint32(h[4:], uint32(len(n.Desc)))
		le.PutUint32(h[8:], n.Type)
		area = append(area, h[:]...)
		area = append(append(area, n.Name...), 0)
		pad()
		descOff = append(descOff, int64(len(area)))
		area = append(area, n.Desc...)
		pad()
	}
	return area, descOff
}

// Build writes img and pages (sorted by pfn, no repeats, all below
// MaxMapnr) to out. Pages with the same stored bytes (zero pages, mostly)
// share them, as makedumpfile's zero page is shared. It returns the
// file's size.
func Build(out string, img *Image, pages []Packed) (int64, error) {
	le := binary.LittleEndian
	bs := img.BlockSize
	if bs < vmcore.MinPageSize || bs&(bs-1) != 0 {
		return 0, fmt.Errorf("block size %d is not a page size", bs)
	}
	for i, p := range pages {
		if p.PFN >= img.MaxMapnr || (i > 0 && p.PFN <= pages[i-1].PFN) {
			return 0, fmt.Errorf("page %#x out of order or beyond max_mapnr %#x", p.PFN, img.MaxMapnr)
		}
	}
	// The sub-header and the note area share the blocks after the header.
	noteOff := bs + subHdrLen
	subBlocks := (subHdrLen + int64(len(img.Notes)) + bs - 1) / bs
	bitmapLen := (int64(img.MaxMapnr+7)/8 + bs - 1) / bs * bs
	bitmapOff := (1 + subBlocks) * bs
	descOff := bitmapOff + 2*bitmapLen

	header := make([]byte, bs)
	copy(header, "KDUMP   ")
	le.PutUint32(header[hdrVersion:], 6)
	for i, s := range []string{img.Uts.Sysname, img.Uts.Nodename, img.Uts.Release, img.Uts.Version, img.Uts.Machine, img.Uts.Domainname} {
		copy(header[12+i*65:12+i*65+64], s)
	}
	if !img.Time.IsZero() {
		le.PutUint64(header[408:], uint64(img.Time.Unix()))
		le.PutUint64(header[416:], uint64(img.Time.Nanosecond()/1000))
	}
	status := img.Status
	if img.Incomplete {
		status |= statusIncomplete
	}
	for _, p := range pages {
		if p.Lost {
			status |= statusIncomplete
		}
	}
	le.PutUint32(header[hdrStatus:], status)
	le.PutUint32(header[428:], uint32(bs))
	le.PutUint32(header[hdrSubHdrSize:], uint32(subBlocks))
	le.PutUint32(header[hdrBitmapBlocks:], uint32(2*bitmapLen/bs))
	le.PutUint32(header[440:], uint32(min(img.MaxMapnr, 0xffffffff)))
	le.PutUint32(header[456:], uint32(max(img.CurrentCPU, 0)))
	le.PutUint32(header[460:], uint32(img.NrCPUs))

	sub := make([]byte, subBlocks*bs)
	le.PutUint64(sub[0:], img.PhysBase)
	le.PutUint32(sub[8:], uint32(img.DumpLevel))
	if img.VMCoreInfoLen > 0 {
		le.PutUint64(sub[subVMCI:], uint64(noteOff+img.VMCoreInfoOff))
		le.PutUint64(sub[subVMCI+8:], uint64(img.VMCoreInfoLen))
	}
	if len(img.Notes) > 0 {
		le.PutUint64(sub[subNote:], uint64(noteOff))
		le.PutUint64(sub[subNote+8:], uint64(len(img.Notes)))
	}
	le.PutUint64(sub[96:], img.MaxMapnr) // max_mapnr_64
	copy(sub[subHdrLen:], img.Notes)

	bitmap1 := make([]byte, bitmapLen)
	bitmap2 := make([]byte, bitmapLen)
	for pfn := uint64(0); pfn < img.MaxMapnr; pfn++ {
		if img.RAM(pfn) {
			bitmap1[pfn/8] |= 1 << (pfn % 8)
		}
	}
	for _, p := range pages {
		bitmap1[p.PFN/8] |= 1 << (p.PFN % 8) // a kept page is RAM whatever the source said
		bitmap2[p.PFN/8] |= 1 << (p.PFN % 8)
	}

	descs := make([]byte, int64(len(pages))*pageDescLen)
	var data bytes.Buffer
	dataOff := descOff + int64(len(descs))
	shared := map[string]int64{}
	for i, p := range pages {
		if p.Lost {
			continue
		}
		at, ok := shared[string(p.Data)]
		if !ok {
			at = dataOff + int64(data.Len())
			shared[string(p.Data)] = at
			data.Write(p.Data)
		}
		d := descs[i*pageDescLen:]
		le.PutUint64(d[0:], uint64(at))
		le.PutUint32(d[8:], uint32(len(p.Data)))
		le.PutUint32(d[12:], p.Flags)
	}

	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	s := &sink{f: f}
	s.put(0, header)
	s.put(bs, sub)
	s.put(bitmapOff, bitmap1)
	s.put(bitmapOff+bitmapLen, bitmap2)
	s.put(descOff, descs)
	s.put(dataOff, data.Bytes())
	if err := s.close(); err != nil {
		os.Remove(out)
		return 0, fmt.Errorf("%s: %v", out, err)
	}
	return dataOff + int64(data.Len()), nil
}
