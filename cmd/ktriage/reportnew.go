package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/report"
)

func init() { addCommand("report-new", newReportNewCmd) }

// reportBaseName is what report-new calls the reports it leaves beside a
// crash: ktriage-report.txt, .json, .html. crashdir knows the name too and
// does not take the reports for logs.
const reportBaseName = "ktriage-report"

// reportFormats are the reports report-new writes, by file extension. The
// text report comes last: its presence marks the crash as done.
var reportFormats = []struct{ ext, format string }{{"json", "json"}, {"html", "html"}, {"txt", "text"}}

func newReportNewCmd() *cobra.Command {
	var rulesDir string
	var settle time.Duration
	cmd := &cobra.Command{
		Use:   "report-new DIR",
		Short: "Analyze each crash below DIR not yet reported, leaving ktriage-report.{txt,json,html} beside it",
		Long: `For unattended use after a reboot (the ktriage-crash systemd units run it on
/var/crash): every crash below DIR without a ktriage-report.txt beside it is
analyzed once; the three reports are written into its crash folder (never over
the dump), and one line per crash — where, the crash title, the verdict — goes
to standard output, which systemd sends to the journal. A crash that cannot be
analyzed gets a ktriage-report.txt saying why, so it is not retried at every
boot. Exit status 2 when some crash could not be analyzed.`,
		Example: `  ktriage report-new /var/crash
  journalctl -u ktriage-crash.service     # what the units reported`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return err
			}
			if settle < 0 {
				return fmt.Errorf("--settle %s: give a duration such as 2m, or 0", settle)
			}
			return reportNew(cmd, args[0], rb, settle)
		},
	}
	cmd.Flags().StringVar(&rulesDir, "rules", "", "folder of extra YAML rules (a team's own rulebook)")
	cmd.Flags().DurationVar(&settle, "settle", 0, "wait until a crash's files have not changed for this long (a dump still being copied in)")
	return cmd
}

func reportNew(cmd *cobra.Command, root string, rb *analyzers.Rulebook, settle time.Duration) error {
	d, err := crashdir.Discover([]string{root})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	failed, done := 0, 0
	for _, c := range d.Crashes {
		base := reportBase(root, c)
		if _, err := os.Stat(base + ".txt"); err == nil {
			continue // reported on an earlier run (or found unreadable then)
		}
		waitSettled(c, settle)
		title, verdict, err := reportOne(cmd, root, c, base, rb)
		if err != nil {
			failed++
			msg := fmt.Sprintf("ktriage could not analyze this crash: %v\n", err)
			if werr := os.WriteFile(base+".txt", []byte(msg), 0o644); werr != nil {
				msg += fmt.Sprintf("(and could not write %s.txt: %v)\n", base, werr)
			}
			writeSafe(out, func(w io.Writer) { fmt.Fprintf(w, "%s: not analyzed: %v\n", c.Name(), err) })
			continue
		}
		done++
		writeSafe(out, func(w io.Writer) { fmt.Fprintf(w, "%s: %s — %s (reports in %s.*)\n", c.Name(), title, verdict, base) })
	}
	if failed > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s of %d new could not be analyzed", plural(failed, "crash"), failed+done)}
	}
	return nil
}

// reportBase is where a crash's reports go, without extension: in its
// own crash folder, or beside it with its name for a crash lying loose in
// root (an archive, a lone dump or log).
func reportBase(root string, c crashdir.Crash) string {
	if c.Layout != crashdir.LayoutLoose && c.Layout != crashdir.LayoutArchive || filepath.Clean(c.Dir) != filepath.Clean(root) {
		return filepath.Join(c.Dir, reportBaseName)
	}
	return c.Name() + "." + reportBaseName
}

// reportOne analyzes one crash and writes its reports (each to a temporary
// name first, so a half-written report is never taken for a finished one).
func reportOne(cmd *cobra.Command, root string, c crashdir.Crash, base string, rb *analyzers.Rulebook) (title, verdict string, err error) {
	if c.Empty {
		return "", "", fmt.Errorf("%s is an empty crash folder: the capture saved nothing (the capture kernel's console or `journalctl -b -1 -u kdump` says why)", c.Dir)
	}
	args := c.Files()
	if filepath.Clean(c.Dir) != filepath.Clean(root) && c.Layout != crashdir.LayoutArchive {
		args = []string{c.Dir} // the folder: its dump, else its log
	}
	in, err := loadIncident(cmd, args, dumpOptions{})
	if err != nil {
		return "", "", err
	}
	analyzers.Analyze(in, rb)
	for _, f := range reportFormats {
		tmp := base + "." + f.ext + ".partial"
		w, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return "", "", err
		}
		err = report.Write(w, in, f.format, report.Options{})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, base+"."+f.ext)
		}
		if err != nil {
			os.Remove(tmp)
			return "", "", err
		}
	}
	verdict = "no known cause matched"
	if len(in.Findings) > 0 {
		f := in.Findings[0]
		verdict = fmt.Sprintf("%s [%s]", f.Title, f.Severity)
	}
	return strings.TrimSpace(in.Title), verdict, nil
}

// waitSettled returns once no file of the crash (nor its folder) has
// changed for settle; the command's --deadline bounds the wait.
func waitSettled(c crashdir.Crash, settle time.Duration) {
	for settle > 0 {
		newest := time.Time{}
		paths := append([]string{c.Dir}, c.Files()...)
		if entries, err := os.ReadDir(c.Dir); err == nil && c.Layout != crashdir.LayoutLoose && c.Layout != crashdir.LayoutArchive {
			for _, e := range entries {
				paths = append(paths, filepath.Join(c.Dir, e.Name()))
			}
		}
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil && st.ModTime().After(newest) {
				newest = st.ModTime()
			}
		}
		quiet := time.Since(newest)
		if quiet >= settle {
			return
		}
		time.Sleep(settle - quiet)
	}
}
