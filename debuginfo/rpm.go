package debuginfo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cavaliergopher/cpio"
)

// An RPM (kernel-debuginfo-*.rpm) is a 96-byte lead, a signature header
// padded to 8 bytes, the package header, and the payload: a cpio archive
// (SVR4 "newc") compressed as the header's PAYLOADCOMPRESSOR tag says.
// Only the two payload tags are read from the header; the signature is
// skipped (what is taken out is checked by its build-id instead).

const (
	rpmLeadSize     = 96
	rpmLeadMagic    = 0xedabeedb
	rpmHeaderMagic  = 0x8eade801 // with its version byte (1)
	rpmMaxIndex     = 0xffff     // rpm's own limits (HEADER_TAGS_MAX, HEADER_DATA_MAX)
	rpmMaxData      = 0x0fffffff
	rpmTagPayFormat = 1124 // RPMTAG_PAYLOADFORMAT
	rpmTagPayComp   = 1125 // RPMTAG_PAYLOADCOMPRESSOR
	rpmTypeString   = 6
)

// RPMFormatError is an RPM that cannot be read: where, and what was wrong.
type RPMFormatError struct {
	Off int64
	Msg string
}

func (e *RPMFormatError) Error() string { return fmt.Sprintf("rpm: %s at %#x", e.Msg, e.Off) }

// rpmHeader is what is read of one header: its string tags.
type rpmHeader struct {
	strings map[uint32]string
}

// readRPMHeader reads one header structure at off (the reader's place),
// keeping the string tags named in want. size bounds what may be read.
func readRPMHeader(r *bufio.Reader, off, size int64, want ...uint32) (rpmHeader, int64, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return rpmHeader{}, 0, &RPMFormatError{off, "header cut short: " + err.Error()}
	}
	if m := binary.BigEndian.Uint32(intro[0:]); m != rpmHeaderMagic {
		return rpmHeader{}, 0, &RPMFormatError{off, fmt.Sprintf("header magic %#08x, want %#08x", m, rpmHeaderMagic)}
	}
	nindex, hsize := int64(binary.BigEndian.Uint32(intro[8:])), int64(binary.BigEndian.Uint32(intro[12:]))
	if nindex > rpmMaxIndex || hsize > rpmMaxData || 16+nindex*16+hsize > size-off {
		return rpmHeader{}, 0, &RPMFormatError{off, fmt.Sprintf("header of %d entries and %d bytes does not fit the file's %d bytes", nindex, hsize, size)}
	}
	index := make([]byte, nindex*16)
	if _, err := io.ReadFull(r, index); err != nil {
		return rpmHeader{}, 0, &RPMFormatError{off + 16, "header index cut short: " + err.Error()}
	}
	h := rpmHeader{strings: map[uint32]string{}}
	var wanted []uint32 // offsets in the data of the tags wanted
	var tags []uint32
	for i := int64(0); i < nindex; i++ {
		e := index[i*16:]
		tag, typ, eoff := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:])
		for _, w := range want {
			if tag == w && typ == rpmTypeString && int64(eoff) < hsize {
				wanted, tags = append(wanted, eoff), append(tags, tag)
			}
		}
	}
	if len(wanted) == 0 {
		if _, err := r.Discard(int(hsize)); err != nil {
			return rpmHeader{}, 0, &RPMFormatError{off + 16 + nindex*16, "header data cut short: " + err.Error()}
		}
		return h, 16 + nindex*16 + hsize, nil
	}
	data := make([]byte, hsize)
	if _, err := io.ReadFull(r, data); err != nil {
		return rpmHeader{}, 0, &RPMFormatError{off + 16 + nindex*16, "header data cut short: " + err.Error()}
	}
	for i, o := range wanted {
		s := data[o:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return rpmHeader{}, 0, &RPMFormatError{off + 16 + nindex*16 + int64(o), fmt.Sprintf("tag %d: string not terminated", tags[i])}
		}
		h.strings[tags[i]] = string(s[:end])
	}
	return h, 16 + nindex*16 + hsize, nil
}

// rpmPayload reads an RPM's lead and headers from r (size bytes in all)
// and returns its payload's files, decompressed. The second value names the
// compression, for messages.
func rpmPayload(r *bufio.Reader, size int64) (*cpio.Reader, io.Closer, string, error) {
	var lead [rpmLeadSize]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil || binary.BigEndian.Uint32(lead[:]) != rpmLeadMagic {
		return nil, nil, "", &RPMFormatError{0, "not an RPM (no lead magic)"}
	}
	off := int64(rpmLeadSize)
	_, n, err := readRPMHeader(r, off, size) // the signature: nothing wanted
	if err != nil {
		return nil, nil, "", fmt.Errorf("signature %w", err)
	}
	off += n
	if pad := (8 - off%8) % 8; pad > 0 {
		if _, err := r.Discard(int(pad)); err != nil {
			return nil, nil, "", &RPMFormatError{off, "signature padding cut short"}
		}
		off += pad
	}
	h, n, err := readRPMHeader(r, off, size, rpmTagPayFormat, rpmTagPayComp)
	if err != nil {
		return nil, nil, "", err
	}
	off += n
	if f, ok := h.strings[rpmTagPayFormat]; ok && f != "cpio" {
		return nil, nil, "", &RPMFormatError{off, fmt.Sprintf("payload format %q (only cpio is read)", f)}
	}
	comp := h.strings[rpmTagPayComp]
	if comp == "" { // no tag: gzip (rpm before 4.0) or not compressed (w0.ufdio)
		comp = "none"
		if m, _ := r.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
			comp = "gzip"
		}
	}
	body := io.LimitReader(r, size-off)
	dec, err := decompress(comp, body)
	switch {
	case errors.Is(err, errCompression):
		return nil, nil, comp, &RPMFormatError{off, fmt.Sprintf("payload compressor %q not supported (gzip, bzip2, xz, lzma, zstd, none)", comp)}
	case err != nil:
		return nil, nil, comp, &RPMFormatError{off, comp + " payload: " + err.Error()}
	}
	return cpio.NewReader(dec), dec, comp, nil
}

// cpioFiles walks an RPM payload's regular files. rpm 4.12+ writes
// packages holding a file of 4 GiB or more with a stripped cpio header
// ("07070X") that this reader does not take; it is said so.
type cpioFiles struct {
	r *cpio.Reader
}

func (c cpioFiles) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c cpioFiles) next() (string, int64, error) {
	for {
		h, err := c.r.Next()
		if err != nil {
			if errors.Is(err, cpio.ErrHeader) {
				return "", 0, errors.New("cpio payload: unreadable entry header (an rpm with 4 GiB+ files uses the stripped 07070X headers, not read)")
			}
			return "", 0, err
		}
		if h.Mode.IsRegular() {
			return h.Name, h.Size, nil
		}
	}
}
