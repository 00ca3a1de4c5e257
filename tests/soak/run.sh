#!/bin/sh
# Connection churn against one pushd, then a check that its levels come
# back to their baseline (tests/soak/soak.mjs; README.md beside it).
#   tests/soak/run.sh BUILD_DIR [DURATION_S [SEED]]
# `make test` runs 60 s of churn (ctest entry `soak`, ~80 s in all);
# `make soak` runs SOAK_DURATION (default 600) seconds.
# PUSHD_BUILD_DIR may point at the sanitized build instead (README.md).
# The run prints one `SOAK {...}` line with its figures (baseline, peak,
# after); SOAK_JSON names a file for every sample.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
duration=${2:-60}
seed=${3:-1}
export PUSHD_BUILD_DIR="${PUSHD_BUILD_DIR:-$build}"

for tool in node npm redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "soak: $tool not found (make deps installs it)" >&2; exit 1; }
done
# The JavaScript client's test dependencies (the ws package) live in tests/js.
"$here/../js/npm-deps.sh"

set -- --duration "$duration" --seed "$seed" --logs "${SOAK_LOGS:-/tmp}"
[ -n "${SOAK_RATE:-}" ] && set -- "$@" --rate "$SOAK_RATE"
[ -n "${SOAK_RSS_SLACK_MB:-}" ] && set -- "$@" --rss-slack-mb "$SOAK_RSS_SLACK_MB"
[ -n "${SOAK_JSON:-}" ] && set -- "$@" --json "$SOAK_JSON"
exec node "$here/soak.mjs" "$@"
