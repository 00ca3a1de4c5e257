#!/bin/sh
# Installs the npm packages of tests/js/package-lock.json (ws,
# playwright-core) when node_modules is missing or stale; never downloads a
# browser. Run by the test scripts that use them (tests/js, tests/faults,
# tests/soak).
set -eu
cd "$(dirname "$0")"
stamp=node_modules/.pushd-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
    echo "$want" > "$stamp"
fi
