// Package plausible says whether a value read from a dump or a log can be
// true. A corrupted or hostile input can hold any bytes; values that cannot be
// true are reported as such instead of being shown as fact (and a date
// outside years 0–9999 cannot even be written as JSON).
package plausible

import (
	"fmt"
	"time"
)

// Time reports why t cannot be a crash's time: before 1970 or after year
// 9999. 1970 itself stays: a machine whose clock was never set boots there,
// and that is what the kernel believed.
func Time(t time.Time) error {
	if t.Year() < 1970 || t.Year() > 9999 {
		return fmt.Errorf("year %d is not a plausible crash date", t.Year())
	}
	return nil
}
