package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

func init() { addCommand("parse-log", newParseLogCmd) }

// newParseLogCmd lists the reports textlog finds in a kernel log; a
// debugging aid for the text-log front end.
func newParseLogCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "parse-log FILE",
		Example: `  ktriage parse-log /var/log/kern.log
  ktriage parse-log --format json vmcore-dmesg.txt
  journalctl -k -b -1 > prev.log && ktriage parse-log prev.log`,
		Short: "List the crash reports found in a kernel log (dmesg, syslog, journal, console; gz/xz/zst)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			incs, err := textlog.ParseFileHosts(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				for _, in := range incs {
					if err := enc.Encode(in); err != nil {
						return err
					}
				}
				return nil
			case "text", "":
				return writeSafe(cmd.OutOrStdout(), func(w io.Writer) {
					for _, in := range incs {
						printLogIncident(w, in)
					}
				})
			}
			return fmt.Errorf("unknown --format %q: use text or json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printLogIncident(w io.Writer, in *incident.Incident) {
	host := in.Source.Host
	if host == "" {
		host = "-"
	}
	fmt.Fprintf(w, "%s  format=%s  host=%s  records kept=%d\n", in.Source.Path, in.Source.Format, host, len(in.Log))
	if in.Title != "" {
		fmt.Fprintf(w, "TITLE: %s\n", in.Title)
	}
	if p := in.Panic; p != nil {
		fmt.Fprintf(w, "PANIC: %q  task=%s\n", p.Message, task(p.Comm, p.PID, p.CPU))
	}
	for _, r := range in.Reports {
		ts := "-"
		if r.Time != nil {
			ts = strconv.FormatFloat(*r.Time, 'f', 6, 64)
		}
		fmt.Fprintf(w, "  line %-7d %-14s %-24s %-30s %s\n", r.FirstLine, ts, r.Kind, task(r.Comm, r.PID, r.CPU), r.Title)
	}
	for _, h := range in.HardwareErrs {
		fmt.Fprintf(w, "  hardware error: source=%s severity=%s section=%q device=%s id=%s:%s\n",
			h.Source, h.Severity, h.Section, h.DeviceID, h.Vendor, h.Device)
	}
	for _, b := range in.BlockedTasks {
		secs := ""
		if b.BlockedSeconds != nil {
			secs = fmt.Sprintf(" blocked %gs", *b.BlockedSeconds)
		}
		top := ""
		if c := incident.Culprit(b.Backtrace, nil); c != "" {
			top = " in " + c
		}
		fmt.Fprintf(w, "  blocked task %s:%d state %s%s%s\n", b.Comm, b.PID, b.State, secs, top)
	}
	for _, warn := range in.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

func task(comm string, pid, cpu *int) string {
	s := comm
	if pid != nil {
		s += fmt.Sprintf(":%d", *pid)
	}
	if cpu != nil {
		s += fmt.Sprintf(" cpu%d", *cpu)
	}
	if s == "" {
		return "-"
	}
	return s
}
