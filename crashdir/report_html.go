package crashdir

import (
	"errors"
	"io"
)

func writeHTML(w io.Writer, res *FleetResult, show sections) error {
	return errors.New("the HTML fleet report is not built yet; use text, markdown or jsonl")
}
