package crashdir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/vmcore"
)

// identityPrefix is how much of each file the checksum covers: the dump
// header and the first pages, enough to tell two dumps apart without
// reading gigabytes.
const identityPrefix = 1 << 20

// Identity says which dump a stored row belongs to. Two runs over the same
// unchanged files compute the same Key; a dump that was rewritten, grew
// (an incomplete capture finished) or moved gets a new one.
type Identity struct {
	Key      string `json:"key"`
	Path     string `json:"path"` // absolute; split sets join their parts with spaces
	Size     int64  `json:"size"` // total of every part
	Checksum string `json:"checksum"`
}

// identify computes the identity of a crash's files.
func identify(files []string) (Identity, error) {
	if len(files) == 0 {
		return Identity{}, fmt.Errorf("no files to identify")
	}
	sum := sha256.New()
	var abs []string
	var total int64
	for _, p := range files {
		a, err := filepath.Abs(p)
		if err != nil {
			return Identity{}, err
		}
		abs = append(abs, a)
		size, err := hashPrefix(sum, p)
		if err != nil {
			return Identity{}, err
		}
		total += size
	}
	id := Identity{Path: strings.Join(abs, " "), Size: total, Checksum: hex.EncodeToString(sum.Sum(nil))}
	key := sha256.Sum256([]byte(id.Path + "\x00" + strconv.FormatInt(id.Size, 10) + "\x00" + id.Checksum))
	id.Key = hex.EncodeToString(key[:16])
	return id, nil
}

func hashPrefix(w io.Writer, path string) (int64, error) {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, io.LimitReader(f, identityPrefix)); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return st.Size(), nil
}
