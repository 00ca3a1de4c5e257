#!/bin/sh
# Fails when a sanitizer wrote any report into DIR (ASAN_OPTIONS and
# UBSAN_OPTIONS log_path point there, one file per reporting process), and
# prints them. Reports go to files rather than stderr because the pushd and
# pushctl processes the integration tests start write stderr into per-test
# logs that are deleted when the test passes: a leak reported at exit, after
# the test has looked, would otherwise be lost.
#
#   check-logs.sh DIR
set -u
dir=$1
reports=$(find "$dir" -type f 2>/dev/null | sort)
if [ -z "$reports" ]; then
  echo "sanitizers: no reports in $dir"
  exit 0
fi
for f in $reports; do
  echo "==== $f"
  cat "$f"
done
echo "sanitizers: $(echo "$reports" | wc -l) report file(s) in $dir"
exit 1
