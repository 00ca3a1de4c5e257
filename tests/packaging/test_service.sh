#!/bin/sh
# pushd.service starts as installed: stage `make install` (PREFIX=/usr) into a
# root, prepare it as the package's postinst does (pushd-setup: sysusers
# user, EnvironmentFile with a secret, tmpfiles owners), then run
# `pushd --check` and pushd exactly as the unit does: as the pushd uid and
# gid with no supplementary groups, environment from the EnvironmentFile,
# -f the installed configuration. It must serve (/health 200 with Redis up).
# Usage: test_service.sh BUILD_DIR (run by ctest, after the build), or
#        test_service.sh PACKAGE.deb (test_deb.sh: the package's files staged).
set -eu
from=$1
work=$(mktemp -d /tmp/pushd-service-XXXXXX)
redis_pid=""
pushd_pid=""
cleanup() {
    [ -n "$pushd_pid" ] && kill "$pushd_pid" 2>/dev/null || true
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/pushd.log" ] && sed 's/^/  pushd: /' "$work/pushd.log" >&2; exit 1; }
# A random TCP port on 127.0.0.1 that refuses connections now (curl exit 7),
# below the ephemeral range, where outgoing connections of any process on
# the machine could take it between this check and the bind.
free_port() {
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    while :; do
        p=$(shuf -i 10000-$((low - 1)) -n 1)
        rc=0; curl -s --max-time 1 "http://127.0.0.1:$p/" >/dev/null 2>&1 || rc=$?
        [ "$rc" = 7 ] && { echo "$p"; return; }
    done
}

# The unprivileged user must be able to reach the staged files.
chmod 0755 "$work"
root=$work/root
case $from in
    *.deb)
        dpkg-deb -x "$from" "$root"
        unit=$root/lib/systemd/system/pushd.service  # Debian 12's place for units
        ;;
    *)
        DESTDIR=$root cmake --install "$from" --prefix /usr >/dev/null
        unit=$root/usr/lib/systemd/system/pushd.service
        ;;
esac
[ -x "$root/usr/lib/pushd/pushd-setup" ] || fail "no /usr/lib/pushd/pushd-setup"
[ -f "$root/usr/lib/sysusers.d/pushd.conf" ] || fail "no sysusers.d entry"
[ -f "$root/usr/lib/tmpfiles.d/pushd.conf" ] || fail "no tmpfiles.d entry"
grep -q 'dev-secret' "$root/etc/pushd/pushd.yaml" && fail "the installed pushd.yaml holds the development secret"

# What the package's postinst (and a real `make install`) does.
"$root/usr/lib/pushd/pushd-setup" "$root" >/dev/null || fail "pushd-setup failed"
uid=$(awk -F: '$1 == "pushd" {print $3}' "$root/etc/passwd")
gid=$(awk -F: '$1 == "pushd" {print $4}' "$root/etc/passwd")
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "pushd-setup created no unprivileged user pushd"
[ "$(stat -c '%a %u %g' "$root/etc/pushd/pushd.yaml")" = "640 0 $gid" ] ||
    fail "pushd.yaml is $(stat -c '%a %u:%g' "$root/etc/pushd/pushd.yaml"), want 640 0:$gid"
env_file=$root/etc/default/pushd
[ "$(stat -c '%a %u' "$env_file")" = "600 0" ] || fail "/etc/default/pushd is not 0600 root"
grep -Eq '^PUSHD_AUTH_ACCESSSECRET=[0-9a-f]{64}$' "$env_file" || fail "no generated secret in /etc/default/pushd"
secret_before=$(cat "$env_file")
"$root/usr/lib/pushd/pushd-setup" "$root" >/dev/null || fail "pushd-setup failed the second time"
[ "$(cat "$env_file")" = "$secret_before" ] || fail "a second pushd-setup replaced the secret"

# The unit runs it as that user, with that file and that configuration.
grep -qx 'User=pushd' "$unit" || fail "unit: no User=pushd"
grep -qx 'Group=pushd' "$unit" || fail "unit: no Group=pushd"
grep -q '^DynamicUser=yes' "$unit" && fail "unit: DynamicUser=yes cannot share the configuration's group"
grep -qx 'EnvironmentFile=-/etc/default/pushd' "$unit" || fail "unit: no EnvironmentFile=-/etc/default/pushd"
grep -Eq '^WatchdogSec=[1-9]' "$unit" || fail "unit: no WatchdogSec="
grep -q '^Documentation=man:pushd(8)' "$unit" || fail "unit: no Documentation="
grep -qx 'ExecStartPre=/usr/bin/pushd --check -f /etc/pushd/pushd.yaml' "$unit" || fail "unit: ExecStartPre"
grep -qx 'ExecStart=/usr/bin/pushd -f /etc/pushd/pushd.yaml' "$unit" || fail "unit: ExecStart"

# The operator points it at Redis and a port, in the EnvironmentFile.
port=$(free_port)
redis_port=$(free_port)
while [ "$redis_port" = "$port" ]; do redis_port=$(free_port); done
cat >> "$env_file" <<EOT
PUSHD_HOST=127.0.0.1
PUSHD_PORT=$port
PUSHD_REDIS_HOST=127.0.0.1:$redis_port
EOT
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!

# `env -i` + the file's assignments: the environment systemd gives the unit.
as_unit() {
    # shellcheck disable=SC2046 # one word per KEY=VALUE line
    env -i PATH=/usr/bin:/bin $(grep -E '^[A-Z_][A-Z0-9_]*=' "$env_file") \
        setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs "$@"
}
out=$(as_unit "$root/usr/bin/pushd" --check -f "$root/etc/pushd/pushd.yaml" 2>&1) ||
    fail "pushd --check as uid $uid gid $gid: $out"

# Not through as_unit: a function in the background is a subshell, and $!
# must be pushd itself (env and setpriv exec it).
# shellcheck disable=SC2046
env -i PATH=/usr/bin:/bin $(grep -E '^[A-Z_][A-Z0-9_]*=' "$env_file") \
    setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs \
    "$root/usr/bin/pushd" -f "$root/etc/pushd/pushd.yaml" >"$work/pushd.log" 2>&1 &
pushd_pid=$!
health=""
for _ in $(seq 1 100); do
    health=$(curl -s --max-time 1 "http://127.0.0.1:$port/health" || true)
    [ "$health" = "OK" ] && break
    kill -0 "$pushd_pid" 2>/dev/null || fail "pushd exited"
    sleep 0.1
done
[ "$health" = "OK" ] || fail "pushd as the unit's user never served /health OK (last: '$health')"
[ "$(awk '/^Uid:/ {print $2}' "/proc/$pushd_pid/status")" = "$uid" ] || fail "pushd does not run as uid $uid"
[ -z "$(awk '/^Groups:/ {print $2}' "/proc/$pushd_pid/status")" ] || fail "pushd has supplementary groups"
echo "service as installed OK (uid $uid, gid $gid, port $port)"
