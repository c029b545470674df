package vmcore

import "io"

func (d *Dump) openELF(r io.ReaderAt, size int64, path string) error {
	return formatErr(path, 0, "ELF cores: not wired yet")
}
