package report

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
	"sync"
)

//go:embed report.html.tmpl
var htmlTemplateText string

// Parsed on first use, not at start-up, which every command pays for.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"upper": strings.ToUpper,
		"frame": func(f frameView) string { return string(frameLine(&textWriter{}, f)) },
	}).Parse(htmlTemplateText))
})

// writeHTML writes one self-contained page: styles inline, no scripts, no
// external assets; html/template escapes every string from the kernel.
func writeHTML(w io.Writer, m *model) error {
	return htmlTemplate().Execute(w, m)
}
