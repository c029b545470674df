// Package lazyre compiles a regular expression on first use. Parsers with
// hundreds of patterns would otherwise compile them all at program start,
// which every command pays for — ktriage dmesg included — even when no text
// log is read.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a regexp.Regexp compiled when first used. A bad pattern panics
// then, as regexp.MustCompile would at start-up; tests exercise every one.
type Regexp struct {
	once sync.Once
	expr string
	re   *regexp.Regexp
}

// New returns a lazily compiled expr.
func New(expr string) *Regexp { return &Regexp{expr: expr} }

// Of wraps an expression already compiled (to check it), so that it is
// not compiled again.
func Of(re *regexp.Regexp) *Regexp {
	r := &Regexp{expr: re.String(), re: re}
	r.once.Do(func() {})
	return r
}

// String returns the expression's source text, compiling nothing.
func (r *Regexp) String() string { return r.expr }

// Re returns the compiled expression.
func (r *Regexp) Re() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

func (r *Regexp) MatchString(s string) bool              { return r.Re().MatchString(s) }
func (r *Regexp) FindStringIndex(s string) []int         { return r.Re().FindStringIndex(s) }
func (r *Regexp) FindStringSubmatch(s string) []string   { return r.Re().FindStringSubmatch(s) }
func (r *Regexp) FindAllString(s string, n int) []string { return r.Re().FindAllString(s, n) }
func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.Re().FindAllStringSubmatch(s, n)
}
func (r *Regexp) ReplaceAllString(src, repl string) string { return r.Re().ReplaceAllString(src, repl) }
func (r *Regexp) ReplaceAllStringFunc(src string, f func(string) string) string {
	return r.Re().ReplaceAllStringFunc(src, f)
}
