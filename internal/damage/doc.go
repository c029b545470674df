// Package damage is the damaged-input sweep of issue 13 as a harness: it
// takes the real fixture dumps of every format, damages them in the ways a
// failing disk, a cut transfer or a hostile producer would (truncation at
// every header boundary and at evenly spaced points, byte flips in headers,
// page data and VMCOREINFO, hostile header sizes and VMCOREINFO values,
// kdump bitmaps of gigabytes claimed in a file extended sparse to hold them),
// runs the ktriage binary on each, and checks what must hold whatever the
// input: no panic, no hang, memory under a bound, and no log line changed
// without a warning where the format carries a check that could tell.
//
// Bounds: each command gets 20 s of CPU, 512 MiB and 120 s of wall clock
// before it is killed as hung (the undamaged fixtures take 0.1-0.3 s and
// 30-80 MiB). `go test` runs a seeded sample, one fixture per
// format; KTRIAGE_DAMAGE=full (make damage) runs every case on every
// fixture. Issue 13 of the project's tracker lists what the sweep found.
package damage
