package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"sync"
)

//go:embed report.html.tmpl
var htmlTemplateText string

// Parsed on first use, not at start-up, which every command pays for.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"upper": func(v any) string { return strings.ToUpper(fmt.Sprint(v)) }, // severities are typed
		"frame": func(f frameView) string { return string(frameLine(&textWriter{}, f)) },
		"prose": htmlProse,
		"kinds": sortedKinds,
	}).Parse(htmlTemplateText))
})

// writeHTML writes one self-contained page: styles inline, no scripts, no
// external assets; html/template escapes every string from the kernel.
func writeHTML(w io.Writer, m *model) error {
	return htmlTemplate().Execute(w, m)
}

var (
	codeSpanRe = regexp.MustCompile("`([^`\n]+)`")
	urlRe      = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+[^\s<>"'.,;:!?)` + "`" + `]`)
)

// htmlProse renders rule text (cause, fix, references): escaped, with
// `code` spans set as code and URLs as links. The text is escaped first,
// so only the tags added here are markup.
func htmlProse(s string) template.HTML {
	e := template.HTMLEscapeString(s)
	e = codeSpanRe.ReplaceAllString(e, "<code>$1</code>")
	e = urlRe.ReplaceAllStringFunc(e, func(u string) string {
		return `<a href="` + u + `">` + u + `</a>`
	})
	return template.HTML(e)
}
