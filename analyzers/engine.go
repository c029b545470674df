package analyzers

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ktriage/ktriage/internal/lazyre"

	"github.com/ktriage/ktriage/incident"
)

// maxEvidence bounds the lines a finding quotes: enough to convince, short
// enough to read.
const maxEvidence = 8

// Run applies every rule of the rulebook to the incident and returns the
// findings, the verdict first: findings that explain the crash itself before
// those seen elsewhere in the log, context (settings, circumstances) last;
// within each, by severity, then confidence, then how much the rule matched.
func Run(in *incident.Incident, rb *Rulebook) []incident.Finding {
	if in == nil || rb == nil {
		return nil
	}
	v := newView(in)
	detections := map[string]*Detection{}
	var ranked []rankedFinding
	for i := range rb.Rules {
		r := &rb.Rules[i]
		if r.compiled == nil {
			continue // failed its checks; `rules check` reports it
		}
		var det *Detection
		if name := r.Match.Analyzer; name != "" {
			d, done := detections[name]
			if !done {
				d = codeAnalyzers[name].detect(v)
				detections[name] = d
			}
			if d == nil {
				continue
			}
			det = d
		}
		m, ok := r.match(v)
		if !ok {
			continue
		}
		if det != nil {
			m.evidence = append(det.Evidence, m.evidence...)
			m.crash = m.crash || det.Crash
			m.conditions++
		}
		ranked = append(ranked, rankedFinding{finding: r.finding(v, m, det), rule: r, m: m})
	}
	ranked = dropReplaced(ranked)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].less(ranked[j]) })
	out := make([]incident.Finding, len(ranked))
	for i, f := range ranked {
		out[i] = f.finding
	}
	return out
}

// Analyze runs the rulebook and stores the findings in the incident.
func Analyze(in *incident.Incident, rb *Rulebook) {
	in.Findings = Run(in, rb)
}

// dropReplaced removes the findings of rules that a fired rule says it
// contradicts (its `replaces`); nothing else is ever hidden.
func dropReplaced(ranked []rankedFinding) []rankedFinding {
	gone := map[string]bool{}
	for _, f := range ranked {
		for _, id := range f.rule.Replaces {
			gone[id] = true
		}
	}
	if len(gone) == 0 {
		return ranked
	}
	out := ranked[:0]
	for _, f := range ranked {
		if !gone[f.rule.ID] {
			out = append(out, f)
		}
	}
	return out
}

type rankedFinding struct {
	finding incident.Finding
	rule    *Rule
	m       matchResult
}

func (a rankedFinding) tier() int {
	switch {
	case a.rule.isContext():
		return 2
	case a.m.crash:
		return 0
	}
	return 1
}

func (a rankedFinding) less(b rankedFinding) bool {
	if a.tier() != b.tier() {
		return a.tier() < b.tier()
	}
	// The verdict is the most severe well-founded finding: a guess (low
	// confidence) never leads one the evidence supports.
	if wa, wb := a.finding.Confidence != "low", b.finding.Confidence != "low"; wa != wb {
		return wa
	}
	// A team's rule adds to the built-in findings; it takes the lead only by
	// naming what it replaces.
	if ba, bb := a.rule.isBuiltin(), b.rule.isBuiltin(); ba != bb {
		return ba
	}
	if sa, sb := severities[a.finding.Severity], severities[b.finding.Severity]; sa != sb {
		return sa < sb
	}
	// A rule that matched more of the crash (the known bug with its stack)
	// before the class it belongs to (any NULL dereference).
	if a.m.conditions != b.m.conditions {
		return a.m.conditions > b.m.conditions
	}
	return confidences[a.finding.Confidence] < confidences[b.finding.Confidence]
}

type matchResult struct {
	evidence   []string
	crash      bool // some evidence is the crash itself
	conditions int  // how many conditions the rule stated and met
}

func (r *Rule) match(v *view) (matchResult, bool) {
	var m matchResult
	c, mt := r.compiled, r.Match
	ok := func(evidence []string, crash bool) {
		m.evidence = append(m.evidence, evidence...)
		m.crash = m.crash || crash
		m.conditions++
	}
	if len(c.release) > 0 {
		if !anyPattern(c.release, v.kernel.Release) {
			return m, false
		}
		m.conditions++
	}
	if len(c.panic) > 0 {
		var hits []string
		for _, msg := range v.crashMessages {
			if anyPattern(c.panic, msg) {
				hits = append(hits, strings.TrimSpace(msg))
			}
		}
		if len(hits) == 0 {
			return m, false
		}
		ok(dedupe(hits), true)
	}
	if len(mt.Kinds) > 0 {
		ev, crash, found := v.matchKinds(mt.Kinds)
		if !found {
			return m, false
		}
		ok(ev, crash)
	}
	if len(mt.RIP) > 0 {
		var hit *reportStack
		for _, st := range v.stacksFor(mt.Kinds) {
			if slices.Contains(mt.RIP, st.rip) {
				hit = &st
				break
			}
		}
		if hit == nil {
			return m, false
		}
		ok([]string{"RIP in " + hit.rip}, hit.crash)
	}
	if f := mt.Frames; f != nil {
		within := f.Within
		if within <= 0 {
			within = 8
		}
		var hit *reportStack
		for _, st := range v.stacksFor(mt.Kinds) {
			if containsSequence(st.fns[:min(within, len(st.fns))], f.Sequence) {
				hit = &st
				break
			}
		}
		if hit == nil {
			return m, false
		}
		ok([]string{"backtrace: " + strings.Join(hit.fns[:min(within, len(hit.fns))], " ← ")}, hit.crash)
	}
	if len(c.hardware) > 0 {
		ev, prev, found := v.matchHardware(c.hardware)
		if !found {
			return m, false
		}
		ok(ev, !prev && v.in.Panic != nil && hardwarePanic.MatchString(v.in.Panic.Message))
	}
	if t := mt.Tasks; t != nil {
		ev, found := v.matchTasks(t)
		if !found {
			return m, false
		}
		ok(ev, v.escalation == incident.KindHungTask)
	}
	if len(c.log) > 0 {
		var hits []string
		crash := false
		for _, l := range v.lines {
			if !anyPattern(c.log, l.text) {
				continue
			}
			crash = crash || v.crashLines[l.text]
			if len(hits) < maxEvidence {
				hits = append(hits, l.String())
			}
		}
		if len(hits) == 0 {
			return m, false
		}
		ok(hits, crash)
	}
	return m, true
}

var hardwarePanic = lazyre.New(`(?i)hardware error|machine check|MCE`)

func (v *view) matchKinds(kinds []string) (evidence []string, crash, found bool) {
	if p := v.in.Panic; p != nil && slices.Contains(kinds, p.Kind) {
		found, crash = true, true
		evidence = append(evidence, "panic: "+firstNonEmpty(p.Title, p.Message))
	}
	n := 0
	for _, r := range v.in.Reports {
		if !slices.Contains(kinds, r.Kind) {
			continue
		}
		found = true
		crash = crash || v.crashKinds[r.Kind]
		if p := v.in.Panic; p != nil && firstNonEmpty(r.Title, r.Message) == firstNonEmpty(p.Title, p.Message) {
			continue // the panic's own report, quoted above
		}
		if n++; n <= 3 {
			evidence = append(evidence, "report: "+firstNonEmpty(r.Title, r.Message))
		}
	}
	if n > 3 {
		evidence = append(evidence, fmt.Sprintf("… and %d more %s reports", n-3, strings.Join(kinds, "/")))
	}
	return dedupe(evidence), crash, found
}

func (v *view) matchHardware(fields map[string]pattern) (evidence []string, prevBoot, found bool) {
	for _, h := range v.in.HardwareErrs {
		// A previous boot's record answers only a rule that asks for one
		// by source.
		if _, bySource := fields["source"]; previousBoot(h) && !bySource {
			continue
		}
		all := true
		for k, re := range fields {
			if !re.match(hardwareField(h, k)) {
				all = false
				break
			}
		}
		if all {
			ev := []string{fmt.Sprintf("%s %s error: %s", h.Source, h.Severity, firstNonEmpty(h.Section, "unknown section"))}
			for _, l := range h.Lines {
				if len(ev) >= maxEvidence {
					break
				}
				ev = append(ev, strings.TrimSpace(l))
			}
			return ev, previousBoot(h), true
		}
	}
	return nil, false, false
}

func hardwareField(h incident.HardwareError, key string) string {
	switch key {
	case "source":
		return h.Source
	case "severity":
		return h.Severity
	case "section":
		return h.Section
	case "device_id":
		return h.DeviceID
	case "vendor_id":
		return h.Vendor
	case "dev_id":
		return h.Device
	}
	return h.Fields[key]
}

func (v *view) matchTasks(t *TaskMatch) ([]string, bool) {
	minTasks := max(t.Min, 1)
	var names []string
	where := map[string]int{}
	for _, task := range v.tasks {
		for _, fn := range incident.ReliableFunctions(task.Backtrace) {
			if slices.Contains(t.Functions, fn) {
				names = append(names, task.Comm+":"+strconv.Itoa(task.PID))
				where[fn]++
				break
			}
		}
	}
	if len(names) < minTasks {
		return nil, false
	}
	var fns []string
	for fn, n := range where {
		fns = append(fns, fmt.Sprintf("%s ×%d", fn, n))
	}
	sort.Strings(fns)
	return []string{fmt.Sprintf("%d D-state task(s) in %s: %s", len(names), strings.Join(fns, ", "), strings.Join(limit(names, 10), ", "))}, true
}

// containsSequence reports whether seq appears in stack in order, not
// necessarily adjacent (inlining and tail calls drop frames between).
func containsSequence(stack, seq []string) bool {
	i := 0
	for _, fn := range stack {
		if i < len(seq) && fn == seq[i] {
			i++
		}
	}
	return i == len(seq)
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func limit(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(xs[:n:n], fmt.Sprintf("… %d more", len(xs)-n))
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// finding renders the rule's text for this incident.
func (r *Rule) finding(v *view, m matchResult, det *Detection) incident.Finding {
	facts := map[string]string{}
	var extraCommands []string
	if det != nil {
		facts = det.Facts
		extraCommands = det.Commands
	}
	expand := func(s string) string {
		return strings.TrimSpace(placeholders.ReplaceAllStringFunc(s, func(ph string) string {
			return facts[ph[1:len(ph)-1]]
		}))
	}
	f := incident.Finding{
		ID:         r.ID,
		Title:      expand(r.Title),
		Severity:   r.Severity,
		Confidence: r.Confidence,
		Summary:    expand(r.Summary),
		Cause:      expand(r.Cause),
		Fix:        expand(r.Fix),
		Evidence:   limit(dedupe(m.evidence), 2*maxEvidence),
		References: r.References,
	}
	if det != nil && det.Confidence != "" {
		f.Confidence = det.Confidence
	}
	if det != nil && det.Summary != "" {
		f.Summary = det.Summary
	}
	f.Evidence = append(f.Evidence, sysctlEvidence(v.in, r)...)
	if p := v.in.Panic; m.crash && p != nil && p.Container.Short() != "" {
		f.Evidence = append(f.Evidence, fmt.Sprintf("the crashing task %s:%s ran in %s", p.Comm, pidString(p.PID), p.Container.Short()))
	}
	for _, c := range r.Commands {
		f.Commands = append(f.Commands, expand(c))
	}
	f.Commands = dedupe(append(f.Commands, extraCommands...))
	if vr := appliesTo(v.kernel, r.Versions); vr.applies != "" {
		f.Applies, f.AppliesNote = vr.applies, vr.note
	}
	return f
}

var sysctlName = lazyre.New(`\b(?:kernel|vm)\.[a-z_]+\b`)

// sysctlEvidence quotes the values, read from the dump, of the settings the
// rule speaks of: a setting is named as a cause on its value, not on the
// rule's say-so.
func sysctlEvidence(in *incident.Incident, r *Rule) []string {
	var out []string
	seen := map[string]bool{}
	for _, text := range append([]string{r.Title, r.Cause}, r.Commands...) {
		for _, name := range sysctlName.FindAllString(text, -1) {
			if seen[name] {
				continue
			}
			seen[name] = true
			if val, ok := in.Sysctl(name); ok {
				out = append(out, fmt.Sprintf("%s = %d (read from the dump)", name, val))
			}
		}
	}
	return out
}
