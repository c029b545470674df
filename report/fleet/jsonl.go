package fleet

import (
	"context"
	"encoding/json"
	"io"

	"github.com/ktriage/ktriage/crashdir"
	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/incident"
)

// jsonLine is one crash in JSON Lines: the incident's own fields (the
// contract of `analyze --format json`, so the same scripts read both) and
// the batch's row under "fleet".
type jsonLine struct {
	*incident.Incident
	Fleet *store.Row `json:"fleet"`
}

// writeJSONLines writes one JSON object per crash. A crash that failed has
// no incident: its line carries the source path and the row only. Stored
// incidents are read one line at a time, never all held at once.
func writeJSONLines(w io.Writer, res *crashdir.FleetResult) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range res.Results {
		r := &res.Results[i]
		in, err := res.IncidentOf(context.Background(), i)
		if err != nil {
			return err
		}
		if in == nil {
			kind := incident.SourceVmcore
			if len(r.Crash.Dumps) == 0 && len(r.Crash.NotADump) == 0 && r.Crash.Log != "" {
				kind = incident.SourceLog
			}
			in = &incident.Incident{Title: r.Row.Title, Source: incident.Source{Path: r.Row.Path, Kind: kind}}
		}
		if err := enc.Encode(jsonLine{Incident: in, Fleet: &r.Row}); err != nil {
			return err
		}
	}
	return nil
}

// writeSummaryJSON writes the summary as one JSON object.
func writeSummaryJSON(w io.Writer, res *crashdir.FleetResult) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(res.Summary)
}
