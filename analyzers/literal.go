package analyzers

import (
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/ktriage/ktriage/internal/lazyre"
)

// pattern is a compiled rule pattern with a literal every match must
// contain: checking strings.Contains first skips the regexp engine on the
// overwhelming majority of log lines (a 500k-line log against the whole
// rulebook went from a minute to a second). The built-in rules' patterns
// are compiled only when a line holds their literal (builtin_gen.go).
type pattern struct {
	re  *lazyre.Regexp
	lit string // "" when no literal is required
}

func compilePattern(expr string) (pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return pattern{}, err
	}
	return pattern{re: lazyre.Of(re), lit: requiredLiteral(expr)}, nil
}

func (p pattern) match(s string) bool {
	if p.lit != "" && !strings.Contains(s, p.lit) {
		return false
	}
	return p.re.MatchString(s)
}

// requiredLiteral returns the longest case-sensitive literal that every
// match of expr contains, or "".
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	return longestLiteral(re.Simplify())
}

func longestLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture:
		return longestLiteral(re.Sub[0])
	case syntax.OpPlus:
		return longestLiteral(re.Sub[0]) // at least one repetition
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := longestLiteral(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

func anyPattern(ps []pattern, s string) bool {
	for _, p := range ps {
		if p.match(s) {
			return true
		}
	}
	return false
}
