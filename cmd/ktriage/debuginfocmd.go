package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/kernel"
)

func init() { addCommand("debuginfo", newDebuginfoCmd) }

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
the file has that build-id, and prints where it is kept (a dump that names
no build-id, Linux before 5.9, gets the vmlinux its release's packages
hold, if its linux_banner is the dump's):
DEBUGINFOD_CACHE_PATH/<build-id>/debuginfo, else
` + debuginfo.DefaultCacheDir() + `/<build-id>/debuginfo.
A file already there is not fetched again; analyze, bt, ps and sys then use
it without asking. DEBUGINFOD_TIMEOUT (seconds, default 90) bounds how
long a server may take to send its first 100 KiB or stall; a miss (every
server answered 404) is remembered for cache_miss_s seconds (600).`,
		Example: `  DEBUGINFOD_URLS=https://debuginfod.example.org ktriage debuginfo /var/crash/202611201023/dump.202611201023
  ktriage debuginfo 3b43fad5034874490492495d552c0af6a5fab235
  ktriage debuginfo --debuginfo-dir ~/debs vmcore     # from linux-image-*-dbg .debs, unpacked in place
  ktriage debuginfo --debuginfo-dir ~/rpms vmcore     # from kernel-debuginfo-*.rpm, likewise`,
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
					var p string
					if id, p, err = dumpBuildID(cmd, arg, c, kind); err != nil {
						return err
					}
					if p != "" {
						fmt.Fprintln(cmd.OutOrStdout(), p)
						continue
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
func dumpBuildID(cmd *cobra.Command, path string, c *debuginfo.Client, kind debuginfo.Kind) (id, vmlinux string, err error) {
	d, _, err := openDump(cmd, []string{path})
	if err != nil {
		return "", "", err
	}
	defer d.Close()
	if id := d.VMCoreInfo.BuildID(); id != "" {
		return id, "", nil
	}
	noID := fmt.Errorf("%s: the dump names no build-id (VMCOREINFO BUILD-ID, Linux 5.9+): fetch by build-id instead, or give --debuginfo-dir a folder of its debug packages", path)
	if len(c.PackageDirs) == 0 || kind != debuginfo.Debuginfo {
		return "", "", noID
	}
	// Found in the packages by release, and kept only if its linux_banner
	// is the dump's: attaching it checks that.
	o, err := kernel.Open(d, kernel.OpenOptions{AttachOptions: kernel.AttachOptions{Fetch: c}})
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	defer o.Close()
	if o.Kernel == nil || o.Kernel.Fetched == "" {
		why := "not in the packages of " + strings.Join(c.PackageDirs, ", ")
		switch {
		case o.Kernel == nil && o.KernelErr != nil:
			why = "not used: " + o.KernelErr.Error()
		case o.Kernel != nil && len(o.Kernel.Warnings) > 0:
			why = "not used: " + o.Kernel.Warnings[0]
		}
		return "", "", fmt.Errorf("%s: the dump names no build-id, and its release %s's debug vmlinux was %s", path, d.VMCoreInfo.OSRelease(), why)
	}
	return "", o.Kernel.Source, nil
}
