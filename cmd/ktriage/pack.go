package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/symbols"
)

func init() { addCommand(newPackCmd) }

func newPackCmd() *cobra.Command {
	var out, btfPath, pahole string
	cmd := &cobra.Command{
		Use:   "pack VMLINUX -o PACK",
		Short: "turn a debug vmlinux into a compact debuginfo pack (BTF, symbols, .debug_frame)",
		Long: `pack writes what ktriage reads from a debug vmlinux into one small file: the
kernel's types as BTF (encoded from the vmlinux's DWARF by pahole, from
Debian's dwarves package, unless --btf names BTF made already), its symbol
table, its .debug_frame and its build-id and linux_banner. Give the pack to
--vmlinux wherever a vmlinux goes: for kernels without their own BTF (before
6.0) it is a few MB instead of hundreds.`,
		Example: `  ktriage pack /usr/lib/debug/lib/modules/3.10.0-1160.el7.x86_64/vmlinux -o el7.pack
  ktriage analyze --vmlinux el7.pack /var/crash/127.0.0.1-2024-05-01-10:00:00/vmcore
  ktriage pack vmlinux --btf vmlinux.btf -o vmlinux.pack   # BTF made already`,
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
			return f.Close()
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the pack to write")
	cmd.Flags().StringVar(&btfPath, "btf", "", "raw BTF of the vmlinux (default: run pahole)")
	cmd.Flags().StringVar(&pahole, "pahole", "pahole", "the pahole to run")
	return cmd
}
