package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/debuginfo"
)

func init() { addCommand(newDebuginfoCmd) }

// newDebuginfoCmd fetches a debug vmlinux ahead of analysis, by a dump's
// build-id or a build-id given: what analyze --fetch-debuginfo does first,
// and what debuginfod-find debuginfo does, into ktriage's cache.
func newDebuginfoCmd() *cobra.Command {
	var (
		fetch   fetchFlags
		pkgDir  string
		exeKind bool
	)
	cmd := &cobra.Command{
		Use:   "debuginfo BUILD-ID|DUMP...",
		Short: "Fetch the debug vmlinux of a dump (or a build-id) into the cache and print its path",
		Long: `Brings the debuginfo of each build-id — given in hex, or read from a dump's
VMCOREINFO — from the debuginfod servers in DEBUGINFOD_URLS (asked in
parallel) or from the .deb/.rpm debug packages in --debuginfo-dir, checks that
the file has that build-id, and prints where it is kept:
DEBUGINFOD_CACHE_PATH/<build-id>/debuginfo, else
` + debuginfo.DefaultCacheDir() + `/<build-id>/debuginfo.
A file already there is not fetched again; analyze, bt, ps and sys then use
it without asking. DEBUGINFOD_TIMEOUT (seconds, default 90) bounds how
long a server may take to send its first 100 KiB or stall; a miss (every
server answered 404) is remembered for cache_miss_s seconds (600).`,
		Example: `  DEBUGINFOD_URLS=https://debuginfod.example.org ktriage debuginfo /var/crash/202611201023/dump.202611201023
  ktriage debuginfo 3b43fad5034874490492495d552c0af6a5fab235
  ktriage debuginfo --debuginfo-dir ~/debs vmcore     # from linux-image-*-dbg .debs, unpacked in place`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := fetch.client(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if pkgDir != "" {
				c.PackageDirs = []string{pkgDir}
			}
			kind := debuginfo.Debuginfo
			if exeKind {
				kind = debuginfo.Executable
			}
			for _, arg := range args {
				id, err := debuginfo.NormalizeBuildID(arg)
				if err != nil {
					if _, statErr := os.Stat(arg); statErr != nil {
						return fmt.Errorf("%s: neither a build-id nor a dump (%v)", arg, statErr)
					}
					if id, err = dumpBuildID(cmd, arg); err != nil {
						return err
					}
				}
				r, err := c.Fetch(context.Background(), id, kind)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), r.Path)
			}
			return nil
		},
	}
	fetch.register(cmd.Flags())
	cmd.Flags().Lookup("fetch-debuginfo").Hidden = true // this command always fetches
	cmd.Flags().StringVar(&pkgDir, "debuginfo-dir", "", "folder of debug packages (linux-image-*-dbg .deb, kernel-debuginfo .rpm) to search by build-id before any server")
	cmd.Flags().BoolVar(&exeKind, "executable", false, "fetch the stripped executable instead of the debuginfo")
	return cmd
}

// dumpBuildID reads the kernel's build-id from a dump's VMCOREINFO.
func dumpBuildID(cmd *cobra.Command, path string) (string, error) {
	d, _, err := openDump(cmd, []string{path})
	if err != nil {
		return "", err
	}
	defer d.Close()
	id := d.VMCoreInfo.BuildID()
	if id == "" {
		return "", fmt.Errorf("%s: the dump names no build-id (VMCOREINFO BUILD-ID, Linux 5.9+): fetch by build-id instead", path)
	}
	return id, nil
}
