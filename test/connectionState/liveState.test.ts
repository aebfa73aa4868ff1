/**
 * Every change of state is streamed by queueSize (also with the numbers
 * unchanged), counted and gauged in /metrics, and kept across a restart.
 */
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { startSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createExportImportFlow, createHttpConnection, getJob, runFlow, waitForJob } from '../support/flows';
import { graphqlClient } from '../support/graphqlClient';
import { openSocket, record } from '../support/liveClient';
import { orders, useRecordingApi } from '../support/recordingApi';
import { startTestSluice, useTestSluice, type TestSluice } from '../support/sluice';
import { QUIET_MS, pause, resume, stateOf, watchFor, type StateName } from './stateApi';

interface StateEvent {
  connectionId: string;
  queueOwnerId: string;
  queueSize: number;
  inFlight: number;
  state: StateName;
}

const QUEUE_STATES = `subscription($ids: [ID!]) { queueSize(connectionIds: $ids) { connectionId queueOwnerId queueSize inFlight state } }`;

function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('Subscription.queueSize with state', () => {
  const s = useTestSluice();

  it('streams PAUSED then ONLINE, for the connection and its borrower, with its numbers unchanged', async () => {
    const owner = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'live-owner' });
    const borrower = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'live-borrower', borrowConcurrencyFromId: owner });
    const { client } = openSocket(s.url, s.adminSecret);
    try {
      const live = record<StateEvent>(client, QUEUE_STATES, { ids: [owner, borrower] }, 'queueSize');
      const states = (id: string): StateName[] => live.events.filter((e) => e.value.connectionId === id).map((e) => e.value.state);
      await live.waitUntil(() => states(owner).length === 1 && states(borrower).length === 1, 5000, 'the first events');

      await pause(s, owner, 'live');
      await live.waitUntil(() => states(owner).includes('PAUSED') && states(borrower).includes('PAUSED'), 5000, 'PAUSED events');
      await resume(s, owner);
      await live.waitUntil(() => states(owner).at(-1) === 'ONLINE' && states(borrower).at(-1) === 'ONLINE', 5000, 'ONLINE events');

      expect(states(owner)).toEqual(['ONLINE', 'PAUSED', 'ONLINE']);
      expect(states(borrower)).toEqual(['ONLINE', 'PAUSED', 'ONLINE']);
      for (const e of live.events) expect(e.value).toMatchObject({ queueOwnerId: owner, queueSize: 0, inFlight: 0 });
      live.unsubscribe();
    } finally {
      await client.dispose();
    }
  });
});

describe('connection state in /metrics', () => {
  const s = useTestSluice();

  async function metrics(): Promise<string> {
    const response = await fetch(`${s.url}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  }

  it('gauges each connection’s own state and counts each change by new state and reason, promtool-clean', async () => {
    const id = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'gauged' });
    const other = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'left alone' });
    await pause(s, id, 'metrics');
    await pause(s, id, 'a new reason is no change of state');

    const paused = await metrics();
    expect(series(paused, 'sluice_connection_state').filter((l) => l.includes(id)).sort()).toEqual([
      `sluice_connection_state{connection="${id}",state="OFFLINE"} 0`,
      `sluice_connection_state{connection="${id}",state="ONLINE"} 0`,
      `sluice_connection_state{connection="${id}",state="PAUSED"} 1`,
    ]);
    expect(series(paused, 'sluice_connection_state')).toContain(`sluice_connection_state{connection="${other}",state="ONLINE"} 1`);
    expect(series(paused, 'sluice_connection_state_changes_total')).toEqual([
      `sluice_connection_state_changes_total{connection="${id}",to="PAUSED",reason="paused"} 1`,
    ]);
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: paused, encoding: 'utf8' });
    expect({ status: checked.status, findings: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({ status: 0, findings: '' });

    await resume(s, id);
    await resume(s, id); // ONLINE already: no change
    const resumed = await metrics();
    expect(series(resumed, 'sluice_connection_state')).toContain(`sluice_connection_state{connection="${id}",state="ONLINE"} 1`);
    expect(series(resumed, 'sluice_connection_state_changes_total').sort()).toEqual([
      `sluice_connection_state_changes_total{connection="${id}",to="ONLINE",reason="resumed"} 1`,
      `sluice_connection_state_changes_total{connection="${id}",to="PAUSED",reason="paused"} 1`,
    ]);
  });

  it('drops a deleted connection’s series from the gauge', async () => {
    const id = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'deleted' });
    expect(series(await metrics(), 'sluice_connection_state').filter((l) => l.includes(id))).toHaveLength(3);
    await s.ok(`mutation($id: ID!) { deleteConnection(id: $id) }`, { id });
    expect(series(await metrics(), 'sluice_connection_state').filter((l) => l.includes(id))).toEqual([]);
  });
});

describe('a pause across a restart', () => {
  let first: TestSluice | undefined;
  let second: Awaited<ReturnType<typeof startSluice>> | undefined;
  const api = useRecordingApi({ latencyMs: 10 });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('is still PAUSED on a server started on the same database, and nothing of it runs until resumed', async () => {
    first = await startTestSluice({ engine: true });
    api.options.orders = orders(5);
    const conn = await createHttpConnection(first, api.url, { name: 'kept paused', concurrencyLevel: 1 });
    const flowId = await createExportImportFlow(first, conn);
    const before = await pause(first, conn, 'over the restart');
    const { databaseUrl, credentialsKey, adminSecret } = first;
    await first.close();
    first = undefined;

    const config = loadConfig({ DATABASE_URL: databaseUrl, CREDENTIALS_KEY: credentialsKey, BOOTSTRAP_ADMIN_TOKEN: adminSecret, PORT: '0', ROLE: 'all' });
    second = await startSluice(config, createLogger('silent', { write: () => undefined } as unknown as pino.DestinationStream));
    const client = graphqlClient(second.url, adminSecret);
    expect(await stateOf(client, conn)).toEqual(before);

    const jobId = await runFlow(client, flowId);
    await watchFor(QUIET_MS);
    expect(api.arrivals).toEqual([]);
    expect((await getJob(client, jobId)).status).toBe('QUEUED');

    await resume(client, conn);
    expect(await waitForJob(client, jobId, 30000)).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5 });
  });
});
