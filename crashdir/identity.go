package crashdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ktriage/ktriage/vmcore"
)

// identityPrefix is how much of each file the identity covers: the dump's
// header pages (kdump's header, sub-header and VMCOREINFO; an ELF core's
// program headers and notes), which name the kernel, the crash time and
// the CPUs' registers at the crash.
const identityPrefix = 64 << 10

// Identity says which dump a stored row belongs to, by content alone: two
// copies of one dump under different paths, mounts or names have the same
// Key; a dump that was rewritten or grew (an incomplete capture finished)
// gets a new one.
type Identity struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"` // total of every part
	Checksum string `json:"checksum"`
	// BuildID and CrashTime are what the header pages' VMCOREINFO says,
	// when it lies within them (empty for logs and older kernels).
	BuildID   string    `json:"build_id,omitempty"`
	CrashTime time.Time `json:"crash_time,omitzero"`
}

// bytesRead counts what the batch read of the crashes' files to find and
// identify them (not to analyze them): a rerun that finds nothing new
// should read next to nothing.
var bytesRead atomic.Int64

// identify computes the identity of a crash's files from their sizes, the
// hash of their first identityPrefix bytes, and the kernel build-id and
// crash time found there.
func identify(files []string) (Identity, error) {
	if len(files) == 0 {
		return Identity{}, fmt.Errorf("no files to identify")
	}
	heads := sha256.New()
	var id Identity
	var sizes []byte
	for _, p := range files {
		head, size, err := readIdentityHead(p)
		if err != nil {
			return Identity{}, err
		}
		heads.Write(head)
		id.Size += size
		sizes = strconv.AppendInt(sizes, size, 10)
		sizes = append(sizes, ' ')
		if id.BuildID == "" {
			id.BuildID = vmcoreinfoValue(head, "BUILD-ID")
		}
		if id.CrashTime.IsZero() {
			if s, err := strconv.ParseInt(vmcoreinfoValue(head, "CRASHTIME"), 10, 64); err == nil && s > 0 {
				id.CrashTime = time.Unix(s, 0).UTC()
			}
		}
	}
	id.Checksum = hex.EncodeToString(heads.Sum(nil))
	key := sha256.New()
	fmt.Fprintf(key, "ktriage content key 1\x00%s\x00%s\x00%d\x00%s", sizes, id.BuildID, id.CrashTime.Unix(), id.Checksum)
	id.Key = hex.EncodeToString(key.Sum(nil)[:16])
	return id, nil
}

func readIdentityHead(path string) ([]byte, int64, error) {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	head, err := io.ReadAll(io.LimitReader(f, identityPrefix))
	bytesRead.Add(int64(len(head)))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return head, st.Size(), nil
}

// vmcoreinfoValue finds "KEY=value\n" of VMCOREINFO in raw header bytes.
// VMCOREINFO is plain text in every dump format (an ELF note, kdump's
// sub-header area, a flattened record), so no format needs parsing here.
func vmcoreinfoValue(head []byte, key string) string {
	needle := []byte("\n" + key + "=")
	i := bytes.Index(head, needle)
	if i < 0 {
		if bytes.HasPrefix(head, needle[1:]) {
			i = -1
		} else {
			return ""
		}
	}
	v := head[i+len(needle):]
	if end := bytes.IndexByte(v, '\n'); end >= 0 {
		v = v[:end]
	} else {
		return "" // cut off by the prefix: not trusted
	}
	if len(v) > 128 {
		return ""
	}
	return string(v)
}

// statFiles stats every file of a crash (following links, as the readers do).
func statFiles(files []string) ([]os.FileInfo, error) {
	out := make([]os.FileInfo, len(files))
	for i, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}
