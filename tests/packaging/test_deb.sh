#!/bin/sh
# The Debian package on this machine, installed with dpkg and removed again:
# lintian reports no error; dpkg -i installs it (user, secret, configuration
# root:pushd 0640 as a conffile, man pages, completion, the JavaScript
# client, both units) and the unit's ExecStartPre passes as the pushd user;
# an upgrade to a higher version keeps the operator's edited configuration,
# the secret, the user and the owners, both when the package's own
# pushd.yaml is unchanged (dpkg's default: no question) and when it changed
# (--force-confdef --force-confold, as unattended upgrades run it: the edit
# is kept, the new default lands in pushd.yaml.dpkg-dist); remove keeps the
# configuration, purge removes it, the secret and /etc/pushd, and leaves
# the system user as Debian does (the test then deletes the user if it
# created it). Starting is checked only where systemd runs.
#
# Usage: test_deb.sh BUILD_DIR     ctest "deb" (`make test`): the package is
#                                  made of BUILD_DIR's binaries, which the
#                                  rest of `make test` tested (debian/rules,
#                                  PUSHD_PREBUILT), in seconds
#        test_deb.sh PACKAGE.deb   `make test-deb`: the from-scratch package
# It needs root (dpkg -i, and setpriv to run as the pushd user) and a
# machine where pushd is not installed; without either it fails, saying
# why, rather than pass without testing.
set -eu
from=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] ||
    fail "needs root: it installs the package with dpkg -i and purges it (CI runs as root; a developer: sudo ctest -R deb)"
status=$(dpkg-query -W -f='${db:Status-Status}' pushd 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] ||
    fail "package pushd is '$status' on this machine already; this test installs and purges it (dpkg --purge pushd first)"

started=$(date +%s)
work=$(mktemp -d /tmp/pushd-deb-XXXXXX)
had_user=no
getent passwd pushd >/dev/null && had_user=yes
cleanup() {
    dpkg --purge pushd >/dev/null 2>&1 || true
    if [ "$had_user" = no ] && getent passwd pushd >/dev/null; then
        userdel pushd 2>/dev/null || true
        groupdel pushd 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

case $from in
    *.deb) deb=$from ;;
    *)
        "$here/../../scripts/build-deb.sh" "$work/deb" 1 "$from" >"$work/build.log" 2>&1 ||
            { tail -n 30 "$work/build.log" >&2; fail "building the package from $from"; }
        deb=$(ls "$work"/deb/pushd_*.deb | grep -v dbgsym)
        echo "package built from $from in $(($(date +%s) - started)) s: $(basename "$deb")"
        ;;
esac
[ -f "$deb" ] || fail "no package $deb"

# Its files staged and run exactly as the unit runs them (it serves).
"$here/test_service.sh" "$deb"

# lintian: errors fail; the other tags, down to I:, are printed (the
# README says which remain and why).
lintian -I --fail-on error "$deb" >"$work/lintian" 2>&1 || fail "lintian: $(cat "$work/lintian")"
grep -q '^E:' "$work/lintian" && fail "lintian errors: $(cat "$work/lintian")"
grep -v '^running with root privileges' "$work/lintian" | sed 's/^/lintian: /'

# ExecStartPre of the unit, as the unit runs it: the pushd user, no
# supplementary groups, the secret from the EnvironmentFile.
check_as_unit() {
    # shellcheck disable=SC2046 # one word per KEY=VALUE line
    out=$(env -i PATH=/usr/bin:/bin $(grep -E '^[A-Z_][A-Z0-9_]*=' /etc/default/pushd) \
        setpriv --reuid=pushd --regid=pushd --clear-groups --no-new-privs \
        /usr/bin/pushd --check -f /etc/pushd/pushd.yaml 2>&1) || fail "$1: pushd --check as the unit: $out"
}
# Owners and modes the unit depends on, the user, the secret: as installed.
state() {
    echo "user $(getent passwd pushd | cut -d: -f3,4)"
    stat -c '%n %a %U %G' /etc/pushd/pushd.yaml /etc/default/pushd
    md5sum /etc/default/pushd
}

dpkg -i "$deb" </dev/null >/dev/null || fail "dpkg -i $deb"
for f in /usr/bin/pushd /usr/bin/pushctl /usr/bin/pushd-bench /lib/systemd/system/pushd.service \
         /lib/systemd/system/pushd@.service /usr/lib/sysusers.d/pushd.conf \
         /usr/lib/tmpfiles.d/pushd.conf /usr/share/man/man8/pushd.8.gz \
         /usr/share/man/man1/pushctl.1.gz /usr/share/man/man5/pushd.yaml.5.gz \
         /usr/share/bash-completion/completions/pushctl \
         /usr/share/pushd/clients/js/pushd-client.js; do
    [ -e "$f" ] || fail "the package did not install $f"
done
dpkg-query -W -f='${Conffiles}\n' pushd | grep -q '^ /etc/pushd/pushd.yaml ' || fail "pushd.yaml is not a conffile"
getent passwd pushd >/dev/null || fail "no user pushd after install"
[ "$(getent passwd pushd | cut -d: -f3)" -lt 1000 ] || fail "pushd is not a system user"
[ "$(stat -c '%a %U %G' /etc/pushd/pushd.yaml)" = "640 root pushd" ] ||
    fail "/etc/pushd/pushd.yaml is $(stat -c '%a %U:%G' /etc/pushd/pushd.yaml)"
[ "$(stat -c '%a %U' /etc/default/pushd)" = "600 root" ] || fail "/etc/default/pushd is not 0600 root"
out=$(cd / && pushd --check 2>&1) || fail "pushd --check (installed, no -f): $out"
[ "$out" = "/etc/pushd/pushd.yaml: configuration OK" ] || fail "installed pushd --check read: $out"
check_as_unit "after install"
man -w pushctl >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "man cannot find pushctl(1)"
bash -c '. /usr/share/bash-completion/completions/pushctl 2>/dev/null; complete -p pushctl' >/dev/null ||
    fail "the completion does not register for pushctl"
if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet pushd || fail "pushd.service is not active after install"
else
    echo "(systemd is not running here: the start is not checked)"
fi

# Versions V+1 and V+2: the same package under a higher version (seconds,
# no rebuild); V+2 also ships a changed default pushd.yaml.
version=$(dpkg-deb -f "$deb" Version)
repack() {  # repack VERSION [LINE appended to the shipped pushd.yaml]
    rm -rf "$work/repack" && dpkg-deb -R "$deb" "$work/repack"
    sed -i "s/^Version: .*/Version: $1/" "$work/repack/DEBIAN/control"
    [ $# -lt 2 ] || echo "$2" >> "$work/repack/etc/pushd/pushd.yaml"
    dpkg-deb --root-owner-group -b "$work/repack" "$work/pushd_$1.deb" >/dev/null
    dpkg --compare-versions "$1" gt "$version" || fail "$1 is not above $version"
}
installed() { dpkg-query -W -f='${Version}' pushd; }

echo "# edited by the operator" >> /etc/pushd/pushd.yaml
before=$(state)
repack "$version+1"
dpkg -i "$work/pushd_$version+1.deb" </dev/null >/dev/null || fail "upgrade to $version+1"
[ "$(installed)" = "$version+1" ] || fail "after the upgrade $(installed) is installed, not $version+1"
grep -q "edited by the operator" /etc/pushd/pushd.yaml || fail "the upgrade replaced the edited configuration"
[ ! -e /etc/pushd/pushd.yaml.dpkg-dist ] || fail "an unchanged default left pushd.yaml.dpkg-dist"
[ "$(state)" = "$before" ] || fail "the upgrade changed the user, owners or secret: $before -> $(state)"
check_as_unit "after the upgrade to $version+1"

repack "$version+2" "# a new default in $version+2"
dpkg --force-confdef --force-confold -i "$work/pushd_$version+2.deb" </dev/null >/dev/null ||
    fail "upgrade to $version+2 (changed default configuration)"
[ "$(installed)" = "$version+2" ] || fail "after the upgrade $(installed) is installed, not $version+2"
grep -q "edited by the operator" /etc/pushd/pushd.yaml || fail "the upgrade replaced the edited configuration"
grep -q "new default in $version+2" /etc/pushd/pushd.yaml.dpkg-dist ||
    fail "the new default configuration is not in pushd.yaml.dpkg-dist"
[ "$(state)" = "$before" ] || fail "the upgrade changed the user, owners or secret: $before -> $(state)"
check_as_unit "after the upgrade to $version+2"

# Remove keeps the configuration (dpkg: conffiles stay until purge).
dpkg -r pushd >/dev/null || fail "dpkg -r"
[ ! -e /usr/bin/pushd ] || fail "/usr/bin/pushd is left after remove"
grep -q "edited by the operator" /etc/pushd/pushd.yaml || fail "remove deleted the edited configuration"
[ -e /etc/default/pushd ] || fail "remove deleted the secret"
[ "$(dpkg-query -W -f='${db:Status-Status}' pushd)" = config-files ] || fail "not config-files after remove"

# Purge removes every file; the system user stays (Debian's practice:
# files elsewhere may still belong to it).
dpkg --purge pushd >/dev/null || fail "dpkg --purge"
for f in /usr/bin/pushd /usr/bin/pushctl /etc/pushd /etc/default/pushd /lib/systemd/system/pushd.service \
         /usr/lib/pushd /usr/share/pushd; do
    [ ! -e "$f" ] || fail "$f is left after purge"
done
status=$(dpkg-query -W -f='${db:Status-Status}' pushd 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "pushd is '$status' after purge"
getent passwd pushd >/dev/null || fail "purge deleted the system user (Debian leaves it)"
echo "debian package OK ($(basename "$deb"): install, upgrades to $version+1 and $version+2, remove, purge)" \
     "in $(($(date +%s) - started)) s"
