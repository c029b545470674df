package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/symbols"
)

func init() { addCommand("pack", newPackCmd) }

func newPackCmd() *cobra.Command {
	var out, btfPath, pahole string
	cmd := &cobra.Command{
		Use:   "pack VMLINUX -o PACK",
		Short: "turn a debug vmlinux into a compact debuginfo pack (BTF, symbols, .debug_frame, lines)",
		Long: `pack writes what ktriage reads from a debug vmlinux into one small file: the
kernel's types as BTF (encoded from the vmlinux's DWARF by pahole, from
Debian's dwarves package, unless --btf names BTF made already), its symbol
table, its .debug_frame, its source lines (each address's file:line, as the
vmlinux's DWARF gives it) and its build-id and linux_banner. Give the pack to
--vmlinux wherever a vmlinux goes: for kernels without their own BTF (before
6.0) it is a few MB instead of hundreds. --btf may name an older pack of the
same build, to remake it (say, to add the lines an older ktriage left out)
without running pahole again.`,
		Example: `  ktriage pack /usr/lib/debug/lib/modules/3.10.0-1160.el7.x86_64/vmlinux -o el7.pack
  ktriage analyze --vmlinux el7.pack /var/crash/127.0.0.1-2024-05-01-10:00:00/vmcore
  ktriage pack vmlinux --btf vmlinux.btf -o vmlinux.pack   # BTF made already
  ktriage pack vmlinux --btf old.pack -o new.pack          # BTF of an older pack`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("pack: -o PACK is required")
			}
			vmlinux := args[0]
			if btfPath == "" {
				tmp, err := os.MkdirTemp("", "ktriage-pack")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				btfPath = filepath.Join(tmp, "vmlinux.btf")
				c := exec.Command(pahole, "--btf_encode_detached="+btfPath, vmlinux)
				if msg, err := c.CombinedOutput(); err != nil {
					return fmt.Errorf("pack: %s --btf_encode_detached %s: %v\n%s", pahole, vmlinux, err, msg)
				}
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := symbols.WritePack(f, vmlinux, btfPath); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return describePack(cmd.ErrOrStderr(), out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the pack to write")
	cmd.Flags().StringVar(&btfPath, "btf", "", "raw BTF of the vmlinux, or a pack of the same build to take it from (default: run pahole)")
	cmd.Flags().StringVar(&pahole, "pahole", "pahole", "the pahole to run")
	return cmd
}

// describePack tells what went into the pack: each entry's size as
// stored, and whether the vmlinux had line tables to give it.
func describePack(w io.Writer, path string) error {
	z, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer z.Close()
	var parts []string
	lines := false
	for _, f := range z.File {
		parts = append(parts, fmt.Sprintf("%s %d", f.Name, f.CompressedSize64))
		lines = lines || f.Name == symbols.PackLinesEntry
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d bytes (%s)\n", path, st.Size(), strings.Join(parts, ", "))
	if !lines {
		fmt.Fprintf(w, "%s: the vmlinux has no line tables (.debug_aranges, .debug_line): frames will have no file:line\n", path)
	}
	return nil
}
