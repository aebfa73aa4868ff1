/**
 * A connector plugin says "the application is away" by throwing a
 * TransientError with code UNAVAILABLE on its calls: the connection goes
 * OFFLINE like an http one, its records wait, and a probe (the plugin has no
 * ping: the first waiting message) brings it back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useTestSluice } from '../support/sluice';
import { stateOf } from './stateApi';
import { createFlow, runFlow, waitForJob, waitUntil } from '../support/flows';

const fixture = (name: string): string => path.join(__dirname, '..', 'fixtures', 'plugins', name);


describe('connection state: a plugin whose application goes away', () => {
  const s = useTestSluice({ engine: true, env: { CONNECTOR_PLUGINS: fixture('away.cjs'), PROBE_MAX_BACKOFF_MS: '1500' } });

  it('goes OFFLINE on consecutive UNAVAILABLE errors, fails no record, and resumes through a probe by message', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-away-'));
    const downFile = path.join(dir, 'down');
    const importedFile = path.join(dir, 'imported');
    fs.writeFileSync(downFile, '');
    const created = await s.ok<{ createConnection: { id: string } }>(
      `mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`,
      { input: { name: 'away app', connectorType: 'away', config: { records: 12, downFile, importedFile }, concurrencyLevel: 3, autoRecoverRateLimitErrors: false } },
    );
    const conn = created.createConnection.id;
    const flow = await createFlow(s, [
      { kind: 'EXPORT', connectionId: conn, config: {} },
      { kind: 'IMPORT', connectionId: conn, config: {} },
    ]);
    const jobId = await runFlow(s, flow.id);
    await waitUntil(async () => (await stateOf(s, conn)).state === 'OFFLINE', 10000, 'the connection OFFLINE');
    // Held over several probes' worth of time: nothing fails meanwhile.
    await new Promise((r) => setTimeout(r, 3000));
    const held = await s.ok<{ job: { status: string; recordsFailed: number } }>(`query($id: ID!) { job(id: $id) { status recordsFailed } }`, { id: jobId });
    expect(held.job).toEqual({ status: 'RUNNING', recordsFailed: 0 });
    fs.rmSync(downFile);
    const job = await waitForJob(s, jobId, 20000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsExported: 12, recordsSucceeded: 12, recordsFailed: 0, errors: [] });
    expect((await stateOf(s, conn)).state).toBe('ONLINE');
    const imported = fs.readFileSync(importedFile, 'utf8').trim().split('\n').map(Number);
    expect(new Set(imported)).toEqual(new Set(Array.from({ length: 12 }, (_, i) => i + 1)));
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60000);
});
