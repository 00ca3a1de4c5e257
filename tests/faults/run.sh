#!/bin/sh
# Overlapping-fault runs of tests/faults/chaos.mjs (see README.md beside it).
#   tests/faults/run.sh BUILD_DIR [RUNS [DURATION_S [FIRST_SEED]]]
# `make test` runs one bounded run (ctest entry `faults`: 1 run, 60 s of
# faults, seed 1); `make chaos` runs CHAOS_RUNS runs with consecutive seeds.
# Each run prints one `CHAOS {...}` line with its figures; the first failing
# run stops the loop and its report says how to reproduce it (the seed).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
runs=${2:-1}
duration=${3:-60}
seed=${4:-1}
clients=${CHAOS_CLIENTS:-12}
senders=${CHAOS_SENDERS:-3}
export PUSHD_BUILD_DIR="$build"

for tool in node npm redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "faults: $tool not found (make deps installs it)" >&2; exit 1; }
done
# The JavaScript client's test dependencies (the ws package) live in tests/js.
"$here/../js/npm-deps.sh"

i=0
while [ "$i" -lt "$runs" ]; do
    node "$here/chaos.mjs" --seed "$seed" --duration "$duration" --clients "$clients" --senders "$senders" \
        --logs "${CHAOS_LOGS:-/tmp}"
    i=$((i + 1))
    seed=$((seed + 1))
done
