#!/bin/sh
# Regenerates the cut-down real dump fixtures in this folder from the corpus
# (../shared/corpus/dumps beside the repository; see ../shared/corpus/README.md
# for how those dumps were taken from Debian 12's 6.1.0-56-cloud-amd64 kernel).
#
# Each fixture keeps only the pages ktriage reads (cut.go runs the readers
# with a page hook), with the source's compressed page bytes copied verbatim.
# "dmesg" fixtures hold what `ktriage dmesg` reads; "full" ones also what
# kallsyms+BTF, `ktriage sys` and the task list read (a few MB, mostly BTF);
# "stacks" ones also what `ktriage bt` reads (stacks, ORC tables).
# Beside each, produced by ktriage from the ORIGINAL dump: NAME.dmesg.txt
# (which must equal crash 8.0.6's log.txt of that dump), NAME.sys.json for
# full and stacks fixtures, NAME.bt.json (bt --all) and NAME.bt-D.json
# (bt --state D) for stacks fixtures.
#
# Where the local makedumpfile can read the format (not snappy or zstd in
# Debian's build, not QEMU's dumps, whose header phys_base it trusts), the
# cut also keeps the few pages makedumpfile --dump-dmesg needs, and cut.go
# checks that makedumpfile reads the fixture (after -R or --reassemble for
# flattened and split ones) and prints the same log: an independent check of
# the writer. MAKEDUMPFILE=none skips that (those fixtures then lose ~5 pages).
#
# Run from anywhere: sh testdata/dumps/make.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
corpus=../shared/corpus/dumps
[ -d "$corpus" ] || { echo "make.sh: corpus not found at $repo/$corpus" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# KTRIAGE and CUT may name prebuilt binaries (e.g. built from a clean checkout).
ktriage=${KTRIAGE:-$tmp/ktriage}
cut=${CUT:-$tmp/cut}
[ -n "${KTRIAGE:-}" ] || go build -o "$ktriage" ./cmd/ktriage
[ -n "${CUT:-}" ] || go build -o "$cut" testdata/dumps/cut.go
mdf=${MAKEDUMPFILE:-makedumpfile}
if [ "$mdf" != none ] && ! command -v "$mdf" >/dev/null; then
	echo "make.sh: $mdf not found; install makedumpfile or set MAKEDUMPFILE=none" >&2
	exit 1
fi
# withmdf: the -makedumpfile flag, or nothing when skipped.
withmdf() { [ "$mdf" = none ] || echo "-makedumpfile $mdf"; }

# fixture NAME SOURCE-FOLDER WORKLOAD CUT-FLAGS...
fixture() {
	name=$1 src=$2 workload=$3
	shift 3
	set -- $(ls "$corpus/$src"/vmcore "$corpus/$src"/vmcore.[0-9]* 2>/dev/null) -- "$@"
	files=""
	while [ "$1" != "--" ]; do files="$files $1"; shift; done
	shift
	flags=""
	[ "$workload" = dmesg ] || flags=-$workload
	rm -f "$here/$name".vmcore "$here/$name".vmcore.* "$here/$name".*.json
	"$cut" $flags "$@" -o "$here/$name.vmcore" $files
	"$ktriage" dmesg $files >"$here/$name.dmesg.txt"
	cmp "$here/$name.dmesg.txt" "$corpus/$src/crash-8.0.6/log.txt" ||
		{ echo "make.sh: ktriage dmesg of $src differs from crash's log.txt" >&2; exit 1; }
	if [ "$workload" != dmesg ]; then
		"$ktriage" sys --format json $files >"$here/$name.sys.json"
	fi
	if [ "$workload" = stacks ]; then
		"$ktriage" bt --all --format json $files >"$here/$name.bt.json"
		"$ktriage" bt --state D --format json $files >"$here/$name.bt-D.json"
	fi
}

fixture sysrq-kdump-lzo      sysrq-kdump-lzo      dmesg $(withmdf)
fixture sysrq-kdump-snappy   sysrq-kdump-snappy   dmesg
fixture sysrq-kdump-zlib     sysrq-kdump-zlib     full $(withmdf)
fixture hung-kdump-zstd      hung-kdump-zstd      stacks
fixture hung-qemu-kdump-zlib hung-qemu-kdump-zlib full -F
fixture sysrq-flat-lzo       sysrq-flat-lzo       dmesg -F $(withmdf)
fixture sysrq-split-lzo      sysrq-split-lzo      dmesg -split 2 $(withmdf)
fixture sysrq-incomplete-lzo sysrq-kdump-lzo      dmesg -lost 3 $(withmdf)

ls -l "$here"
