package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ktriage/ktriage/internal/termsafe"
)

// writeSafe runs print with a writer that makes dump and log text safe for a
// terminal (termsafe), then flushes it. Every text-format command output goes
// through here; JSON needs no such care (encoding/json escapes controls).
func writeSafe(w io.Writer, print func(io.Writer)) error {
	safe := termsafe.NewWriter(w)
	print(safe)
	return safe.Flush()
}

// createOutput opens FILE for -o, refusing any path that is one of the
// inputs, lies inside an input directory, or is a dump or log kept under one:
// `analyze -o vmcore vmcore` must never replace the dump with its report.
func createOutput(path string, inputs []string) (*os.File, error) {
	if err := checkOutputPath(path, inputs); err != nil {
		return nil, err
	}
	return os.Create(path)
}

func checkOutputPath(path string, inputs []string) error {
	outAbs, err := resolvePath(path)
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	outStat, statErr := os.Stat(path)
	if statErr == nil && !outStat.Mode().IsRegular() {
		return fmt.Errorf("-o %s: not a regular file (%s); give a file to write the report to", path, outStat.Mode().Type())
	}
	for _, in := range inputs {
		inAbs, err := resolvePath(in)
		if err != nil {
			continue // an input that does not resolve was reported by its reader
		}
		inStat, err := os.Stat(in)
		if err != nil {
			continue
		}
		if statErr == nil && os.SameFile(outStat, inStat) {
			return fmt.Errorf("-o %s is the input %s: refusing to overwrite a file being analyzed", path, in)
		}
		if inStat.IsDir() && within(outAbs, inAbs) {
			return fmt.Errorf("-o %s lies inside %s, which is being analyzed: write the report outside the crash tree", path, in)
		}
	}
	return nil
}

// resolvePath is path made absolute with symlinks resolved as far as they
// exist (the output file itself usually does not exist yet).
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	dir, base := filepath.Split(abs)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(r, base), nil
	}
	return abs, nil
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
