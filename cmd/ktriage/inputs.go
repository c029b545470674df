package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/internal/unpack"
	"github.com/ktriage/ktriage/triage"
	"github.com/ktriage/ktriage/vmcore"
)

// Every command resolves what it was given the same way (resolveInputs):
// dump files (several for a split set), a kdump directory, a compressed or
// archived dump, or a text log. The kdump-directory layouts are crashdir's;
// archives are unpacked once into internal/unpack's cache.

// inputNeed says what a command can read.
type inputNeed int

const (
	needDump      inputNeed = iota // dmesg, sys, bt, ps, info: a dump only
	needDumpOrLog                  // analyze: a dump, else a text log
)

// resolvedInput is what the user named, made readable.
type resolvedInput struct {
	// Named are the paths as given; reports and errors cite them.
	Named []string
	// Dumps are the dump files to open (unpacked copies for an archive).
	Dumps []string
	// Log is the text log to read when there is no dump.
	Log string
	// Notes say what was done to get there (a crash chosen in a folder, an
	// archive unpacked): printed on standard error.
	Notes []string
	// Unpacked is set when the dump came out of an archive.
	Unpacked bool
}

// maxUnpackDepth bounds archives within archives (a .tar.gz holding a
// vmcore.zst is two).
const maxUnpackDepth = 4

// resolveInputs turns a command's arguments into dumps or a log, or an error
// that says what the input looks like and what to run instead.
func resolveInputs(cmd *cobra.Command, args []string, need inputNeed) (*resolvedInput, error) {
	r := &resolvedInput{Named: args}
	opts := unpack.Options{}
	if cmd != nil {
		if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			opts.Progress = f
		}
	}
	if len(args) > 1 {
		// Several paths are the parts of one split dump.
		for _, p := range args {
			sub := &resolvedInput{}
			if err := sub.resolvePath(p, needDump, opts, 0); err != nil {
				return nil, err
			}
			if len(sub.Dumps) != 1 {
				return nil, fmt.Errorf("%s holds %d dump files: give several paths only for the parts of one split dump "+
					"(vmcore.1 vmcore.2 …), or one folder", p, len(sub.Dumps))
			}
			r.Dumps = append(r.Dumps, sub.Dumps...)
			r.Notes = append(r.Notes, sub.Notes...)
			r.Unpacked = r.Unpacked || sub.Unpacked
		}
		return r, nil
	}
	if err := r.resolvePath(args[0], need, opts, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// resolvePath fills r from one path.
func (r *resolvedInput) resolvePath(path string, need inputNeed, opts unpack.Options, depth int) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return r.resolveDir(path, need, opts, depth)
	}
	s, err := vmcore.SniffFile(path)
	if err != nil {
		return err
	}
	switch {
	case s.Kind.IsDump():
		r.Dumps = append(r.Dumps, path)
		return nil
	case unpack.IsArchive(s):
		inner, err := unpack.Peek(path, opts)
		if err != nil {
			return fmt.Errorf("%s looks %s-compressed but cannot be read: %w", path, s.Container, err)
		}
		if s.Kind == vmcore.InputPacked && !inner.Kind.IsDump() && !unpack.IsArchive(inner) {
			// A compressed text log (messages.1.gz): the log reader
			// decompresses it as it reads.
			return r.takeLog(path, need, fmt.Sprintf("a %s-compressed text log", s.Container))
		}
		if depth >= maxUnpackDepth {
			return fmt.Errorf("%s: archives nested more than %d deep; unpack it by hand", path, maxUnpackDepth)
		}
		res, err := unpack.Unpack(path, opts)
		if err != nil {
			return err
		}
		r.Notes = append(r.Notes, res.Describe())
		r.Unpacked = true
		err = r.resolvePath(res.Path, need, opts, depth+1)
		var tree *treeError
		if errors.As(err, &tree) {
			return fmt.Errorf("%s holds %d crashes, not one: unpack it (`mkdir crashes && tar -xf %s -C crashes`) "+
				"and run `ktriage fleet crashes`", path, tree.n, path)
		}
		return err
	}
	if why := binaryReason(path); why != "" {
		return fmt.Errorf("%s is neither a crash dump nor a text log: %s. ktriage reads ELF, kdump-compressed and "+
			"flattened dumps (also gzip/xz/zstd/bzip2/lz4-compressed or in a tar) and kernel text logs", path, why)
	}
	return r.takeLog(path, need, "a text log")
}

// takeLog accepts a text log where one will do, and otherwise says which
// command reads it.
func (r *resolvedInput) takeLog(path string, need inputNeed, what string) error {
	if need == needDump {
		return fmt.Errorf("%s is %s, not a crash dump: this command reads dumps; "+
			"`ktriage analyze %s` reports on a log (`ktriage parse-log %s` lists what it holds)", path, what, path, path)
	}
	r.Log = path
	return nil
}

// resolveDir takes the one crash a folder holds: a kdump directory, or a
// folder whose single crash lies below it. A folder of several crashes is a
// tree, for `ktriage fleet`.
func (r *resolvedInput) resolveDir(dir string, need inputNeed, opts unpack.Options, depth int) error {
	d, err := crashdir.Discover([]string{dir})
	if err != nil {
		return err
	}
	c, err := oneCrash(dir, d)
	if err != nil {
		return err
	}
	if filepath.Clean(c.Dir) != filepath.Clean(dir) {
		r.Notes = append(r.Notes, fmt.Sprintf("%s holds one crash, in %s", dir, c.Dir))
	}
	switch {
	case len(c.Dumps) > 0:
		var dumps []string
		for _, p := range c.Dumps {
			sub := &resolvedInput{}
			if err := sub.resolvePath(p, needDump, opts, depth); err != nil {
				if c.Log != "" && need == needDumpOrLog {
					r.Notes = append(r.Notes, fmt.Sprintf("the dump cannot be opened (%v); reading %s instead", err, c.Log))
					r.Log = c.Log
					return nil
				}
				return err
			}
			dumps = append(dumps, sub.Dumps...)
			r.Notes = append(r.Notes, sub.Notes...)
			r.Unpacked = r.Unpacked || sub.Unpacked
		}
		r.Dumps = append(r.Dumps, dumps...)
		return nil
	case len(c.NotADump) > 0:
		why := fmt.Sprintf("%s is named like a dump but holds none (no ELF, KDUMP or makedumpfile signature: "+
			"the capture probably failed)", c.NotADump[0])
		if c.Log != "" && need == needDumpOrLog {
			r.Notes = append(r.Notes, why+"; reading "+c.Log)
			r.Log = c.Log
			return nil
		}
		if c.Log != "" {
			return fmt.Errorf("%s; its log %s remains: `ktriage analyze %s` reads it", why, c.Log, dir)
		}
		return errors.New(why)
	case c.Log != "":
		if need == needDump {
			return fmt.Errorf("%s holds no dump, only the log %s (the capture saved no vmcore): "+
				"`ktriage analyze %s` reports on the log", dir, c.Log, dir)
		}
		r.Log = c.Log
		return nil
	}
	return fmt.Errorf("%s: an empty crash folder (the capture saved nothing)", dir)
}

// oneCrash picks the crash a folder stands for, or explains why there is
// none or more than one.
func oneCrash(dir string, d *crashdir.Discovery) (*crashdir.Crash, error) {
	var withDump []*crashdir.Crash
	var here *crashdir.Crash
	for i := range d.Crashes {
		c := &d.Crashes[i]
		if len(c.Dumps) > 0 || len(c.NotADump) > 0 {
			withDump = append(withDump, c)
		}
		if filepath.Clean(c.Dir) == filepath.Clean(dir) && here == nil {
			here = c
		}
	}
	switch {
	case len(d.Crashes) == 0:
		return nil, noCrashError(dir, d)
	case len(withDump) == 1 && (here == nil || here == withDump[0] || len(here.Dumps) == 0 && len(here.NotADump) == 0 && here.Layout == crashdir.LayoutLoose):
		// A kdump directory: logs elsewhere below it (tool outputs, old
		// dmesg files) tell the same crash again.
		return withDump[0], nil
	case len(d.Crashes) == 1:
		return &d.Crashes[0], nil
	}
	var names []string
	for i, c := range d.Crashes {
		if i == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, c.Name())
	}
	return nil, &treeError{dir: dir, n: len(d.Crashes), names: names}
}

// treeError is a folder of several crashes given where one was expected.
type treeError struct {
	dir   string
	n     int
	names []string
}

func (e *treeError) Error() string {
	return fmt.Sprintf("%s is a crash tree holding %d crashes (%s), not one crash's folder: "+
		"`ktriage fleet %s` analyzes them all and groups them by signature; `ktriage analyze PATH` reads one of them",
		e.dir, e.n, strings.Join(e.names, ", "), e.dir)
}

// noCrashError says what a folder without a crash holds instead.
func noCrashError(dir string, d *crashdir.Discovery) error {
	if len(d.Skipped) == 0 {
		return fmt.Errorf("%s: no crash dump (vmcore, dump.*, *.vmcore, or one of those compressed) and no kernel log "+
			"(vmcore-dmesg.txt, dmesg.*, messages, kern.log …) in this folder or below; an empty crash folder "+
			"means the capture saved nothing", dir)
	}
	var lines []string
	for i, s := range d.Skipped {
		if i == 5 {
			lines = append(lines, fmt.Sprintf("… and %d more", len(d.Skipped)-5))
			break
		}
		lines = append(lines, fmt.Sprintf("  %s: %s", s.Path, s.Reason))
	}
	return fmt.Errorf("%s: no crash dump or kernel log found; looked at:\n%s", dir, strings.Join(lines, "\n"))
}

// binaryReason says why a file that is no dump is not text either, or ""
// when it reads as text: NUL bytes, or a large share of bytes that are
// neither printable nor valid UTF-8 in its first 8 KiB. Console captures
// carry some escape sequences and noise; random data or a foreign binary
// format carries far more.
func binaryReason(path string) string {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 8192)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if n == 0 {
		return ""
	}
	bad := 0
	for i := 0; i < len(head); {
		c := head[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != '\b' && c != 0x1b || c == 0x7f {
				bad++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 && len(head)-i >= utf8.UTFMax {
			bad++
		}
		i += size
	}
	if bad*10 <= len(head) {
		return ""
	}
	show := head
	if len(show) > 8 {
		show = show[:8]
	}
	return fmt.Sprintf("%d of its first %d bytes are binary (it starts % x)", bad, len(head), show)
}

// printNotes tells the user what resolution did, on standard error.
func (r *resolvedInput) printNotes(cmd *cobra.Command) {
	w := io.Writer(os.Stderr)
	if cmd != nil {
		w = cmd.ErrOrStderr()
	}
	for _, n := range r.Notes {
		writeSafe(w, func(w io.Writer) { fmt.Fprintln(w, "ktriage: note:", n) })
	}
}

// openDump resolves a dump command's arguments and opens the dump.
func openDump(cmd *cobra.Command, args []string) (*vmcore.Dump, *resolvedInput, error) {
	r, err := resolveInputs(cmd, args, needDump)
	if err != nil {
		return nil, nil, err
	}
	r.printNotes(cmd)
	d, err := vmcore.OpenWith(vmcore.OpenOptions{MemoryLimit: memoryLimit,
		BitmapCountsDir: triage.DefaultBitmapCountsDir()}, r.Dumps...)
	if err != nil {
		return nil, nil, err
	}
	return d, r, nil
}
