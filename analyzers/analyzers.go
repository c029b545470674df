package analyzers

import (
	"sort"

	"github.com/ktriage/ktriage/incident"
)

// Detection is what a code analyzer found: the evidence, facts that fill
// the {placeholders} of the rule text, and commands that depend on them.
type Detection struct {
	Evidence []string
	Facts    map[string]string
	Commands []string
	Summary  string
	// Confidence, when set, overrides the rule's (e.g. a frozen filesystem
	// seen in stacks and confirmed by the super block).
	Confidence incident.Confidence
	// Crash is true when what was detected is what brought the kernel down.
	Crash bool
}

// codeAnalyzer decides what a pattern cannot say. detect returns nil when
// the incident shows nothing of its kind.
type codeAnalyzer struct {
	detect func(*view) *Detection
	facts  []string // the placeholder names its Detection fills
	doc    string
}

// codeAnalyzers is the registry rules name in `match: analyzer:`.
var codeAnalyzers = map[string]codeAnalyzer{}

func registerAnalyzer(name, doc string, facts []string, detect func(*view) *Detection) {
	codeAnalyzers[name] = codeAnalyzer{detect: detect, facts: facts, doc: doc}
}

func analyzerNames() []string {
	var names []string
	for n := range codeAnalyzers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
