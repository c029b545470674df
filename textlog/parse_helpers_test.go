package textlog

import (
	"io"

	"github.com/ktriage/ktriage/incident"
)

// Parse reads a kernel log from r as ParseFile reads a file (name is the
// source path); the tests feed it logs built in memory.
func Parse(r io.Reader, name string) (*incident.Incident, error) {
	incs, err := ParseHostsWith(r, name, Options{})
	if err != nil {
		return nil, err
	}
	return pickHost(incs), nil
}
