/**
 * /metrics as Prometheus reads it, from a live server that has run a job:
 * `promtool check metrics` (Debian's `prometheus` package; .ci/run installs
 * it where it is missing) finds nothing, and the operator's series are
 * there: build info, the database's up/down gauge, jobs by final status and
 * records by outcome.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { json, orders, useRecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';

/** promtool on PATH, or where Debian's package puts it. */
function promtool(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const candidate = path.join(dir, 'promtool');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('promtool not found: install it with `apt-get install -y --no-install-recommends prometheus` (.ci/run does)');
}

function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('GET /metrics', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi();

  it('passes promtool check metrics, with build info, the database gauge, and job and record counters', async () => {
    api.options.orders = orders(10);
    // Every third record is refused for good: records of both outcomes.
    api.options.override = (req, res) => {
      if (!req.path.startsWith('/import')) return false;
      const id = (JSON.parse(req.body) as { id: number }).id;
      if (id % 3 !== 0) return false;
      json(res, 422, { error: 'unprocessable' });
      return true;
    };
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2 });
    const job = await waitForJob(s, await runFlow(s, await createExportImportFlow(s, conn)), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 10, recordsSucceeded: 7, recordsFailed: 3 });

    const response = await fetch(`${s.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();

    const checked = spawnSync(promtool(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: checked.status, findings: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({ status: 0, findings: '' });

    expect(series(text, 'sluice_build_info')).toEqual([expect.stringMatching(/^sluice_build_info\{version="\d+\.\d+\.\d+[^"]*",nodejs_version="v\d+[^"]*"\} 1$/)]);
    expect(series(text, 'sluice_database_up')).toEqual(['sluice_database_up 1']);
    expect(series(text, 'sluice_jobs_finished_total')).toEqual(['sluice_jobs_finished_total{status="COMPLETED"} 1']);
    expect(series(text, 'sluice_records_total').sort()).toEqual([
      'sluice_records_total{outcome="exported"} 10',
      'sluice_records_total{outcome="failed"} 3',
      'sluice_records_total{outcome="succeeded"} 7',
    ]);
    expect(text).not.toMatch(/^sluice_nodejs_active_\w+_total/m);
  }, 60000);
});
