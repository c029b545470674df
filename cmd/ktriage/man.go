//go:build man

// The manual page writer is built only with -tags man (`make man`): cobra's
// doc generator pulls in a Markdown engine whose package init alone costs
// every run ~0.5 ms (GODEBUG=inittrace=1), a tenth of a `ktriage dmesg`.

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { addCommand("gen-man", newGenManCmd) }

// newGenManCmd writes the manual pages from the command tree, so they say
// what --help says (`make man`, `make install`). Hidden: it is for packagers.
func newGenManCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "gen-man DIR",
		Short:   "Write ktriage's manual pages (section 1) into DIR",
		Example: "  ktriage gen-man man/",
		Hidden:  true,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			// The whole tree: this run built only gen-man (newRootCmdFor).
			root := newRootCmd()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			hdr := &doc.GenManHeader{Title: "KTRIAGE", Section: "1", Source: "ktriage", Manual: "ktriage manual"}
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return fmt.Errorf("writing manual pages into %s: %w", args[0], err)
			}
			return nil
		},
	}
}
