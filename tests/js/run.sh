#!/bin/sh
# The JavaScript tests: clients/js against real pushd and redis-server
# processes, and examples/web-chat in headless Chromium (ctest entry `js`).
#   tests/js/run.sh [BUILD_DIR]     (default: build/ of this checkout)
# Installs the npm packages of package-lock.json (ws, playwright-core) when
# node_modules is missing or stale; never downloads a browser: the test uses
# Debian's /usr/bin/chromium (`make deps` installs it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
export PUSHD_BUILD_DIR="$build"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$here"

for tool in node npm redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "js tests: $tool not found (make deps installs it)" >&2; exit 1; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "js tests: ${CHROMIUM:-/usr/bin/chromium} not found (make deps installs it)" >&2; exit 1; }

./npm-deps.sh

# One file at a time: they start their own processes, and the machine is small.
status=0
for f in client.test.mjs browser.test.mjs; do
    node --test "$f" || status=1
done
exit $status
