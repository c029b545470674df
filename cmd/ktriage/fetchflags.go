package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ktriage/ktriage/debuginfo"
)

// fetchFlags say whether debuginfo may be fetched by build-id
// (DEBUGINFOD_URLS, debug packages in --debuginfo-dir).
type fetchFlags struct {
	offline bool
	dwarf   bool
}

func (f *fetchFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.offline, "offline", false, "fetch no debuginfo (DEBUGINFOD_URLS is ignored; what is already cached is still used)")
	fs.BoolVar(&f.dwarf, "fetch-debuginfo", false, "fetch the debug vmlinux by build-id (DEBUGINFOD_URLS, .deb/.rpm packages in --debuginfo-dir) even when the dump's own kallsyms and BTF suffice")
}

// client returns the debuginfo client for one command, configured from
// the environment like elfutils' debuginfod client, reporting downloads
// on stderr.
func (f *fetchFlags) client(stderr io.Writer) (*debuginfo.Client, error) {
	c, err := debuginfo.FromEnv()
	if err != nil {
		return nil, err
	}
	c.Offline = f.offline
	c.Progress = progressPrinter(stderr)
	return c, nil
}

// progressPrinter says on stderr what is being fetched: on a terminal a
// line redrawn at most once a second, otherwise one line when it starts
// and one when it ends.
func progressPrinter(w io.Writer) func(debuginfo.Progress) {
	if w == nil {
		w = io.Discard
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var mu sync.Mutex
	var started bool
	var shown time.Time
	return func(p debuginfo.Progress) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if !started {
			started = true
			if !tty {
				fmt.Fprintf(w, "ktriage: fetching the %s of build-id %s from %s%s\n", p.Kind, p.BuildID, p.From, sizeNote(p.Total))
			}
		}
		switch {
		case p.Final:
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "ktriage: %s of build-id %s: %.1f MB from %s in %.1f s\n", p.Kind, p.BuildID, float64(p.Done)/1e6, p.From, p.Elapsed.Seconds())
			started = false
		case tty && now.Sub(shown) >= time.Second:
			shown = now
			pct := ""
			if p.Total > 0 {
				pct = fmt.Sprintf(" (%d%%)", p.Done*100/p.Total)
			}
			fmt.Fprintf(w, "\r\033[Kktriage: fetching %s %s: %.0f of %.0f MB%s", p.Kind, p.BuildID, float64(p.Done)/1e6, float64(p.Total)/1e6, pct)
		}
	}
}

func sizeNote(total int64) string {
	if total <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.1f MB)", float64(total)/1e6)
}
