#!/bin/sh
# Builds the Debian package (debian/, dpkg-buildpackage) from a copy of this
# tree (tracked and new files, not build output) in OUT_DIR/src, so that
# nothing lands beside the checkout; the .deb ends up in OUT_DIR.
#   build-deb.sh OUT_DIR JOBS             from scratch, Debian's build flags
#                                         (`make deb`, for operators)
#   build-deb.sh OUT_DIR JOBS BUILD_DIR   made of BUILD_DIR's binaries, already
#                                         built (the .deb test of `make test`;
#                                         see debian/rules)
set -eu
out=$1
jobs=$2
prebuilt=${3:-}
src=$(cd "$(dirname "$0")/.." && pwd)
[ -z "$prebuilt" ] || prebuilt=$(cd "$prebuilt" && pwd)

rm -rf "$out" && mkdir -p "$out/src"
out=$(cd "$out" && pwd)
cd "$src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$out/src" -xf -
cd "$out/src"
PUSHD_PREBUILT=$prebuilt DEB_BUILD_OPTIONS="parallel=$jobs nocheck" dpkg-buildpackage -b -us -uc
