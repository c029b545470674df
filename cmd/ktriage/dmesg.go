package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/kernel"
)

func init() { addCommand("dmesg", newDmesgCmd) }

func newDmesgCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "dmesg DUMP [DUMP.2 ...]",
		Example: `  ktriage dmesg vmcore | tail -50
  ktriage dmesg /var/crash/202611201023/          # a kdump directory
  ktriage dmesg vmcore.xz --format json           # one JSON object per record`,
		Short: "Print the kernel log from a dump, with no debuginfo (as makedumpfile --dump-dmesg)",
		Long: `Print the kernel log stored in a crash dump. Only the dump's VMCOREINFO is
needed, so this works before any debuginfo is at hand. Give every file of a
split dump. The output is byte for byte what makedumpfile --dump-dmesg writes.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "" {
				return fmt.Errorf("unknown --format %q (text or json)", format)
			}
			d, _, err := openDump(cmd, args)
			if err != nil {
				return err
			}
			defer d.Close()
			// Damage found opening the dump (a file cut short) may not touch
			// the log, but the reader should know of it.
			for _, w := range d.Warnings {
				writeSafe(cmd.ErrOrStderr(), func(out io.Writer) { fmt.Fprintln(out, "ktriage: warning:", w) })
			}
			opened, err := kernel.Open(d, kernel.OpenOptions{LogOnly: true, Trace: runTrace})
			if err != nil {
				return fmt.Errorf("%s: kernel log: %w", args[0], err)
			}
			recs, err := opened.Log, opened.LogErr
			// A damaged log still prints what it holds; the loss is then
			// the error (exit status 1), after the records.
			var damage *kernel.LogDamage
			if err != nil && !errors.As(err, &damage) {
				return fmt.Errorf("%s: kernel log: %w", args[0], err)
			}
			switch format {
			case "text", "":
				err = kernel.WriteDmesg(cmd.OutOrStdout(), recs)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, r := range recs {
					if err = enc.Encode(dmesgJSON(r)); err != nil {
						break
					}
				}
			default:
				return fmt.Errorf("unknown --format %q (text or json)", format)
			}
			if err == nil && damage != nil {
				err = fmt.Errorf("%s: %w", args[0], damage)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (one object per record)")
	return cmd
}

type dmesgRecord struct {
	Seq    uint64  `json:"seq"`
	Time   float64 `json:"time"`
	Caller string  `json:"caller,omitempty"`
	Text   string  `json:"text"`
}

func dmesgJSON(r kernel.LogRecord) dmesgRecord {
	out := dmesgRecord{Seq: r.Seq, Time: float64(r.TsNsec) / 1e9, Text: string(r.Text)}
	if r.CallerID != 0 {
		if r.CallerID&0x80000000 != 0 {
			out.Caller = fmt.Sprintf("C%d", r.CallerID&0x7fffffff)
		} else {
			out.Caller = fmt.Sprintf("T%d", r.CallerID)
		}
	}
	return out
}
