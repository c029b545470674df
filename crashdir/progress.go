package crashdir

import (
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
)

// terminalProgress draws a progress bar; use it only when w is a terminal.
type terminalProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// NewTerminalProgress returns a Progress that draws a bar on w (a
// terminal), naming the crash that finished last.
func NewTerminalProgress(w io.Writer) Progress { return &terminalProgress{w: w} }

func (p *terminalProgress) Start(total int) {
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("analyzing crashes"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *terminalProgress) Done(r *Result) {
	name := filepath.Base(filepath.Dir(r.Crash.Name())) + "/" + filepath.Base(r.Crash.Name())
	if len(name) > 40 {
		name = "…" + name[len(name)-39:]
	}
	p.bar.Describe(name)
	_ = p.bar.Add(1)
}

func (p *terminalProgress) Finish() { _ = p.bar.Finish() }
