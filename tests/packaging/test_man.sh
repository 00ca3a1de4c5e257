#!/bin/bash
# The man pages and the bash completion cannot drift from the programs:
# every option of `pushd --help`, every command and option of `pushctl
# --help` (and of each command's --help) is documented in docs/man/*.scd
# and completed by cli/pushctl.bash-completion; every option the pages name
# exists; every configuration key (`pushd --print-config`, the key table)
# is in pushd.yaml(5) with its default, and the page names no other key;
# the built pages are scdoc's output of the sources.
# Usage: test_man.sh BUILD_DIR (run by ctest, after the build).
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
man=$src/docs/man
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
long_options() { grep -oE '(^|[ ,])--[a-z][a-z-]*' | sed 's/^[ ,]//' | sort -u; }
# The command names of a CLI11 help text's "Subcommands:" block.
subcommands() { sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}'; }

# pushd(8)
for opt in $("$build/pushd" --help | long_options); do
    grep -qF -- "*$opt*" "$man/pushd.8.scd" || fail "pushd.8.scd does not document $opt"
done
for opt in $(grep -oE '\*--[a-z][a-z-]*\*' "$man/pushd.8.scd" | tr -d '*' | sort -u); do
    "$build/pushd" --help | long_options | grep -qx -- "$opt" || fail "pushd.8.scd documents $opt, which pushd does not have"
done

# pushctl(1) and its completion
completion=$src/cli/pushctl.bash-completion
all_help=$("$build/pushctl" --help)
for opt in $(echo "$all_help" | sed '/^Subcommands:/,$d' | long_options); do
    grep -qF -- "*$opt*" "$man/pushctl.1.scd" || fail "pushctl.1.scd does not document $opt"
    grep -qE -- "(\"| )$opt( |\")" "$completion" || fail "the completion does not offer $opt"
done
for cmd in $(echo "$all_help" | subcommands); do
    grep -qE "^\*$cmd(\*| )" "$man/pushctl.1.scd" || fail "pushctl.1.scd has no entry for the command $cmd"
    grep -qE "commands=\".*\b$cmd\b" "$completion" || fail "the completion does not offer the command $cmd"
    help=$("$build/pushctl" "$cmd" --help)
    all_help="$all_help
$help"
    for opt in $(echo "$help" | sed '/^Subcommands:/,$d' | long_options | grep -vx -- --help); do
        sed -n "/^\*$cmd\*/,/^\$/p" "$man/pushctl.1.scd" | grep -qF -- "*$opt*" ||
            fail "pushctl.1.scd: $cmd does not document $opt"
        grep -qE "^ *$cmd\) opts=\".*$opt( |\")" "$completion" || fail "the completion of $cmd does not offer $opt"
    done
    for sub in $(echo "$help" | subcommands); do
        grep -qE "^\*$cmd (\*$sub\*|.*\b$sub\b)" "$man/pushctl.1.scd" || fail "pushctl.1.scd has no entry for $cmd $sub"
        grep -qE "\"[^\"]*\b$sub\b" "$completion" || fail "the completion does not offer $cmd $sub"
        subhelp=$("$build/pushctl" "$cmd" "$sub" --help)
        all_help="$all_help
$subhelp"
        for opt in $(echo "$subhelp" | long_options | grep -vx -- --help); do
            grep -E "^\*$cmd .*$sub" "$man/pushctl.1.scd" | grep -qF -- "*$opt*" ||
                fail "pushctl.1.scd: $cmd $sub does not document $opt"
            grep -qE "^ *$sub\) opts=\".*$opt( |\")" "$completion" || fail "the completion of $cmd $sub does not offer $opt"
        done
    done
done
for opt in $(grep -oE '\*--[a-z][a-z-]*\*' "$man/pushctl.1.scd" | tr -d '*' | sort -u); do
    echo "$all_help" | long_options | grep -qx -- "$opt" || fail "pushctl.1.scd documents $opt, which pushctl does not have"
done

# pushd.yaml(5): each key with the default pushd reports for it.
cfg=$(mktemp /tmp/pushd-man-XXXXXX.yaml)
trap 'rm -f "$cfg"' EXIT
printf 'Auth: {AccessSecret: "0123456789abcdef0123456789abcdef"}\n' > "$cfg"
keys=""
while IFS='=' read -r key value; do
    keys="$keys $key"
    case $value in
        '***') want="none, required" ;;  # the one key without a default
        '') want='""' ;;
        '*') want='\*' ;;
        *) want=$value ;;
    esac
    grep -qxF -- "*$key* (default: $want)" "$man/pushd.yaml.5.scd" ||
        fail "pushd.yaml.5.scd: no '*$key* (default: $want)'"
done < <(env -i "$build/pushd" --print-config -f "$cfg")
for key in $(grep -oE '^\*[A-Z][A-Za-z.]*\* \(default' "$man/pushd.yaml.5.scd" | cut -d'*' -f2); do
    [[ " $keys " == *" $key "* ]] || fail "pushd.yaml.5.scd documents $key, which is not a key"
done

# The built pages are the sources' (make rebuilds them; a stale tree fails).
for page in pushd.8 pushctl.1 pushd.yaml.5; do
    if ! scdoc < "$man/$page.scd" | cmp -s - "$build/man/$page"; then
        fail "$build/man/$page is not scdoc's output of docs/man/$page.scd"
    fi
done

[ "$failures" = 0 ] || exit 1
echo "man pages and completion OK"
