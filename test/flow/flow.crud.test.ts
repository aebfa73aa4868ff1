import { codeOf } from '../support/sluice';
import {
  CONFIG,
  MALFORMED_ID,
  NO_SUCH_ID,
  cancelJob,
  connectionOf,
  createFlow,
  createFlowRaw,
  getFlow,
  insertMessage,
  positions,
  runFlow,
  useApiOnlySluice,
  step,
  world,
  type FlowView,
} from './flowApi';

const s = useApiOnlySluice();

async function connectionUse(id: string): Promise<{ flows: { id: string }[]; steps: { id: string; position: number; flow: { id: string } }[] }> {
  const data = await s.ok(`query($id: ID!) { connection(id: $id) { flows { id } steps { id position flow { id } } } }`, { id });
  return data.connection;
}

describe('createFlow', () => {
  it('returns the steps in order with dense positions, their connections, and defaults filled into their configs', async () => {
    const a = await connectionOf(s, 'a');
    const b = await connectionOf(s, 'b');
    const c = await connectionOf(s, 'c', 'http://127.0.0.1:11/api');
    const created = await createFlow(
      s,
      [
        step('EXPORT', a, { path: '/orders', recordsPath: 'data' }, 'read orders'),
        step('LOOKUP', b, CONFIG.LOOKUP, 'add customer'),
        step('IMPORT', a, { path: '/copies', batchSize: 10, method: 'PUT' }, 'write back'),
        step('IMPORT', c, { path: '/orders' }, 'write elsewhere'),
      ],
      'orders to c',
    );
    expect(created.name).toBe('orders to c');
    expect(created.steps.map((st) => [st.name, st.kind, st.position, st.connection.id, st.flow.id])).toEqual([
      ['read orders', 'EXPORT', 0, a, created.id],
      ['add customer', 'LOOKUP', 1, b, created.id],
      ['write back', 'IMPORT', 2, a, created.id],
      ['write elsewhere', 'IMPORT', 3, c, created.id],
    ]);
    expect(created.steps.map((st) => st.config)).toEqual([
      { path: '/orders', recordsPath: 'data', method: 'GET' },
      { path: '/customers/{{record.customerId}}', resultField: 'customer', method: 'GET' },
      { path: '/copies', batchSize: 10, method: 'PUT' },
      { path: '/orders', method: 'POST', batchSize: 1 },
    ]);
    // Distinct, in the order the steps first use them: a is not listed twice.
    expect(created.connections).toEqual([{ id: a }, { id: b }, { id: c }]);
    expect(await getFlow(s, created.id)).toEqual(created);
  });

  it('keeps a DOWNLOAD source with its format', async () => {
    const a = await connectionOf(s, 'files');
    const created = await createFlow(s, [step('DOWNLOAD', a, { path: '/orders.ndjson', format: 'ndjson' }), step('IMPORT', a)]);
    expect(created.steps.map((st) => [st.kind, st.config])).toEqual([
      ['DOWNLOAD', { path: '/orders.ndjson', format: 'ndjson' }],
      ['IMPORT', { path: '/orders', method: 'POST', batchSize: 1 }],
    ]);
  });

  it('shows the flow and its steps on each connection it uses, and nothing on the others', async () => {
    const a = await connectionOf(s, 'shared');
    const b = await connectionOf(s, 'lookup');
    const unused = await connectionOf(s, 'unused');
    const first = await createFlow(s, [step('EXPORT', a), step('LOOKUP', b), step('IMPORT', a)], 'first');
    const second = await createFlow(s, [step('EXPORT', b), step('IMPORT', a)], 'second');

    const onA = await connectionUse(a);
    expect(onA.flows.map((f) => f.id).sort()).toEqual([first.id, second.id].sort());
    expect(onA.steps.map((st) => st.id).sort()).toEqual([first.steps[0]!.id, first.steps[2]!.id, second.steps[1]!.id].sort());
    const onB = await connectionUse(b);
    expect(onB.flows.map((f) => f.id).sort()).toEqual([first.id, second.id].sort());
    expect(onB.steps.map((st) => [st.id, st.position, st.flow.id]).sort()).toEqual(
      [
        [first.steps[1]!.id, 1, first.id],
        [second.steps[0]!.id, 0, second.id],
      ].sort(),
    );
    expect(await connectionUse(unused)).toEqual({ flows: [], steps: [] });
  });

  it('creates a flow without steps, whether steps is empty or left out', async () => {
    const empty = await createFlow(s, [], 'empty');
    expect(empty).toMatchObject({ name: 'empty', steps: [], connections: [] });
    const response = await createFlowRaw(s, { name: 'no steps field' });
    expect(response.errors).toBeUndefined();
    const omitted = response.data!.createFlow as FlowView;
    expect(omitted).toMatchObject({ name: 'no steps field', steps: [], connections: [] });
    expect(await getFlow(s, omitted.id)).toEqual(omitted);
  });

  it('refuses a record step first, or a source after the first step, with BAD_USER_INPUT and creates nothing', async () => {
    const a = await connectionOf(s, 'shape');
    const before = await world(s);
    for (const steps of [
      [step('LOOKUP', a)],
      [step('IMPORT', a)],
      [step('IMPORT', a), step('EXPORT', a)],
      [step('EXPORT', a), step('EXPORT', a)],
      [step('EXPORT', a), step('IMPORT', a), step('DOWNLOAD', a)],
    ]) {
      const response = await createFlowRaw(s, { name: 'misshapen', steps });
      expect([steps.map((st) => st.kind), codeOf(response)]).toEqual([steps.map((st) => st.kind), 'BAD_USER_INPUT']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('validates every step config against the http schema with BAD_USER_INPUT and creates nothing', async () => {
    const a = await connectionOf(s, 'configs');
    const before = await world(s);
    const cases: [string, ReturnType<typeof step>[]][] = [
      ['export without path', [step('EXPORT', a, { recordsPath: 'data' })]],
      ['export without config', [step('EXPORT', a, null)]],
      ['path not starting with /', [step('EXPORT', a, { path: 'orders' })]],
      ['unknown export method', [step('EXPORT', a, { path: '/orders', method: 'DELETE' })]],
      ['download in an unknown format', [step('DOWNLOAD', a, { path: '/f', format: 'xml' })]],
      ['download without format', [step('DOWNLOAD', a, { path: '/f' })]],
      ['lookup without resultField', [step('EXPORT', a), step('LOOKUP', a, { path: '/c' })]],
      ['unknown property on an import', [step('EXPORT', a), step('IMPORT', a, { path: '/o', batch: 5 })]],
      ['import batchSize 0', [step('EXPORT', a), step('IMPORT', a, { path: '/o', batchSize: 0 })]],
      ['config that is not an object', [step('EXPORT', a, ['/orders'])]],
      ['paging of an unknown type', [step('EXPORT', a, { path: '/o', paging: { type: 'offset' } })]],
    ];
    for (const [what, steps] of cases) {
      const response = await createFlowRaw(s, { name: what, steps });
      expect([what, codeOf(response)]).toEqual([what, 'BAD_USER_INPUT']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses a step on an unknown or malformed connection id with NOT_FOUND and creates nothing', async () => {
    const a = await connectionOf(s, 'known');
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      const asSource = await createFlowRaw(s, { name: 'ghost source', steps: [step('EXPORT', id)] });
      expect([id, codeOf(asSource)]).toEqual([id, 'NOT_FOUND']);
      // A valid first step is not kept when a later one fails.
      const later = await createFlowRaw(s, { name: 'ghost import', steps: [step('EXPORT', a), step('IMPORT', id)] });
      expect([id, codeOf(later)]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses an empty or blank flow or step name with BAD_USER_INPUT and creates nothing', async () => {
    const a = await connectionOf(s, 'names');
    const before = await world(s);
    for (const name of ['', '   ', '\t\n', 'x'.repeat(201)]) {
      const response = await createFlowRaw(s, { name, steps: [step('EXPORT', a)] });
      expect([name, codeOf(response)]).toEqual([name, 'BAD_USER_INPUT']);
    }
    const blankStep = await createFlowRaw(s, { name: 'fine', steps: [step('EXPORT', a, CONFIG.EXPORT, '  ')] });
    expect(codeOf(blankStep)).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('needs the MANAGE role: MONITOR gets FORBIDDEN and nothing is created', async () => {
    const a = await connectionOf(s, 'roles');
    const monitor = await s.token('MONITOR');
    const manage = await s.token('MANAGE');
    const before = await world(s);
    const refused = await s.gql(
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }`,
      { input: { name: 'by monitor', steps: [step('EXPORT', a)] } },
      monitor,
    );
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(await world(s)).toEqual(before);
    const allowed = await s.gql(
      `mutation($input: CreateFlowInput!) { createFlow(input: $input) { name } }`,
      { input: { name: 'by manager', steps: [step('EXPORT', a)] } },
      manage,
    );
    expect(allowed.data).toEqual({ createFlow: { name: 'by manager' } });
  });
});

describe('flow', () => {
  it('gives NOT_FOUND for an unknown or malformed id', async () => {
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      const response = await s.gql(`query($id: ID!) { flow(id: $id) { id } }`, { id });
      expect([id, codeOf(response), response.data?.flow ?? null]).toEqual([id, 'NOT_FOUND', null]);
    }
  });
});

describe('updateFlow', () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { id name updatedAt } }`;

  it('renames the flow, and keeps the name when it is left out', async () => {
    const a = await connectionOf(s, 'rename');
    const flow = await createFlow(s, [step('EXPORT', a)], 'old name');
    const renamed = await s.ok(UPDATE, { id: flow.id, input: { name: 'new name' } });
    expect(renamed.updateFlow).toMatchObject({ id: flow.id, name: 'new name' });
    expect((await getFlow(s, flow.id)).name).toBe('new name');
    const untouched = await s.ok(UPDATE, { id: flow.id, input: {} });
    expect(untouched.updateFlow).toMatchObject({ id: flow.id, name: 'new name' });
    // Renaming leaves the steps alone.
    expect(positions(await getFlow(s, flow.id))).toEqual(positions(flow));
  });

  it('refuses a blank or null name with BAD_USER_INPUT and changes nothing', async () => {
    const a = await connectionOf(s, 'rename-bad');
    const flow = await createFlow(s, [step('EXPORT', a)], 'keep me');
    const before = await world(s);
    for (const name of ['', '  ', null]) {
      const response = await s.gql(UPDATE, { id: flow.id, input: { name } });
      expect([name, codeOf(response)]).toEqual([name, 'BAD_USER_INPUT']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('gives NOT_FOUND for an unknown or malformed id and changes nothing', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await s.gql(UPDATE, { id, input: { name: 'x' } }))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });
});

describe('deleteFlow', () => {
  const DELETE = `mutation($id: ID!) { deleteFlow(id: $id) }`;

  async function rowsOf(flowId: string, jobId: string): Promise<{ flows: number; steps: number; jobs: number; messages: number }> {
    const [row] = await s.sluice.dataSource.query(
      `SELECT (SELECT count(*)::int FROM flow WHERE id = $1) AS flows,
              (SELECT count(*)::int FROM step WHERE flow_id = $1) AS steps,
              (SELECT count(*)::int FROM job WHERE flow_id = $1) AS jobs,
              (SELECT count(*)::int FROM queue_message WHERE job_id = $2) AS messages`,
      [flowId, jobId],
    );
    return row;
  }

  it('removes the flow with its steps and jobs, and from its connections', async () => {
    const a = await connectionOf(s, 'doomed');
    const b = await connectionOf(s, 'doomed-too');
    const keep = await createFlow(s, [step('EXPORT', a), step('IMPORT', b)], 'kept');
    const flow = await createFlow(s, [step('EXPORT', a), step('LOOKUP', b), step('IMPORT', b)], 'deleted');
    const job = await runFlow(s, flow.id);
    expect(codeOf(await cancelJob(s, job.id))).toBeUndefined();
    // A call of the canceled job still being aborted: its row goes with the flow too.
    await insertMessage(s, { connectionId: b, jobId: job.id, stepId: flow.steps[2]!.id, state: 'running' });
    expect(await rowsOf(flow.id, job.id)).toEqual({ flows: 1, steps: 3, jobs: 1, messages: 1 });

    expect((await s.ok(DELETE, { id: flow.id })).deleteFlow).toBe(true);

    expect(await rowsOf(flow.id, job.id)).toEqual({ flows: 0, steps: 0, jobs: 0, messages: 0 });
    const gone = await s.gql(`query($id: ID!) { flow(id: $id) { id } }`, { id: flow.id });
    expect(codeOf(gone)).toBe('NOT_FOUND');
    const jobGone = await s.gql(`query($id: ID!) { job(id: $id) { id } }`, { id: job.id });
    expect(codeOf(jobGone)).toBe('NOT_FOUND');
    const step0 = await s.gql(`mutation($id: ID!) { removeStep(id: $id) }`, { id: flow.steps[0]!.id });
    expect(codeOf(step0)).toBe('NOT_FOUND');
    const lists = await s.ok(`{ flows { id } jobs(first: 500) { id } }`);
    expect(lists.flows.map((f: { id: string }) => f.id)).not.toContain(flow.id);
    expect(lists.flows.map((f: { id: string }) => f.id)).toContain(keep.id);
    expect(lists.jobs.map((j: { id: string }) => j.id)).not.toContain(job.id);
    expect(await connectionUse(a)).toEqual({ flows: [{ id: keep.id }], steps: [{ id: keep.steps[0]!.id, position: 0, flow: { id: keep.id } }] });
    expect(await connectionUse(b)).toEqual({ flows: [{ id: keep.id }], steps: [{ id: keep.steps[1]!.id, position: 1, flow: { id: keep.id } }] });
  });

  it('refuses with CONFLICT while the flow has a QUEUED job and changes nothing; works once it is canceled', async () => {
    const a = await connectionOf(s, 'busy');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)], 'busy');
    const job = await runFlow(s, flow.id);
    expect(job.status).toBe('QUEUED');
    const before = await world(s);
    expect(codeOf(await s.gql(DELETE, { id: flow.id }))).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);
    expect(await rowsOf(flow.id, job.id)).toMatchObject({ flows: 1, steps: 2, jobs: 1 });

    expect(codeOf(await cancelJob(s, job.id))).toBeUndefined();
    expect((await s.ok(DELETE, { id: flow.id })).deleteFlow).toBe(true);
    expect(await rowsOf(flow.id, job.id)).toEqual({ flows: 0, steps: 0, jobs: 0, messages: 0 });
  });

  it('gives NOT_FOUND for an unknown or malformed id and changes nothing', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await s.gql(DELETE, { id }))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('deletes an empty flow', async () => {
    const flow = await createFlow(s, [], 'empty, then gone');
    expect((await s.ok(DELETE, { id: flow.id })).deleteFlow).toBe(true);
    expect(codeOf(await s.gql(`query($id: ID!) { flow(id: $id) { id } }`, { id: flow.id }))).toBe('NOT_FOUND');
  });
});
