/** What this build is: the package's version, read once from its package.json (found from here, in src/ and in dist/src/). */
import fs from 'node:fs';
import path from 'node:path';

export interface BuildInfo {
  version: string;
  nodeVersion: string;
}

function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* no package.json here: look further up */
    }
    if (dir === path.dirname(dir)) return 'unknown';
  }
}

export const BUILD_INFO: BuildInfo = { version: packageVersion(), nodeVersion: process.version };
