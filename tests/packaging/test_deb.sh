#!/bin/sh
# The Debian package from `make deb`: lintian reports no error; it installs
# with dpkg -i on this machine (user, secret, configuration root:pushd 0640,
# man pages, completion, the JavaScript client, both units); the installed
# pushd finds /etc/pushd/pushd.yaml and the secret without -f; a reinstall
# (an upgrade to the same version) keeps an edited configuration; purge
# removes it all. Starting is checked only where systemd runs.
# Usage: test_deb.sh DEB_DIR (run by `make test-deb`, as root).
set -eu
dir=$1
deb=$(ls "$dir"/pushd_*.deb | grep -v dbgsym | head -n 1)
[ -f "$deb" ] || { echo "FAIL: no pushd_*.deb in $dir" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
if dpkg-query -W -f='${Status}' pushd 2>/dev/null | grep -q 'install ok installed'; then
    fail "pushd is installed on this machine already; this test installs and purges it"
fi
trap 'dpkg --purge pushd >/dev/null 2>&1 || true' EXIT

lintian_out=$(lintian --fail-on error "$deb" 2>&1) || fail "lintian: $lintian_out"
echo "$lintian_out" | grep -q '^E:' && fail "lintian errors: $lintian_out"

dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
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
[ "$(stat -c '%a %U %G' /etc/pushd/pushd.yaml)" = "640 root pushd" ] ||
    fail "/etc/pushd/pushd.yaml is $(stat -c '%a %U:%G' /etc/pushd/pushd.yaml)"
[ "$(stat -c '%a %U' /etc/default/pushd)" = "600 root" ] || fail "/etc/default/pushd is not 0600 root"
out=$(cd / && pushd --check 2>&1) || fail "pushd --check (installed, no -f): $out"
[ "$out" = "/etc/pushd/pushd.yaml: configuration OK" ] || fail "installed pushd --check read: $out"
man -w pushctl >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "man cannot find pushctl(1)"
bash -c '. /usr/share/bash-completion/completions/pushctl 2>/dev/null; complete -p pushctl' >/dev/null ||
    fail "the completion does not register for pushctl"

# An upgrade (here: the same version again) keeps the operator's edits.
echo "# edited by the operator" >> /etc/pushd/pushd.yaml
secret=$(cat /etc/default/pushd)
dpkg -i "$deb" >/dev/null || fail "reinstall"
grep -q "edited by the operator" /etc/pushd/pushd.yaml || fail "the upgrade replaced the edited configuration"
[ "$(cat /etc/default/pushd)" = "$secret" ] || fail "the upgrade replaced the secret"
[ "$(stat -c '%G' /etc/pushd/pushd.yaml)" = pushd ] || fail "the upgrade lost the configuration's group"

if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet pushd || fail "pushd.service is not active after install"
else
    echo "(systemd is not running here: the start is not checked)"
fi

dpkg --purge pushd >/dev/null || fail "dpkg --purge"
for f in /usr/bin/pushd /etc/pushd/pushd.yaml /etc/default/pushd /lib/systemd/system/pushd.service; do
    [ ! -e "$f" ] || fail "$f is left after purge"
done
echo "debian package OK ($(basename "$deb"))"
