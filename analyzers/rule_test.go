package analyzers

import (
	"strings"
	"testing"
)

// TestCheckProblemsInOrder: the same file gives the same problems in the
// same order every run (they were once in map order).
func TestCheckProblemsInOrder(t *testing.T) {
	const file = `rules:
  - id: x
    severity: low
    confidence: low
    references: [r]
    examples: [a]
    match:
      log: ['b']
      panic: ['c']
      hardware: {source: '(', severity: '[', section: ')'}
`
	want := []string{
		`t.yaml: rule "x": title is required`,
		`t.yaml: rule "x": cause is required`,
		`t.yaml: rule "x": fix is required`,
		"t.yaml: rule \"x\": hardware.section pattern \")\": error parsing regexp: unexpected ): `)`",
		"t.yaml: rule \"x\": hardware.severity pattern \"[\": error parsing regexp: missing closing ]: `[`",
		"t.yaml: rule \"x\": hardware.source pattern \"(\": error parsing regexp: missing closing ): `(`",
		`t.yaml: rule "x": no example matches the log patterns`,
		`t.yaml: rule "x": no example matches the panic patterns`,
	}
	for range 20 {
		_, err := ParseRules("t.yaml", strings.NewReader(file))
		if err == nil || err.Error() != strings.Join(want, "\n") {
			t.Fatalf("problems:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
		}
	}
}
