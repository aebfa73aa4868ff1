#!/usr/bin/env node
/**
 * `prepare`: what `npm install` runs after installing. It builds dist/ and the
 * web console (console/dist) once, so that `npm start` runs the built server
 * and never compiles on a start.
 *
 * A production install (`npm ci --omit=dev`) has no TypeScript: there the
 * dist/ that came with the package is used as it is, and a missing one is a
 * clear error instead of `tsc: not found`.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'src', 'main.js');

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  tsc = null;
}

if (tsc === null) {
  if (fs.existsSync(built)) {
    process.stdout.write('sluice: TypeScript is not installed (a production install); using the built dist/\n');
    process.exit(0);
  }
  process.stderr.write(
    'sluice: dist/ is missing and TypeScript is not installed to build it: run `npm install` with dev dependencies ' +
      '(or `npm run build` where they are), then install for production from that built copy\n',
  );
  process.exit(1);
}

// `npm run build`: tsc, and the engine's .sql files copied beside the compiled code.
const server = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (server.status !== 0) process.exit(server.status ?? 1);
// The web console (console/, a workspace) is built by the same install, so `GET /` serves it.
const consoleBuild = spawnSync('npm', ['run', 'console:build'], { cwd: root, stdio: 'inherit' });
process.exit(consoleBuild.status ?? 1);
