#!/usr/bin/env bash
# A fresh clone in a temporary folder with nothing beside it (no ../shared):
# `npm install` (which builds, prepare) and the checks that need no shared
# contract — the typecheck and the contract tests, which read the copy in
# contract/. Clones the committed HEAD of this checkout.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # as root the embedded PostgreSQL runs as the postgres user, which must reach the clone's binaries
git clone --quiet --no-hardlinks "$here" "$tmp/sluice"
cd "$tmp/sluice"
test ! -e ../shared
npm install --no-audit --no-fund
test -f dist/src/main.js  # built by prepare
npm run contract:check     # nothing beside it to compare with: says so, passes
npm run typecheck
npx jest test/schema test/api/roles.test.ts
echo "fresh-clone: passed in $tmp/sluice"
