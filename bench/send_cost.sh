#!/bin/bash
# Builds bench/send_cost.cpp into a temporary directory and runs its two
# modes alternately, RUNS times each (default 4): the kernel's CPU per small
# write with one send() per connection and with the writes of a round
# submitted together through io_uring. Needs g++ and liburing-dev.
set -eu
RUNS=${1:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
g++ -O2 -std=c++17 "$ROOT/bench/send_cost.cpp" -o "$TMP/send_cost" -luring
for _ in $(seq "$RUNS"); do
    "$TMP/send_cost" send
    "$TMP/send_cost" uring
done
