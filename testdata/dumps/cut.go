//go:build ignore

// cut writes a small fixture from a real kdump-compressed dump: only the
// pages ktriage's readers touch, their compressed bytes copied verbatim.
// It then reruns the same readers on the result and fails unless they
// give the same answers as on the source.
//
//	go run testdata/dumps/cut.go [-full] [-F] [-split N] [-lost K] -o OUT SRC [SRC.2 ...]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ktriage/ktriage/internal/cutdump"
	"github.com/ktriage/ktriage/vmcore"
)

func main() {
	out := flag.String("o", "", "output dump (OUT.1 ... OUT.N when split)")
	full := flag.Bool("full", false, "also keep what kallsyms+BTF, sys and the task list read (not only the dmesg path)")
	flat := flag.Bool("F", false, "write the flattened format (makedumpfile -F)")
	parts := flag.Int("split", 1, "split into N files (makedumpfile --split)")
	lost := flag.Int("lost", 0, "mark INCOMPLETE and leave the descriptors of K extra pages unwritten")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run testdata/dumps/cut.go [-full] [-F] [-split N] [-lost K] -o OUT SRC [SRC.2 ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *out, *full, cutdump.Options{Parts: *parts, Flattened: *flat, Lost: *lost}); err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		os.Exit(1)
	}
}

func run(src []string, out string, full bool, opts cutdump.Options) error {
	d, err := vmcore.Open(src...)
	if err != nil {
		return err
	}
	defer d.Close()
	want, err := cutdump.Run(d, full)
	if err != nil {
		return fmt.Errorf("%s: %w", src[0], err)
	}
	res, err := cutdump.Write(d, want.PFNs, out, opts)
	if err != nil {
		return err
	}
	c, err := vmcore.Open(res.Paths...)
	if err != nil {
		return fmt.Errorf("the cut dump does not open: %w", err)
	}
	defer c.Close()
	got, err := cutdump.Run(c, full)
	if err != nil {
		return fmt.Errorf("the cut dump does not read: %w", err)
	}
	if diff := got.Same(want); diff != "" {
		return fmt.Errorf("the cut dump reads differently from %s: %s", src[0], diff)
	}
	var total int64
	sizes := make([]string, len(res.Sizes))
	for i, s := range res.Sizes {
		total += s
		sizes[i] = fmt.Sprint(s)
	}
	fmt.Printf("%s: %s, %d of %d pages read kept (%d compressed bytes), %d lost, %s bytes (%d total)\n",
		strings.Join(res.Paths, " "), c.Describe(), res.Kept, len(want.PFNs), res.DataBytes, len(res.LostPFNs),
		strings.Join(sizes, "+"), total)
	return nil
}
