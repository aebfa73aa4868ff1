/**
 * The database round trips each request of a dashboard and an operator costs
 * (bench/apiLoad.ts's mix). A round trip, a socket write and a read, is most
 * of what an API request costs, so these counts are pinned: a change that
 * adds one per request shows here, not only in a benchmark.
 */
import { Client } from 'pg';
import { useTestSluice } from '../support/sluice';

const s = useTestSluice();

/** Every statement sent by any pg client of this process, while recording. */
const statements: string[] = [];
const originalQuery = Client.prototype.query;
beforeAll(() => {
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    statements.push(String(text));
    return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query;
});
afterAll(() => {
  Client.prototype.query = originalQuery;
});

/**
 * Not the request's own cost: authentication reads the token at most once a
 * second per process, and every process folds the queue tally once a second
 * on a timer (src/engine/queueTallyFolding.ts), which now and then fell inside
 * a request that was being counted.
 */
const isBackground = (text: string): boolean =>
  /FROM api_token WHERE secret_hash|UPDATE api_token SET last_used_at|^SELECT sluice_roll_up_queue_tally\(\)$/.test(text);

async function roundTrips(query: string, variables?: Record<string, unknown>): Promise<{ n: number; data: any }> {
  statements.length = 0;
  const data = await s.ok(query, variables);
  return { n: statements.filter((t) => !isBackground(t)).length, data };
}

describe('round trips per request', () => {
  it('costs one statement per level of a dashboard read, and one or a few per change', async () => {
    const base = { connectorType: 'http', config: { baseUrl: 'http://127.0.0.1:9' }, concurrencyLevel: 5 };
    const create = `mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`;
    const busy = (await s.ok(create, { i: { ...base, name: 'busy' } })).createConnection.id;
    const spare = (await s.ok(create, { i: { ...base, name: 'spare' } })).createConnection.id;
    await s.ok(`mutation($i: CreateConnectionInput!) { createConnection(input: $i) { id } }`, {
      i: { name: 'borrower', connectorType: 'http', config: { baseUrl: 'http://127.0.0.1:9' }, borrowConcurrencyFromId: busy },
    });
    const flow = (
      await s.ok(`mutation($i: CreateFlowInput!) { createFlow(input: $i) { id } }`, {
        i: {
          name: 'f',
          steps: [
            { name: 'export', kind: 'EXPORT', connectionId: busy, config: { path: '/orders', recordsPath: 'data' } },
            { name: 'import', kind: 'IMPORT', connectionId: spare, config: { path: '/import' } },
          ],
        },
      })
    ).createFlow.id;
    const job = (await s.ok(`mutation($f: ID!) { runFlow(flowId: $f) { id } }`, { f: flow })).runFlow.id;

    const counts: Record<string, number> = {};
    const count = async (label: string, query: string, variables?: Record<string, unknown>): Promise<any> => {
      const { n, data } = await roundTrips(query, variables);
      counts[label] = n;
      return data;
    };
    await count('connections', `{ connections { id name concurrencyLevel autoRecoverRateLimitErrors queueSize inFlight queueOwner { id } } }`);
    await count('connection', `query($c: ID!) { connection(id: $c) { id queueSize inFlight concurrencyLevel flows { id name } } }`, { c: busy });
    await count('jobs', `{ jobs(first: 20) { id status recordsSucceeded recordsFailed startedAt } }`);
    await count('flow', `query($f: ID!) { flow(id: $f) { id name steps { id kind position connection { id name } } jobs(first: 5) { id status } } }`, { f: flow });
    await count('job', `query($j: ID!) { job(id: $j) { id status recordsExported errors(first: 5) { code } } }`, { j: job });
    await count('updateConnection', `mutation($c: ID!) { updateConnection(id: $c, input: { name: "renamed" }) { id name } }`, { c: spare });
    await count('setConcurrency', `mutation($c: ID!) { setConcurrency(input: { connectionId: $c, level: 3, autoRecoverRateLimitErrors: false }) { id concurrencyLevel } }`, { c: spare });
    const token = await count('createApiToken', `mutation { createApiToken(name: "dashboard", role: MONITOR) { token { id } } }`);
    await count('revokeApiToken', `mutation($t: ID!) { revokeApiToken(id: $t) }`, { t: token.createApiToken.token.id });
    const created = await count('createConnection', create, { i: { ...base, name: 'short-lived' } });
    await count('deleteConnection', `mutation($c: ID!) { deleteConnection(id: $c) }`, { c: created.createConnection.id });

    expect(counts).toEqual({
      connections: 1, // the rows and their queue tallies together; a borrower's owner is in the same list
      connection: 2, // the row with its tally; its flows
      jobs: 1,
      flow: 2, // the flow with its steps and their connections; its jobs
      job: 2, // the job; its errors
      updateConnection: 1,
      setConcurrency: 1, // the policy, the reset and the NOTIFY in one statement
      createApiToken: 1,
      revokeApiToken: 1,
      createConnection: 1,
      deleteConnection: 4, // BEGIN with the graph lock; the row lock; count and delete; COMMIT
    });
  });
});
