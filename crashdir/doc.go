// Package crashdir finds every crash a machine or a fleet left behind and
// analyzes them as a batch.
//
// Discovery knows the layouts the distributions' kdump services write:
//
//   - RHEL, CentOS, Fedora (kexec-tools): /var/crash/<host-ip>-<YYYY-MM-DD-HH:MM:SS>/
//     with vmcore (vmcore.flat when sent over ssh, vmcore-incomplete while or
//     when the capture failed) and vmcore-dmesg.txt;
//   - Debian and Ubuntu (kdump-tools): /var/crash/<YYYYMMDDHHMM>/dump.<stamp>
//     and dmesg.<stamp>;
//   - SUSE (kdumptool): /var/crash/<YYYY-MM-DD-HH:MM>/vmcore with README.txt
//     (crash time, kernel version, host) and dmesg.txt;
//   - makedumpfile --split sets (vmcore.1 vmcore.2 …, dump.<stamp>.1 …), and
//     loose dumps and kernel logs anywhere below the given roots.
//
// crashdir never parses a dump: it tells dumps from other files by their
// first bytes ("\x7fELF", "KDUMP   ", "DISKDUMP", "makedumpfile") and hands
// them to triage, and logs to textlog. A dump that cannot be read still
// yields an incident from its companion log, marked "log-only".
//
// Run analyzes the crashes in parallel, one worker per core by default; a
// bad dump (an error or a panic in a reader) becomes a failed row and never
// stops the rest. Results go to a store.Store (SQLite by default, PostgreSQL for a
// store shared by many hosts) keyed by each dump's identity, so a rerun skips
// what was already analyzed. Summaries group the rows by crash title and by
// finding; the fleet report renders them as text, Markdown, JSON Lines or a
// self-contained HTML page.
package crashdir
