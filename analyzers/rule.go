package analyzers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ktriage/ktriage/internal/lazyre"

	"gopkg.in/yaml.v3"

	"github.com/ktriage/ktriage/incident"
)

// Rule is one known bug or condition, as written in a rulebook YAML file.
// The schema is documented in README.md; keep the two in step.
type Rule struct {
	ID         string              `yaml:"id"`
	Title      string              `yaml:"title"`
	Severity   incident.Severity   `yaml:"severity"`   // critical, high, medium, low, info
	Confidence incident.Confidence `yaml:"confidence"` // high, medium, low
	// Role is "cause" (the default: this explains a failure) or "context"
	// (a setting or circumstance worth knowing, never the verdict).
	Role       string         `yaml:"role,omitempty"`
	Summary    string         `yaml:"summary,omitempty"`
	Cause      string         `yaml:"cause"`
	Fix        string         `yaml:"fix"`
	Commands   []string       `yaml:"commands,omitempty"`
	References []string       `yaml:"references"`
	Match      Match          `yaml:"match"`
	Versions   []VersionRange `yaml:"versions,omitempty"`
	// Examples are kernel log lines the rule must fire on: `rules check`
	// proves each text pattern against them, and the tests run them
	// through the log reader and the engine.
	Examples []string `yaml:"examples,omitempty"`
	// Replaces names rules this one contradicts: when it fires, their
	// findings are dropped. Without it a team's rule ranks after the
	// built-in findings of the same standing and hides none of them.
	Replaces []string `yaml:"replaces,omitempty"`

	// File is where the rule was read from ("builtin:rules/seed.yaml").
	File string `yaml:"-"`

	compiled *compiledMatch
}

// Match lists what must be seen for a rule to fire. Every condition given
// must hold; inside one condition's list, any entry may match.
type Match struct {
	// Panic: regular expressions over the crash message (the panic line, or
	// the opening line of an oops/BUG report).
	Panic []string `yaml:"panic,omitempty"`
	// Log: regular expressions over every kernel log line and report line.
	Log []string `yaml:"log,omitempty"`
	// Kinds: report kinds (incident.Kind*), of any report or the panic.
	Kinds []string `yaml:"kinds,omitempty"`
	// RIP: function names where the crash's instruction pointer was.
	RIP []string `yaml:"rip,omitempty"`
	// Frames: function names that must appear, in this order (innermost
	// first), among the top frames of the crash backtrace.
	Frames *FrameMatch `yaml:"frames,omitempty"`
	// Hardware: field name → regular expression, all matching one decoded
	// hardware error (source, severity, section, device_id, vendor_id,
	// dev_id, or any of its fields).
	Hardware map[string]string `yaml:"hardware,omitempty"`
	// Tasks: blocked tasks whose stacks hold any of the functions.
	Tasks *TaskMatch `yaml:"tasks,omitempty"`
	// Release: regular expressions over the crashed kernel's release.
	Release []string `yaml:"release,omitempty"`
	// Analyzer: a code analyzer that decides (see analyzers.go), for what a
	// pattern cannot say. Its facts fill {placeholders} in the rule text.
	Analyzer string `yaml:"analyzer,omitempty"`
}

// FrameMatch is an ordered sequence of functions within the top frames.
type FrameMatch struct {
	Sequence []string `yaml:"sequence"`
	// Within is how many reliable frames from the top are searched (default 8).
	Within int `yaml:"within,omitempty"`
}

// TaskMatch selects blocked (D-state) tasks by the functions on their stacks.
type TaskMatch struct {
	Functions []string `yaml:"functions"`
	// Min is how many tasks must match (default 1).
	Min int `yaml:"min,omitempty"`
}

// VersionRange says which kernels of one distribution stream carry the fix.
type VersionRange struct {
	// Stream is the distribution stream the versions belong to: el6, el7,
	// el8, el9, fc39, amzn2, debian, ubuntu. Kernels of other streams are
	// never compared with these versions.
	Stream string `yaml:"stream"`
	// Fixed lists the first fixed package versions, one per maintenance
	// branch ("3.10.0-327.3.1.el7" for RHEL 7.2.z, "3.10.0-514.el7" for 7.3).
	Fixed []string `yaml:"fixed"`
	Note  string   `yaml:"note,omitempty"`
}

type compiledMatch struct {
	panic, log, release []pattern
	hardware            map[string]pattern
}

var (
	severities   = map[incident.Severity]int{incident.SeverityCritical: 0, incident.SeverityHigh: 1, incident.SeverityMedium: 2, incident.SeverityLow: 3, incident.SeverityInfo: 4}
	confidences  = map[incident.Confidence]int{incident.ConfidenceHigh: 0, incident.ConfidenceMedium: 1, incident.ConfidenceLow: 2}
	idPattern    = lazyre.New(`^[a-z0-9]+(?:[-/.][a-z0-9]+)*$`)
	knownKinds   = map[string]bool{}
	placeholders = lazyre.New(`\{([a-z_]+)\}`)
)

func init() {
	for _, k := range []string{
		incident.KindPanic, incident.KindOops, incident.KindNullDeref, incident.KindPagingRequest,
		incident.KindGPF, incident.KindBUG, incident.KindInvalidOpcode, incident.KindDoubleFault,
		incident.KindDivideError, incident.KindHungTask, incident.KindSoftLockup, incident.KindHardLockup,
		incident.KindRCUStall, incident.KindOOMKill, incident.KindOOMPanic, incident.KindWarning,
		incident.KindAtomicSleep, incident.KindListCorrupt, incident.KindKASAN, incident.KindMCE,
		incident.KindHardwareError, incident.KindEPTMisconfig, incident.KindSysrq, incident.KindOther,
	} {
		knownKinds[k] = true
	}
}

// ruleFile is the top level of a rulebook YAML file.
type ruleFile struct {
	Rules []Rule `yaml:"rules"`
}

// The shapes a rules file may take.
const (
	shapeFile    = iota // rules: [ … ]
	shapeList           // [ … ]
	shapeOneRule        // id: …, title: …
)

// shapeOf tells the shape of a rules file by its top-level node.
func shapeOf(data []byte) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return shapeFile // the decoder reports what is wrong
	}
	top := doc.Content[0]
	switch top.Kind {
	case yaml.SequenceNode:
		return shapeList
	case yaml.MappingNode:
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "id" {
				return shapeOneRule
			}
		}
	}
	return shapeFile
}

// guessShape guesses from the first line with content: a list, else a
// whole file. A good guess saves parsing the file twice; a wrong one
// costs only that.
func guessShape(data []byte) int {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || bytes.Equal(line, []byte("---")) {
			continue
		}
		if bytes.Equal(line, []byte("-")) || bytes.HasPrefix(line, []byte("- ")) {
			return shapeList
		}
		break
	}
	return shapeFile
}

// decodeAs decodes the file's first document as a file of that shape.
func decodeAs(data []byte, shape int) ([]Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored condition
	switch shape {
	case shapeList:
		var rules []Rule
		err := dec.Decode(&rules)
		return rules, err
	case shapeOneRule:
		var one Rule
		if err := dec.Decode(&one); err != nil {
			return nil, err
		}
		return []Rule{one}, nil
	}
	var f ruleFile
	err := dec.Decode(&f)
	return f.Rules, err
}

// ParseRules reads the rules of one YAML file. name is used in errors.
// Rules are returned even when some fail their checks; the error lists every
// problem, one per line, each naming the file and rule.
func ParseRules(name string, r io.Reader) ([]Rule, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// A file holds "rules:" and a list, or (pasted from `rules show` or
	// written by hand) the list alone, or one rule. The file is decoded
	// as the shape its first line suggests; only when that fails is it
	// parsed whole for its shape (a top-level id: means one rule). A
	// guess that decodes is the shape shapeOf tells (a list or a mapping
	// without id), so the outcome is the same, at one parse instead of two.
	guess := guessShape(data)
	rules, err := decodeAs(data, guess)
	if err != nil {
		if shape := shapeOf(data); shape != guess {
			rules, err = decodeAs(data, shape)
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w (a rules file is `rules:` followed by a list of rules; see docs/rules.md)", name, err)
	}
	var problems []string
	for i := range rules {
		rules[i].File = name
		for _, p := range rules[i].check() {
			problems = append(problems, fmt.Sprintf("%s: rule %q: %s", name, rules[i].ID, p))
		}
	}
	if len(problems) > 0 {
		return rules, errors.New(strings.Join(problems, "\n"))
	}
	return rules, nil
}

// check validates the rule and compiles its patterns; it returns every
// problem found, so one run of `ktriage rules check` shows them all.
func (r *Rule) check() []string {
	var p []string
	if !idPattern.MatchString(r.ID) {
		p = append(p, "id must be lower-case words joined by '-', '/' or '.'")
	}
	// Problems come in the same order every run: slices, sorted keys, no map order.
	for _, f := range [][2]string{{"title", r.Title}, {"cause", r.Cause}, {"fix", r.Fix}} {
		if strings.TrimSpace(f[1]) == "" {
			p = append(p, f[0]+" is required")
		}
	}
	if _, ok := severities[r.Severity]; !ok {
		p = append(p, fmt.Sprintf("severity %q is not one of critical, high, medium, low, info", r.Severity))
	}
	if _, ok := confidences[r.Confidence]; !ok {
		p = append(p, fmt.Sprintf("confidence %q is not one of high, medium, low", r.Confidence))
	}
	if r.Role != "" && r.Role != "cause" && r.Role != "context" {
		p = append(p, fmt.Sprintf("role %q is not cause or context", r.Role))
	}
	if len(r.References) == 0 {
		p = append(p, "references are required: say where the cause and fix come from")
	}
	for _, ref := range r.References {
		if strings.TrimSpace(ref) == "" {
			p = append(p, "empty reference")
		}
	}
	m := r.Match
	if m.empty() {
		p = append(p, "match is empty: the rule would fire on every incident")
	}
	c := &compiledMatch{hardware: map[string]pattern{}}
	compile := func(what string, exprs []string) []pattern {
		var out []pattern
		for _, e := range exprs {
			pt, err := compilePattern(e)
			if err != nil {
				p = append(p, fmt.Sprintf("%s pattern %q: %v", what, e, err))
				continue
			}
			out = append(out, pt)
		}
		return out
	}
	c.panic = compile("panic", m.Panic)
	c.log = compile("log", m.Log)
	c.release = compile("release", m.Release)
	for _, k := range slices.Sorted(maps.Keys(m.Hardware)) {
		e := m.Hardware[k]
		if re := compile("hardware."+k, []string{e}); len(re) == 1 {
			c.hardware[k] = re[0]
		}
	}
	for _, k := range m.Kinds {
		if !knownKinds[k] {
			p = append(p, fmt.Sprintf("unknown report kind %q", k))
		}
	}
	if m.Frames != nil && len(m.Frames.Sequence) == 0 {
		p = append(p, "frames.sequence is empty")
	}
	if m.Tasks != nil && len(m.Tasks.Functions) == 0 {
		p = append(p, "tasks.functions is empty")
	}
	var facts map[string]bool
	if m.Analyzer != "" {
		a, ok := codeAnalyzers[m.Analyzer]
		if !ok {
			p = append(p, fmt.Sprintf("unknown analyzer %q (known: %s)", m.Analyzer, strings.Join(analyzerNames(), ", ")))
		} else {
			facts = map[string]bool{}
			for _, f := range a.facts {
				facts[f] = true
			}
		}
	}
	for _, text := range append([]string{r.Title, r.Summary, r.Cause, r.Fix}, r.Commands...) {
		for _, ph := range placeholders.FindAllStringSubmatch(text, -1) {
			if !facts[ph[1]] {
				p = append(p, fmt.Sprintf("placeholder {%s} is not a fact of analyzer %q", ph[1], m.Analyzer))
			}
		}
	}
	for _, v := range r.Versions {
		p = append(p, v.check()...)
	}
	for _, id := range r.Replaces {
		if !idPattern.MatchString(id) || id == r.ID {
			p = append(p, fmt.Sprintf("replaces %q: not another rule's id", id))
		}
	}
	p = append(p, r.checkExamples(c)...)
	if len(p) == 0 {
		r.compiled = c
	}
	return p
}

func (m Match) empty() bool {
	return len(m.Panic) == 0 && len(m.Log) == 0 && len(m.Kinds) == 0 && len(m.RIP) == 0 &&
		m.Frames == nil && len(m.Hardware) == 0 && m.Tasks == nil && m.Analyzer == ""
}

// isContext reports whether the rule states a circumstance (a sysctl that
// escalated a crash, a taint) rather than a cause: never the verdict.
func (r *Rule) isContext() bool { return r.Role == "context" }

// isBuiltin reports whether the rule ships inside ktriage (not a team's).
func (r *Rule) isBuiltin() bool { return strings.HasPrefix(r.File, "builtin:") }

// checkExamples proves the text conditions against the rule's examples: a
// pattern no example matches is a pattern nobody has seen match.
func (r *Rule) checkExamples(c *compiledMatch) []string {
	if len(c.log) == 0 && len(c.panic) == 0 {
		return nil
	}
	if len(r.Examples) == 0 {
		return []string{"examples are required for rules with log or panic patterns: give the kernel lines it fires on"}
	}
	var p []string
	for _, f := range []struct {
		what string
		res  []pattern
	}{{"log", c.log}, {"panic", c.panic}} {
		what, res := f.what, f.res
		if len(res) == 0 {
			continue
		}
		hit := false
		for _, e := range r.Examples {
			if anyPattern(res, e) {
				hit = true
				break
			}
		}
		if !hit {
			p = append(p, fmt.Sprintf("no example matches the %s patterns", what))
		}
	}
	return p
}
