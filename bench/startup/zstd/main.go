// Command zstd is the Go floor with klauspost's zstd linked (ktriage reads
// zstd-compressed kdump pages and .zst dumps with it).
package main

import (
	"os"

	_ "github.com/klauspost/compress/zstd"
)

func main() { os.Stdout.WriteString("hello\n") }
