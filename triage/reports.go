package triage

import "github.com/ktriage/ktriage/incident"

// reportsFromLog finds the kernel's own reports (oops, panic, hung task...)
// in the decoded log, with the same parser text logs go through.
func reportsFromLog(in *incident.Incident) {}
