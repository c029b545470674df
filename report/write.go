package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/termsafe"
)

// Write renders the incident in one of Formats.
func Write(w io.Writer, in *incident.Incident, format string, opts Options) error {
	switch format {
	case "text", "":
		return writeText(w, newModel(in, opts), opts)
	case "markdown", "md":
		// Markdown is read in terminals and pagers as often as rendered:
		// kernel text in it gets the same escaping as the text report.
		safe := termsafe.NewWriter(w)
		if err := writeMarkdown(safe, newModel(in, opts)); err != nil {
			return err
		}
		return safe.Flush()
	case "json":
		return WriteJSON(w, in)
	case "html":
		return writeHTML(w, newModel(in, opts))
	}
	return fmt.Errorf("unknown report format %q (use text, markdown, json or html)", format)
}

// WriteJSON writes the incident as one JSON object (DESIGN.md's contract);
// batch callers write one per line.
func WriteJSON(w io.Writer, in *incident.Incident) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // kernel text stays readable; JSON needs no HTML escaping
	enc.SetIndent("", "  ")
	return enc.Encode(in)
}
