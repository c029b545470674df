package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// dumpFlags are the flags every command that reads a kernel from a dump shares.
type dumpFlags struct {
	vmlinux      string
	debuginfoDir string
	noDebuginfo  bool
	format       string
	fetch        fetchFlags
}

func (f *dumpFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.vmlinux, "vmlinux", "", "debug vmlinux matching the dump (default: the dump's own kallsyms and BTF)")
	cmd.Flags().StringVar(&f.debuginfoDir, "debuginfo-dir", "", "folder to search for the dump's debug vmlinux and modules' debuginfo (files, or .deb/.rpm debug packages read in place) before the distro paths")
	cmd.Flags().BoolVar(&f.noDebuginfo, "no-debuginfo", false, "do not look for a debug vmlinux: use the dump's own kallsyms and BTF")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text or json")
	f.fetch.register(cmd.Flags())
}

// openKernel opens a dump (anything resolveInputs takes) through
// kernel.Open and requires names and types (bt, ps, sys read tasks). The
// caller closes both (the kernel first: closing it saves the DWARF index).
func (f *dumpFlags) openKernel(cmd *cobra.Command, paths []string) (*vmcore.Dump, *kernel.Opened, error) {
	if f.format != "text" && f.format != "json" && f.format != "" {
		return nil, nil, fmt.Errorf("unknown --format %q (text or json)", f.format)
	}
	var fetch *debuginfo.Client
	if !f.noDebuginfo {
		c, err := f.fetch.client(cmd.ErrOrStderr())
		if err != nil {
			return nil, nil, err
		}
		fetch = c
	}
	d, _, err := openDump(cmd, paths)
	if err != nil {
		return nil, nil, err
	}
	o, err := kernel.Open(d, kernel.OpenOptions{AttachOptions: kernel.AttachOptions{
		Vmlinux: f.vmlinux, Discover: !f.noDebuginfo, DebuginfoDir: f.debuginfoDir,
		Fetch: fetch, WantDWARF: f.fetch.dwarf, Names: names()}, Trace: runTrace})
	if err == nil && o.Kernel == nil {
		err = o.KernelErr
	}
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("%s: %w", paths[0], err)
	}
	return d, o, nil
}
