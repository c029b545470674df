package crashdir

import (
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// parseLog reads a kernel text log into an incident (the text-log front end).
func parseLog(path string) (*incident.Incident, error) { return textlog.ParseFile(path) }
