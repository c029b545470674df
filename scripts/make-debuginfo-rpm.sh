#!/bin/sh
# Builds a kernel-debuginfo RPM the way RHEL lays one out, with rpmbuild
# (Debian: apt-get install rpm), from files on this machine:
#
#   sh scripts/make-debuginfo-rpm.sh OUTDIR RELEASE PAYLOAD FILE=PATH...
#
#   RELEASE  a kernel release, 3.10.0-1160.el7.x86_64: the package is
#            OUTDIR/kernel-debuginfo-3.10.0-1160.el7.x86_64.rpm
#   PAYLOAD  rpm's %_binary_payload: w2.xzdio (RHEL 7's), w19.zstdio
#            (RHEL 9's), w9.gzdio, w9.bzdio
#   FILE=PATH  a file put at PATH in the package, e.g.
#            vmlinux=/usr/lib/debug/lib/modules/RELEASE/vmlinux
#            m.ko=/usr/lib/debug/lib/modules/RELEASE/extra/m.ko.debug
#
# Files go in as they are: rpm's strip and debuginfo steps are turned off.
set -eu
[ $# -ge 4 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
out=$1 release=$2 payload=$3
shift 3
command -v rpmbuild >/dev/null || { echo "make-debuginfo-rpm: no rpmbuild (apt-get install rpm)" >&2; exit 1; }
arch=${release##*.}
verrel=${release%.*}
version=${verrel%%-*}
rel=${verrel#*-}
[ "$version" != "$verrel" ] && [ -n "$arch" ] || { echo "make-debuginfo-rpm: release $release is not VERSION-RELEASE.ARCH" >&2; exit 2; }

top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
mkdir -p "$top/SOURCES" "$top/SPECS"
install=""
files=""
i=0
for a in "$@"; do
	src=${a%%=*} dst=${a#*=}
	[ -f "$src" ] || { echo "make-debuginfo-rpm: no file $src" >&2; exit 1; }
	i=$((i + 1))
	cp "$src" "$top/SOURCES/f$i"
	install="$install
mkdir -p %{buildroot}$(dirname "$dst")
cp %{_sourcedir}/f$i %{buildroot}$dst"
	files="$files
$dst"
done
cat >"$top/SPECS/k.spec" <<SPEC
Name: kernel-debuginfo
Version: $version
Release: $rel
Summary: Debug information for package kernel (ktriage test fixture)
License: GPLv2
%description
Debug information for the kernel $release, laid out as RHEL's
kernel-debuginfo package (made by ktriage's scripts/make-debuginfo-rpm.sh).
%install
$install
%files
%defattr(0644,root,root,0755)
$files
SPEC
mkdir -p "$out"
SOURCE_DATE_EPOCH=1700000000 rpmbuild -bb --quiet --target "$arch" \
	--define "_topdir $top" --define "_binary_payload $payload" \
	--define "debug_package %{nil}" --define "__os_install_post %{nil}" \
	--define "_build_id_links none" --define "_buildhost ktriage" \
	--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
	--define "_rpmfilename kernel-debuginfo-$release.rpm" \
	"$top/SPECS/k.spec" >&2
mv "$top/RPMS/kernel-debuginfo-$release.rpm" "$out/"
echo "$out/kernel-debuginfo-$release.rpm"
