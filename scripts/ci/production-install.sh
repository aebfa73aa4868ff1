#!/usr/bin/env bash
# A production install of a built copy: what a container image does after
# `npm install` built dist/ — copy the package with its dist/, then
# `npm ci --omit=dev` (no TypeScript, no jest) and `npm start`. It must become
# ready (/healthz 200) and stop on SIGTERM to npm with exit 0.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
test -f "$here/dist/src/main.js" || (cd "$here" && npm run build)
tmp="$(mktemp -d)"
npm_pid=""
cleanup() {
  if [ -n "$npm_pid" ] && kill -0 "$npm_pid" 2>/dev/null; then kill -KILL -- "-$npm_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"  # the embedded PostgreSQL runs as the postgres user when we are root: it must enter here
mkdir "$tmp/app"
# What an image would COPY: the tracked files (examples/ is a workspace of the lock file) and the build.
(cd "$here" && git ls-files -z | xargs -0 -I{} cp --parents {} "$tmp/app/" && cp -r dist "$tmp/app/")
cd "$tmp/app"
npm ci --omit=dev --no-audit --no-fund
test ! -e node_modules/typescript
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
DATA_DIR="$tmp/data" PORT="$port" setsid npm start > "$tmp/start.log" 2>&1 &
npm_pid=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$npm_pid" 2>/dev/null; then cat "$tmp/start.log"; echo "production-install: npm start exited" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz"; echo
kill -TERM "$npm_pid"
code=0; wait "$npm_pid" || code=$?
npm_pid=""
grep -q '"msg":"stopped"' "$tmp/start.log" || { cat "$tmp/start.log"; exit 1; }
test "$code" -eq 0 || { cat "$tmp/start.log"; echo "production-install: npm exited $code" >&2; exit 1; }
echo "production-install: npm ci --omit=dev of a built copy starts, and stops with 0"
