package incident

import (
	"github.com/ktriage/ktriage/internal/lazyre"
	"strings"
)

var compilerSuffix = lazyre.New(`(\.(isra|constprop|part|cold|lto_priv|llvm)(\.\d+)?)+$`)

// NormalizeFunction strips the suffixes GCC adds to cloned functions
// (.isra.0, .constprop.3, .part.1, .cold), so that one function has one name.
func NormalizeFunction(fn string) string {
	return compilerSuffix.ReplaceAllString(fn, "")
}

// MakeTitle joins a kind description and culprit the way the kernel
// community names crashes: "<kind> in <culprit>".
func MakeTitle(kind, culprit string) string {
	kind = strings.TrimSpace(kind)
	if culprit == "" {
		return kind
	}
	return kind + " in " + culprit
}
