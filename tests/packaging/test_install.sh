#!/bin/sh
# `make install` layout: PREFIX and DESTDIR honoured, the unit's paths filled
# in for the prefix, an operator's edited configuration never overwritten.
# Usage: test_install.sh BUILD_DIR (run by ctest, after the build).
set -eu
build=$1
work=$(mktemp -d /tmp/pushd-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR="$work/root" cmake --install "$build" --prefix /usr >/dev/null
root=$work/root
[ -x "$root/usr/bin/pushd" ] || fail "no /usr/bin/pushd"
[ -x "$root/usr/bin/pushctl" ] || fail "no /usr/bin/pushctl"
[ -f "$root/etc/pushd/pushd.yaml" ] || fail "no /etc/pushd/pushd.yaml"
unit=$root/usr/lib/systemd/system/pushd.service
[ -f "$unit" ] || fail "no /usr/lib/systemd/system/pushd.service"
grep -qx 'ExecStart=/usr/bin/pushd -f /etc/pushd/pushd.yaml' "$unit" || fail "ExecStart paths not filled in"
grep -qx 'Type=notify' "$unit" || fail "unit is not Type=notify"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "no ExecReload"
grep -qx 'NoNewPrivileges=yes' "$unit" || fail "not hardened (NoNewPrivileges)"
grep -qx 'ProtectSystem=strict' "$unit" || fail "not hardened (ProtectSystem)"
grep -qx 'DynamicUser=yes' "$unit" || fail "no dedicated user"
grep -q '^LimitNOFILE=' "$unit" || fail "no LimitNOFILE"
grep -qx 'Restart=on-failure' "$unit" || fail "no Restart=on-failure"
"$root/usr/bin/pushd" --check -f "$root/etc/pushd/pushd.yaml" >/dev/null || fail "installed config invalid"
if command -v systemd-analyze >/dev/null 2>&1; then
    # Syntax check of the unit; the binaries live under DESTDIR, so complaints
    # about the executable paths are expected and ignored.
    if systemd-analyze verify "$unit" 2>&1 | grep -v 'is not executable\|No such file\|pushd.yaml' | grep -qi 'unknown\|invalid\|error'; then
        systemd-analyze verify "$unit" >&2 || true
        fail "systemd-analyze reports problems"
    fi
fi

# A second install keeps the operator's edits and puts the new default beside them.
echo "# edited by the operator" >> "$root/etc/pushd/pushd.yaml"
DESTDIR="$work/root" cmake --install "$build" --prefix /usr >/dev/null
grep -q "edited by the operator" "$root/etc/pushd/pushd.yaml" || fail "install overwrote an edited configuration"
[ -f "$root/etc/pushd/pushd.yaml.dist" ] || fail "no pushd.yaml.dist beside the kept configuration"

# Any other PREFIX keeps everything under it.
DESTDIR="$work/root2" cmake --install "$build" --prefix /opt/pushd >/dev/null
[ -x "$work/root2/opt/pushd/bin/pushd" ] || fail "PREFIX=/opt/pushd: no bin/pushd"
[ -f "$work/root2/opt/pushd/etc/pushd/pushd.yaml" ] || fail "PREFIX=/opt/pushd: no etc/pushd/pushd.yaml"
grep -qx 'ExecStart=/opt/pushd/bin/pushd -f /opt/pushd/etc/pushd/pushd.yaml' \
    "$work/root2/opt/pushd/lib/systemd/system/pushd.service" || fail "PREFIX=/opt/pushd: unit paths"
echo "install layout OK"
