//go:build ignore

// cut writes a small fixture from a real kdump-compressed dump: only the
// pages ktriage's readers touch, their compressed bytes copied verbatim.
// It then reruns the same readers on the result and fails unless they
// give the same answers as on the source.
//
//	go run testdata/dumps/cut.go [-full|-stacks] [-analyze] [-vmlinux F] [-F] [-split N] [-lost K] [-makedumpfile PATH] -o OUT SRC [SRC.2 ...]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/internal/cutdump"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/triage"
	"github.com/ktriage/ktriage/vmcore"
)

func main() {
	out := flag.String("o", "", "output dump (OUT.1 ... OUT.N when split)")
	full := flag.Bool("full", false, "also keep what kallsyms+BTF, sys and the task list read (not only the dmesg path)")
	stacks := flag.Bool("stacks", false, "like -full, and also what bt reads: every task's and CPU's stack, the ORC tables")
	flat := flag.Bool("F", false, "write the flattened format (makedumpfile -F)")
	parts := flag.Int("split", 1, "split into N files (makedumpfile --split)")
	lost := flag.Int("lost", 0, "mark INCOMPLETE and leave the descriptors of K extra pages unwritten")
	analyze := flag.Bool("analyze", false, "also keep what `ktriage analyze` reads beyond bt (lock waiters and owners, settings, mounts)")
	vmlinux := flag.String("vmlinux", "", "names and types from this debug vmlinux (or debuginfo pack) instead of the dump's kallsyms and BTF (kernels before 6.0)")
	mdf := flag.String("makedumpfile", "", "also keep the pages this makedumpfile needs for --dump-dmesg, and check it prints the same log from the cut")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run testdata/dumps/cut.go [-full|-stacks] [-analyze] [-vmlinux F] [-F] [-split N] [-lost K] [-makedumpfile PATH] -o OUT SRC [SRC.2 ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	reads := cutdump.ReadDmesg
	switch {
	case *stacks:
		reads = cutdump.ReadStacks
	case *full:
		reads = cutdump.ReadSys
	}
	attach := kernel.AttachOptions{Vmlinux: *vmlinux}
	if err := run(flag.Args(), *out, reads, attach, *analyze, *mdf, cutdump.Options{Parts: *parts, Flattened: *flat, Lost: *lost}); err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		os.Exit(1)
	}
}

func run(src []string, out string, reads cutdump.Reads, attach kernel.AttachOptions, analyze bool, mdf string, opts cutdump.Options) error {
	d, err := vmcore.Open(src...)
	if err != nil {
		return err
	}
	defer d.Close()
	want, err := cutdump.RunWith(src, reads, attach)
	if err != nil {
		return fmt.Errorf("%s: %w", src[0], err)
	}
	pfns := want.PFNs
	if analyze {
		if pfns, err = analyzePages(src, attach.Vmlinux, pfns); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "cut")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if mdf != "" {
		if pfns, err = makedumpfilePages(d, pfns, mdf, tmp); err != nil {
			return err
		}
	}
	res, err := cutdump.Write(d, pfns, out, opts)
	if err != nil {
		return err
	}
	if mdf != "" {
		log, err := makedumpfileDmesg(res, opts, mdf, tmp)
		if err != nil {
			return err
		}
		if !bytes.Equal(log, want.Dmesg) {
			return fmt.Errorf("makedumpfile --dump-dmesg prints a different log from the cut than ktriage from the source")
		}
		fmt.Printf("makedumpfile reads the cut (+%d pages for it) and prints the same log\n", len(pfns)-len(want.PFNs))
	}
	c, err := vmcore.Open(res.Paths...)
	if err != nil {
		return fmt.Errorf("the cut dump does not open: %w", err)
	}
	defer c.Close()
	got, err := cutdump.RunWith(res.Paths, reads, attach)
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
	fmt.Printf("%s: %s, %d pages kept (%d read by ktriage; %d compressed bytes), %d lost, %s bytes (%d total)\n",
		strings.Join(res.Paths, " "), c.Describe(), res.Kept, len(want.PFNs), res.DataBytes, len(res.LostPFNs),
		strings.Join(sizes, "+"), total)
	return nil
}

// makedumpfile names each page it could not read: "pfn(37df9) is excluded".
var mdfMissing = regexp.MustCompile(`pfn\(([0-9a-f]+)\) is excluded`)

// makedumpfilePages adds to pfns the pages makedumpfile --dump-dmesg needs
// beyond ktriage's (it reads utsname, node and memory-section maps first):
// it cuts a plain file, runs makedumpfile on it and adds the page it
// reports missing, until makedumpfile succeeds.
func makedumpfilePages(d *vmcore.Dump, pfns []uint64, mdf, tmp string) ([]uint64, error) {
	pfns = append([]uint64(nil), pfns...)
	cut := filepath.Join(tmp, "probe.vmcore")
	for try := 0; try < 1000; try++ {
		if _, err := cutdump.Write(d, pfns, cut, cutdump.Options{}); err != nil {
			return nil, err
		}
		msg, err := exec.Command(mdf, "--dump-dmesg", cut, filepath.Join(tmp, "probe.dmesg")).CombinedOutput()
		if err == nil {
			return pfns, nil
		}
		m := mdfMissing.FindSubmatch(msg)
		if m == nil {
			return nil, fmt.Errorf("makedumpfile on the cut: %v: %s", err, msg)
		}
		pfn, _ := strconv.ParseUint(string(m[1]), 16, 64)
		for _, p := range pfns {
			if p == pfn {
				return nil, fmt.Errorf("makedumpfile still misses pfn %#x, which the source does not hold: %s", pfn, msg)
			}
		}
		pfns = append(pfns, pfn)
	}
	return nil, fmt.Errorf("makedumpfile still fails after 1000 added pages")
}

// makedumpfileDmesg is the log makedumpfile prints from the written dump,
// after reassembling it the way a user would (-R for a flattened file,
// --reassemble for a split set): an independent check of the writer.
func makedumpfileDmesg(res *cutdump.Result, opts cutdump.Options, mdf, tmp string) ([]byte, error) {
	path := res.Paths[0]
	run := func(stdin string, args ...string) error {
		cmd := exec.Command(mdf, args...)
		if stdin != "" {
			f, err := os.Open(stdin)
			if err != nil {
				return err
			}
			defer f.Close()
			cmd.Stdin = f
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("makedumpfile %s: %v: %s", strings.Join(args, " "), err, msg)
		}
		return nil
	}
	if len(res.Paths) > 1 {
		flat := res.Paths
		if opts.Flattened {
			flat = nil
			for i, p := range res.Paths {
				re := filepath.Join(tmp, fmt.Sprintf("part.%d", i))
				if err := run(p, "-R", re); err != nil {
					return nil, err
				}
				flat = append(flat, re)
			}
		}
		path = filepath.Join(tmp, "reassembled")
		if err := run("", append(append([]string{"--reassemble"}, flat...), path)...); err != nil {
			return nil, err
		}
	} else if opts.Flattened {
		path = filepath.Join(tmp, "rearranged")
		if err := run(res.Paths[0], "-R", path); err != nil {
			return nil, err
		}
	}
	log := filepath.Join(tmp, "dmesg.txt")
	if err := run("", "--dump-dmesg", path, log); err != nil {
		return nil, err
	}
	return os.ReadFile(log)
}

// analyzePages adds the pages a full triage of the dump reads (what the
// workload's readers do not: the lock a D task waits on and its owner, the
// settings analyzers quote) to pfns.
func analyzePages(src []string, vmlinux string, pfns []uint64) ([]uint64, error) {
	seen := map[uint64]bool{}
	for _, p := range pfns {
		seen[p] = true
	}
	if _, err := triage.LoadDump(src, triage.Options{Vmlinux: vmlinux, PageHook: func(pfn uint64) { seen[pfn] = true }}); err != nil {
		return nil, fmt.Errorf("triage of %s: %w", src[0], err)
	}
	out := make([]uint64, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
