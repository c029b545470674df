package incident

import (
	"github.com/ktriage/ktriage/internal/lazyre"
)

var compilerSuffix = lazyre.New(`(\.(isra|constprop|part|cold|lto_priv|llvm)(\.\d+)?)+$`)

// NormalizeFunction strips the suffixes GCC adds to cloned functions
// (.isra.0, .constprop.3, .part.1, .cold), so that one function has one name.
func NormalizeFunction(fn string) string {
	return compilerSuffix.ReplaceAllString(fn, "")
}
