// Package crashfmt renders values the way crash prints them, so ktriage's
// sys facts read (and compare) the same as crash's.
package crashfmt

import (
	"fmt"
	"strings"
	"time"
)

// Memory renders a byte count as crash's sys does ("1 GB", "511.5 MB"):
// from 1000 MiB up it switches to GiB with one decimal, so the 1023.5 MiB a
// 1 GiB machine reports after firmware holes reads "1 GB".
func Memory(b uint64) string {
	const mb, gb = 1 << 20, 1 << 30
	trim := func(f float64, unit string) string {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") + " " + unit
	}
	if b >= 1000*mb {
		return trim(float64(b)/gb, "GB")
	}
	return trim(float64(b)/mb, "MB")
}

// Uptime renders an uptime as crash does: "00:00:35" or "2 days, 03:04:05".
func Uptime(d time.Duration) string {
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	hms := fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	switch days {
	case 0:
		return hms
	case 1:
		return "1 day, " + hms
	}
	return fmt.Sprintf("%d days, %s", days, hms)
}
