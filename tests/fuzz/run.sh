#!/bin/sh
# Runs the libFuzzer targets built in BUILD_DIR (cmake -DPUSHD_FUZZ=ON).
#
#   run.sh BUILD_DIR SECONDS [TARGET...]
#
# For each target (all of them by default), in turn:
#  1. replays every committed regression input, tests/fuzz/regressions/<t>/*
#     (each once: any crash, leak, timeout or failed check fails the run);
#  2. fuzzes for SECONDS from the committed seeds (tests/fuzz/corpus/<t>,
#     read only) plus a working corpus kept in BUILD_DIR/fuzz-corpus/<t>
#     (it grows run after run), with the target's dictionary.
# A crash leaves its input in BUILD_DIR/fuzz-artifacts/<t>/; the log is in
# BUILD_DIR/fuzz-logs/<t>.log. Prints one summary line per target
# (executions, coverage) and exits non-zero when any target failed.
set -u
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-json protocol auth access handshake bus_entry config_yaml ws_codec http_get frame_deflate}

failed=""
printf '%-14s %10s %9s %6s %6s %7s  %s\n' target execs exec/s cov ft corpus result
for t in $targets; do
  bin=$build/tests/fuzz/fuzz_$t
  work=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t/
  log=$build/fuzz-logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if [ ! -x "$bin" ]; then
    echo "$t: $bin missing (build with -DPUSHD_FUZZ=ON)"; failed="$failed $t"; continue
  fi
  # The seed corpus's largest file sets no limit here: a few targets take
  # inputs bigger than libFuzzer's default of 4096 bytes.
  maxlen=4096
  case $t in config_yaml|ws_codec|auth) maxlen=16384 ;; esac
  opts="-timeout=10 -rss_limit_mb=2048 -max_len=$maxlen -print_final_stats=1"
  result=ok
  regressions=$here/regressions/$t
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    # Files (not a directory) as arguments: each is run once, no fuzzing.
    if ! "$bin" $opts "$regressions"/* >"$log.regressions" 2>&1; then
      result="REGRESSION (see $log.regressions)"
    fi
  fi
  if [ "$result" = ok ]; then
    # The outer timeout only guards against a fuzzer that fails to stop.
    if ! timeout $((seconds + 120)) "$bin" $opts -max_total_time="$seconds" \
         -dict="$here/dict/$t.dict" -artifact_prefix="$artifacts" \
         "$work" "$here/corpus/$t" >"$log" 2>&1; then
      result="FAILED (see $log, input in $artifacts)"
    fi
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" 2>/dev/null | tail -1)
  execs=$(grep -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$')
  cov=$(echo "$done_line" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$done_line" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$done_line" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
  printf '%-14s %10s %9s %6s %6s %7s  %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$result"
  if [ "$result" != ok ]; then
    failed="$failed $t"
    tail -n 30 "$log" 2>/dev/null
    [ -f "$log.regressions" ] && tail -n 30 "$log.regressions"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz targets failed:$failed"
  exit 1
fi
