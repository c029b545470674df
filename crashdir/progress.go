package crashdir

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// terminalProgress draws a one-line progress bar; use it only when w is a
// terminal. It is drawn here rather than with a progress-bar library: the
// one used before pulled net/http into the binary, whose package set every
// command pays for at start-up. Calls come one at a time (Batch
// serializes them).
type terminalProgress struct {
	w         io.Writer
	total     int
	done      int
	start     time.Time
	lastDraw  time.Time
	lastWidth int
}

// NewTerminalProgress returns a Progress that draws a bar on w (a
// terminal), naming the crash that finished last.
func NewTerminalProgress(w io.Writer) Progress { return &terminalProgress{w: w} }

func (p *terminalProgress) Start(total int) {
	p.total, p.done, p.start = total, 0, time.Now()
	p.draw("")
}

func (p *terminalProgress) Done(r *Result) {
	p.done++
	name := filepath.Base(filepath.Dir(r.Crash.Name())) + "/" + filepath.Base(r.Crash.Name())
	if len(name) > 40 {
		name = "…" + name[len(name)-39:]
	}
	// Redraw at most ten times a second, and always for the last crash.
	if time.Since(p.lastDraw) >= 100*time.Millisecond || p.done == p.total {
		p.draw(name)
	}
}

// Finish clears the line, leaving the terminal as it was.
func (p *terminalProgress) Finish() {
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.lastWidth))
}

func (p *terminalProgress) draw(name string) {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.done / p.total
	}
	eta := ""
	if p.done > 0 && p.done < p.total {
		left := time.Since(p.start) / time.Duration(p.done) * time.Duration(p.total-p.done)
		eta = " ~" + left.Round(time.Second).String() + " left"
	}
	line := fmt.Sprintf("analyzing crashes [%s%s] %d/%d%s %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.done, p.total, eta, name)
	pad := ""
	if n := len([]rune(line)); n < p.lastWidth {
		pad = strings.Repeat(" ", p.lastWidth-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.lastWidth = len([]rune(line))
	p.lastDraw = time.Now()
}
