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
[ -x "$root/usr/bin/pushd-bench" ] || fail "no /usr/bin/pushd-bench"
[ -f "$root/etc/pushd/pushd.yaml" ] || fail "no /etc/pushd/pushd.yaml"
unit=$root/usr/lib/systemd/system/pushd.service
[ -f "$unit" ] || fail "no /usr/lib/systemd/system/pushd.service"
grep -qx 'ExecStart=/usr/bin/pushd -f /etc/pushd/pushd.yaml' "$unit" || fail "ExecStart paths not filled in"
grep -qx 'Type=notify' "$unit" || fail "unit is not Type=notify"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "no ExecReload"
grep -qx 'NoNewPrivileges=yes' "$unit" || fail "not hardened (NoNewPrivileges)"
grep -qx 'ProtectSystem=strict' "$unit" || fail "not hardened (ProtectSystem)"
grep -qx 'User=pushd' "$unit" || fail "no dedicated user"
grep -q '^LimitNOFILE=' "$unit" || fail "no LimitNOFILE"
grep -qx 'Restart=on-failure' "$unit" || fail "no Restart=on-failure"
# The installed file has no secret: valid once the EnvironmentFile's is there.
PUSHD_AUTH_ACCESSSECRET=0123456789abcdef0123456789abcdef \
    "$root/usr/bin/pushd" --check -f "$root/etc/pushd/pushd.yaml" >/dev/null || fail "installed config invalid"
if command -v systemd-analyze >/dev/null 2>&1; then
    # Syntax check of the unit; the binaries live under DESTDIR, so complaints
    # about the executable paths are expected and ignored.
    if systemd-analyze verify "$unit" 2>&1 | grep -v 'is not executable\|No such file\|pushd.yaml' | grep -qi 'unknown\|invalid\|error'; then
        systemd-analyze verify "$unit" >&2 || true
        fail "systemd-analyze reports problems"
    fi
fi

# The template: the unit plus a name per instance and ReusePort; its
# environment must be a valid configuration for pushd (the variables exist).
tmpl=$root/usr/lib/systemd/system/pushd@.service
[ -f "$tmpl" ] || fail "no /usr/lib/systemd/system/pushd@.service"
grep -qx 'Environment=PUSHD_NAME=%H-%i' "$tmpl" || fail "template: no per-instance Name"
grep -qx 'Environment=PUSHD_REUSEPORT=true' "$tmpl" || fail "template: no ReusePort"
grep -qx 'ExecStart=/usr/bin/pushd -f /etc/pushd/pushd.yaml' "$tmpl" || fail "template: ExecStart"
PUSHD_NAME=host-1 PUSHD_REUSEPORT=true PUSHD_AUTH_ACCESSSECRET=0123456789abcdef0123456789abcdef \
    "$root/usr/bin/pushd" --print-config -f "$root/etc/pushd/pushd.yaml" | grep -qx 'ReusePort=true' ||
    fail "PUSHD_REUSEPORT=true does not turn ReusePort on"
if command -v systemd-analyze >/dev/null 2>&1; then
    if systemd-analyze verify "$tmpl" 2>&1 | grep -v 'is not executable\|No such file\|pushd.yaml' | grep -qi 'unknown\|invalid\|error'; then
        systemd-analyze verify "$tmpl" >&2 || true
        fail "systemd-analyze reports problems in pushd@.service"
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
# Without -f an installed pushd/pushctl reads <sysconfdir>/pushd/pushd.yaml
# (here <prefix>/etc: not /usr) and the secrets of <sysconfdir>/default/pushd,
# from any working directory; a build tree keeps etc/pushd.yaml.
opt=$work/opt
PUSHD_NO_SETUP=1 cmake --install "$build" --prefix "$opt" >/dev/null
mkdir -p "$opt/etc/default"
printf '# test\nPUSHD_AUTH_ACCESSSECRET="0123456789abcdef0123456789abcdef"\n' > "$opt/etc/default/pushd"
out=$(cd / && env -u PUSHD_AUTH_ACCESSSECRET "$opt/bin/pushd" --check 2>&1) || fail "installed pushd without -f: $out"
[ "$out" = "$opt/etc/pushd/pushd.yaml: configuration OK" ] || fail "installed pushd without -f read: $out"
token=$(cd / && env -u PUSHD_AUTH_ACCESSSECRET "$opt/bin/pushctl" token --user u1 2>&1) || fail "installed pushctl without -f: $token"
echo "$token" | grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' || fail "installed pushctl token: $token"
out=$(cd / && "$opt/bin/pushd" --help) && echo "$out" | grep -q "$opt/etc/pushd/pushd.yaml" ||
    fail "installed pushd --help does not name its default configuration"
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(cd "$src" && "$build/pushd" --check 2>&1) || fail "build tree pushd without -f: $out"
[ "$out" = "etc/pushd.yaml: configuration OK" ] || fail "build tree pushd without -f read: $out"
echo "install layout OK"
