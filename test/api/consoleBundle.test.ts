import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConsoleBundle } from '../../src/http/consoleBundle';
import { startTestSluice, useTestSluice } from '../support/sluice';

/** A GET with node:http, which (unlike fetch) keeps the bytes as sent, gzip included. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

describe('the console bundle over HTTP', () => {
  const s = useTestSluice();

  it('serves the console at GET / with its assets, same origin, nothing from elsewhere', async () => {
    const page = await get(`${s.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const html = page.body.toString();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    for (const asset of assets) {
      const file = await get(`${s.url}${asset}`);
      expect(file.status).toBe(200);
      expect(file.headers['cache-control']).toContain('immutable');
    }
  });

  it('answers gzip to a client that accepts it', async () => {
    const plain = await get(`${s.url}/`);
    const zipped = await get(`${s.url}/`, { 'accept-encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
  });

  it('serves the explorer page at GET /graphql to a browser, and GraphQL to everyone else', async () => {
    const explorer = await get(`${s.url}/graphql`, { accept: 'text/html,application/xhtml+xml' });
    expect(explorer.status).toBe(200);
    expect(explorer.body.toString()).toContain('Sluice API explorer');
    // A GET query, even from a browser, is an API request.
    const query = await get(`${s.url}/graphql?query=${encodeURIComponent('{ viewer { role } }')}`, {
      accept: 'text/html,application/json',
      authorization: `Bearer ${s.adminSecret}`,
    });
    expect(JSON.parse(query.body.toString())).toEqual({ data: { viewer: { role: 'ADMINISTER' } } });
    expect((await s.gql('{ viewer { role } }')).data).toEqual({ viewer: { role: 'ADMINISTER' } });
  });

  it('answers 404 for a path the bundle does not hold, never reading the file system by the request', async () => {
    expect((await get(`${s.url}/assets/nothing.js`)).status).toBe(404);
    expect((await get(`${s.url}/assets/../../package.json`)).status).toBe(404);
    expect((await get(`${s.url}/%2e%2e/package.json`)).status).toBe(404);
  });
});

describe('the console bundle and process roles', () => {
  it('is not served by ROLE=worker', async () => {
    const worker = await startTestSluice({ env: { ROLE: 'worker' } });
    try {
      expect((await get(`${worker.url}/`)).status).toBe(404);
      expect((await get(`${worker.url}/graphql`, { accept: 'text/html' })).status).toBe(404);
    } finally {
      await worker.close();
    }
  });

  it('says how to build it when it was not built', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'sluice-console-'));
    expect(loadConsoleBundle(empty)).toEqual({ kind: 'missing', dir: empty });
  });
});
