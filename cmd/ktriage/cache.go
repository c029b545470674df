package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/internal/unpack"
)

func init() { addCommand("cache", newCacheCmd) }

func newCacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List or remove the dumps ktriage unpacked from archives",
		Long: `An archived dump (vmcore.zst, dump.*.xz, a tar.gz of a crash folder) is
unpacked once into ` + unpack.DefaultDir() + `
(set KTRIAGE_CACHE to move it) and reused by every later run on the same
archive. These commands show and free that space.`,
		Example: `  ktriage cache list
  ktriage cache clean`,
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
			})
		},
	}
	clean := &cobra.Command{
		Use:     "clean",
		Example: "  ktriage cache clean",
		Short:   "Remove every unpacked dump (the archives themselves are not touched)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, freed, err := unpack.Clean("")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s) from %s\n", plural(n, "unpacked dump"), unpack.HumanBytes(freed), unpack.DefaultDir())
			return nil
		},
	}
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
