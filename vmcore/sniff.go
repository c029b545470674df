package vmcore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Format is the layout of an opened dump; its text is what `info` and
// the reports print.
type Format string

const (
	FormatKdump Format = "kdump-compressed" // makedumpfile/QEMU diskdump, plain, flattened or split
	FormatELF   Format = "elf"              // /proc/vmcore as written, or QEMU's ELF dump
)

func (f Format) String() string { return string(f) }

// InputKind is what a file is, as far as its first bytes tell. Every part of
// ktriage that must decide what a path holds (the commands, crash-tree
// discovery, the dump reader) asks SniffFile rather than keeping its own list
// of signatures.
type InputKind int

const (
	// InputOther is neither a dump nor a compressed container: a text log,
	// or something that is not ours (the log reader decides).
	InputOther InputKind = iota
	InputELF
	InputKdump     // kdump-compressed: "KDUMP   " (makedumpfile, QEMU) or "DISKDUMP"
	InputFlattened // makedumpfile -F stream
	InputPacked    // a gzip, xz, zstd, bzip2 or lz4 container
	InputTar       // a POSIX or GNU tar archive (a crash folder packed up)
)

func (k InputKind) String() string {
	switch k {
	case InputELF:
		return "ELF core"
	case InputKdump:
		return "kdump-compressed"
	case InputFlattened:
		return "flattened makedumpfile"
	case InputPacked:
		return "compressed file"
	case InputTar:
		return "tar archive"
	}
	return "other"
}

// IsDump reports whether the kind is a crash dump format Open reads.
func (k InputKind) IsDump() bool { return k == InputELF || k == InputKdump || k == InputFlattened }

// Sniffed is what SniffBytes found.
type Sniffed struct {
	Kind InputKind
	// Container names the compression of an InputPacked file
	// ("gzip", "xz", "zstd", "bzip2", "lz4").
	Container string
}

// containerMagic are the compressed containers archived cores and logs come in.
var containerMagic = []struct {
	name  string
	magic []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"bzip2", []byte("BZh")},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
}

// SniffLen is how many leading bytes SniffBytes needs: a tar archive's
// magic sits at offset 257.
const SniffLen = 512

// tarMagicOffset is where ustar headers keep "ustar" (POSIX "ustar\x00",
// GNU "ustar  \x00").
const tarMagicOffset = 257

// SniffBytes tells the kind of a file from its first bytes.
func SniffBytes(head []byte) Sniffed {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return Sniffed{Kind: InputELF}
	case bytes.HasPrefix(head, []byte(kdumpSignature)), bytes.HasPrefix(head, []byte("DISKDUMP")):
		return Sniffed{Kind: InputKdump}
	case bytes.HasPrefix(head, []byte("makedumpfile")):
		return Sniffed{Kind: InputFlattened}
	}
	for _, c := range containerMagic {
		if bytes.HasPrefix(head, c.magic) {
			return Sniffed{Kind: InputPacked, Container: c.name}
		}
	}
	if len(head) >= tarMagicOffset+5 && string(head[tarMagicOffset:tarMagicOffset+5]) == "ustar" {
		return Sniffed{Kind: InputTar}
	}
	return Sniffed{Kind: InputOther}
}

// SniffFile reads the first bytes of path (a regular file; see OpenRegular)
// and tells its kind.
func SniffFile(path string) (Sniffed, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return Sniffed{}, err
	}
	defer f.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Sniffed{}, fmt.Errorf("%s: %w", path, err)
	}
	return SniffBytes(head[:n]), nil
}

// ErrNotRegular is returned by OpenRegular for a FIFO, socket, device or
// directory.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path read-only, following symbolic links, and refuses
// anything but a regular file. The open itself does not block: a FIFO named
// vmcore in a crash tree (or a link to one) would otherwise hang discovery
// until a writer came, and a device such as /dev/zero would feed an endless
// "file".
func OpenRegular(path string) (*os.File, error) { return openRegular(path, 0, nil) }

// openRegular is OpenRegular with more open flags, and refusing also a
// file for which refuse (when not nil) gives an error.
func openRegular(path string, flag int, refuse func(os.FileInfo) error) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|flag, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, describeMode(st.Mode()))
	}
	if refuse != nil {
		if err := refuse(st); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return f, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return m.Type().String()
}
