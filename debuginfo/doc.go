// Package debuginfo brings a kernel's debuginfo from outside the machine's
// own debug paths, by build-id: from debuginfod servers (the HTTP protocol
// of elfutils' debuginfod: GET /buildid/<hex>/debuginfo) and from folders of
// distribution debug packages (Debian's .deb, RHEL's and Fedora's .rpm),
// read in place. Whatever it hands out sits in one cache keyed by build-id
// (DEBUGINFOD_CACHE_PATH, else ktriage's cache), was written there under a
// temporary name and renamed only once complete, and carries the build-id
// that was asked for: a file of another build, a cut-short download or a
// server that stalls leaves nothing behind but a warning.
//
// It decides nothing about when debuginfo is worth fetching: the kernel
// package asks only when the dump cannot name things itself (no BTF) or
// the user asked for DWARF.
//
// References: elfutils' debuginfod-client(7) and debuginfod(8) manual pages
// for the URLs, the environment variables (DEBUGINFOD_URLS,
// DEBUGINFOD_CACHE_PATH, DEBUGINFOD_TIMEOUT), the cache layout and its
// negative entries; deb(5) and ar(5) for .deb; rpm's file format
// (rpm.org/docs/latest/manual/format.html) and cpio(5) "newc" for .rpm.
package debuginfo
