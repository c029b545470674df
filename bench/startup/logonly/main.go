// Command logonly prints a dump's kernel log as `ktriage dmesg` does, with
// the dump reader and the log decoder and nothing else of ktriage linked: no
// command line library, no analyzers, no fleet store. It bounds from below
// what `ktriage dmesg` could cost as one binary among ktriage's commands.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: logonly DUMP [DUMP.2 ...]")
		os.Exit(2)
	}
	d, err := vmcore.OpenWith(vmcore.OpenOptions{}, os.Args[1:]...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logonly:", err)
		os.Exit(1)
	}
	opened, err := kernel.Open(d, kernel.OpenOptions{LogOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "logonly:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := kernel.WriteDmesg(w, opened.Log); err != nil {
		fmt.Fprintln(os.Stderr, "logonly:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "logonly:", err)
		os.Exit(1)
	}
}
