// Package textlog reads kernel logs as text — dmesg (raw, with levels,
// caller ids or -T wall-clock stamps), vmcore-dmesg.txt, makedumpfile
// --dump-dmesg output, syslog files (/var/log/messages, kern.log, BSD and
// RFC 3339 stamps), journalctl output (short, short-precise, short-iso,
// JSON) and serial console captures with interleaved noise — and finds the
// crash reports in them: oopses, panics, hung tasks, lockups, RCU stalls,
// OOM kills, warnings, sanitizer reports, machine checks and APEI/GHES
// hardware error blocks, each with its call trace and a title in the kernel
// community's "<kind> in <culprit>" form.
//
// Logs pasted into bug threads and mails are read as the kernel wrote them:
// quote marks, indentation and line numbers before each line, month names
// of any locale, syslog without a host or with a facility.level, dmesg -H,
// a collector's bare ISO stamps, stamps lost on a report's first line.
// Page allocation failures, XFS internal errors and EXT4-fs errors are
// reports too; a report names its culprit's module when the log prints it.
//
// The format is detected per line, so mixed files work; gzip, xz and zstd
// input is decompressed transparently. Parsing streams: memory is bounded by
// the reports in progress and a fixed tail of records, not by the log size.
//
// Formats: Documentation/ABI/testing/dev-kmsg (record prefix and caller id),
// RFC 3164 and RFC 5424 (syslog stamps), systemd.journal-fields(7) and
// journalctl(1) --output modes.
package textlog
