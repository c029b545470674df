// Command xz is the Go floor with the xz library linked (ktriage reads
// .xz-compressed dumps and RPM payloads with it).
package main

import (
	"os"

	_ "github.com/ulikunitz/xz"
)

func main() { os.Stdout.WriteString("hello\n") }
