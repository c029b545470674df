package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/internal/unpack"
	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/triage"
)

// cacheArea is a folder of the cache other than the unpacked dumps: what
// ktriage keeps to make the next run faster. Each is rebuilt on demand.
type cacheArea struct{ what, dir string }

func cacheAreas() []cacheArea {
	return []cacheArea{
		{"DWARF indexes, kernel builds' names and symbol tables", symbols.DefaultIndexCacheDir()},
		{"kdump files' counts of dumped pages", triage.DefaultBitmapCountsDir()},
		{"debuginfo fetched by build-id (debuginfod, packages)", debuginfo.DefaultCacheDir()},
	}
}

// areaSize is the bytes and regular files below dir (0, 0 when absent).
func areaSize(dir string) (bytes int64, files int) {
	if dir == "" {
		return 0, 0
	}
	filepath.WalkDir(dir, func(_ string, de os.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if fi, err := de.Info(); err == nil {
				bytes += fi.Size()
				files++
			}
		}
		return nil
	})
	return bytes, files
}

// cleanArea removes what dir holds, keeping dir itself.
func cleanArea(dir string) (freed int64, err error) {
	if dir == "" {
		return 0, nil
	}
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		n, _ := areaSize(p)
		if err := os.RemoveAll(p); err != nil {
			return freed, err
		}
		freed += n
	}
	return freed, nil
}

func init() { addCommand("cache", newCacheCmd) }

func newCacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List or remove what ktriage keeps between runs: unpacked dumps, indexes, fetched debuginfo",
		Long: `An archived dump (vmcore.zst, dump.*.xz, a tar.gz of a crash folder) is
unpacked once into ` + unpack.DefaultDir() + `
(set KTRIAGE_CACHE to move it) and reused by every later run on the same
archive. Beside it ktriage keeps what makes the next run of a kernel fast:
DWARF indexes, each kernel build's names, the counts of a kdump file's
page bitmap, and debuginfo fetched by build-id. These commands show and
free that space; everything removed is rebuilt when next needed.`,
		Example: `  ktriage cache list
  ktriage cache clean         # the unpacked dumps
  ktriage cache clean --all   # and every index and fetched debuginfo`,
	}
	list := &cobra.Command{
		Use:     "list",
		Example: "  ktriage cache list",
		Short:   "List the unpacked dumps: size, when, and the archive each came from",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := unpack.List("")
			if err != nil {
				return err
			}
			return writeSafe(cmd.OutOrStdout(), func(w io.Writer) {
				var total int64
				for _, e := range entries {
					total += e.Bytes
					switch {
					case e.Partial:
						fmt.Fprintf(w, "%10s  (left by a run that was stopped)  %s\n", unpack.HumanBytes(e.Bytes), e.Dir)
					default:
						fmt.Fprintf(w, "%10s  %s  %s\n", unpack.HumanBytes(e.Bytes), e.Created.Local().Format("2006-01-02 15:04"), e.Source)
					}
				}
				fmt.Fprintf(w, "%s in %s, %s\n", plural(len(entries), "unpacked dump"), unpack.DefaultDir(), unpack.HumanBytes(total))
				for _, a := range cacheAreas() {
					if a.dir == "" {
						continue
					}
					bytes, files := areaSize(a.dir)
					fmt.Fprintf(w, "%10s  %s in %s: %s\n", unpack.HumanBytes(bytes), plural(files, "file"), a.dir, a.what)
				}
			})
		},
	}
	var all bool
	clean := &cobra.Command{
		Use:     "clean",
		Example: "  ktriage cache clean\n  ktriage cache clean --all",
		Short:   "Remove every unpacked dump (the archives themselves are not touched); --all: every cache",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, freed, err := unpack.Clean("")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "removed %s (%s) from %s\n", plural(n, "unpacked dump"), unpack.HumanBytes(freed), unpack.DefaultDir())
			var kept int64
			for _, a := range cacheAreas() {
				if !all {
					bytes, _ := areaSize(a.dir)
					kept += bytes
					continue
				}
				freed, err := cleanArea(a.dir)
				if err != nil {
					return fmt.Errorf("cleaning %s: %w", a.dir, err)
				}
				fmt.Fprintf(out, "removed %s from %s (%s)\n", unpack.HumanBytes(freed), a.dir, a.what)
			}
			if !all && kept > 0 {
				fmt.Fprintf(out, "kept %s of indexes and fetched debuginfo (ktriage cache list); --all removes them too\n", unpack.HumanBytes(kept))
			}
			return nil
		},
	}
	clean.Flags().BoolVar(&all, "all", false, "also remove the DWARF indexes, kernel names, bitmap counts and fetched debuginfo")
	cmd.AddCommand(list, clean)
	return cmd
}

// plural writes a count with its noun: "1 crash", "2 crashes".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	switch {
	case len(noun) > 1 && (noun[len(noun)-1] == 's' || noun[len(noun)-1] == 'x' || noun[len(noun)-2:] == "sh" || noun[len(noun)-2:] == "ch"):
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
