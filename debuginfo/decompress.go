package debuginfo

import (
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// errCompression is decompress's answer for a kind it does not know.
var errCompression = errors.New("compression not supported")

// decompress reads r through the decompressor of kind ("gzip", "bzip2",
// "xz", "lzma", "zstd" or "none"): the payloads of .deb and .rpm packages.
// Closing the result frees the decompressor, not r.
func decompress(kind string, r io.Reader) (io.ReadCloser, error) {
	switch kind {
	case "gzip":
		return gzip.NewReader(r)
	case "bzip2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case "xz":
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case "lzma":
		lr, err := lzma.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(lr), nil
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	case "none":
		return io.NopCloser(r), nil
	}
	return nil, errCompression
}
