import { Client } from 'pg';
import { waitUntil } from '../support/flows';
import { codeOf, type GraphQLResponse } from '../support/sluice';
import {
  CONFIG,
  MALFORMED_ID,
  NO_SUCH_ID,
  OTHER_APP,
  STEP_FIELDS,
  cancelJob,
  connectionOf,
  createFlow,
  forceJobStatus,
  getFlow,
  runFlow,
  useApiOnlySluice,
  step,
  world,
  type StepInput,
  type StepView,
} from './flowApi';

const s = useApiOnlySluice();

function addStep(flowId: string, input: StepInput, position?: number | null): Promise<GraphQLResponse<{ addStep: StepView }>> {
  return s.gql(`mutation($flowId: ID!, $input: StepInput!, $position: Int) { addStep(flowId: $flowId, input: $input, position: $position) { ${STEP_FIELDS} } }`, {
    flowId,
    input,
    position,
  });
}

function updateStep(id: string, input: Record<string, unknown>): Promise<GraphQLResponse<{ updateStep: StepView }>> {
  return s.gql(`mutation($id: ID!, $input: UpdateStepInput!) { updateStep(id: $id, input: $input) { ${STEP_FIELDS} } }`, { id, input });
}

function removeStep(id: string): Promise<GraphQLResponse<{ removeStep: boolean }>> {
  return s.gql(`mutation($id: ID!) { removeStep(id: $id) }`, { id });
}

/** [kind, name, position] of each step, in the order the flow lists them. */
async function layout(flowId: string): Promise<[string, string, number][]> {
  return (await getFlow(s, flowId)).steps.map((st) => [st.kind, st.name, st.position]);
}

/**
 * Holds the flow's row lock while sending the requests one by one, each once
 * the previous one waits for that lock, then lets them all go: they then run
 * one after another in the order sent (the first to wait is the first to go),
 * each having read what it read before the lock.
 */
async function queuedBehindFlowLock(flowId: string, requests: (() => Promise<GraphQLResponse>)[]): Promise<GraphQLResponse[]> {
  const holder = new Client({ connectionString: s.databaseUrl });
  await holder.connect();
  const waiting = async (): Promise<number> => {
    const [row] = await s.sluice.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return row.n;
  };
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM flow WHERE id = $1 FOR UPDATE', [flowId]);
    const sent: Promise<GraphQLResponse>[] = [];
    for (const request of requests) {
      sent.push(request());
      await waitUntil(async () => (await waiting()) >= sent.length, 10000, `request ${sent.length} to wait for the flow lock`);
    }
    await holder.query('COMMIT');
    return await Promise.all(sent);
  } finally {
    await holder.end();
  }
}

describe('addStep', () => {
  it('appends at the end when no position is given', async () => {
    const a = await connectionOf(s, 'append');
    const flow = await createFlow(s, [step('EXPORT', a, CONFIG.EXPORT, 'read')]);
    const added = await addStep(flow.id, step('IMPORT', a, { path: '/out' }, 'write'));
    expect(added.errors).toBeUndefined();
    expect(added.data!.addStep).toMatchObject({
      name: 'write',
      kind: 'IMPORT',
      position: 1,
      config: { path: '/out', method: 'POST', batchSize: 1 },
      connection: { id: a },
      flow: { id: flow.id },
    });
    const again = await addStep(flow.id, step('IMPORT', a, { path: '/again' }, 'write again'), null);
    expect(again.data!.addStep.position).toBe(2);
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 'read', 0],
      ['IMPORT', 'write', 1],
      ['IMPORT', 'write again', 2],
    ]);
  });

  it('inserts in the middle and shifts the later steps, keeping positions dense', async () => {
    const a = await connectionOf(s, 'middle');
    const b = await connectionOf(s, 'middle-lookup');
    const flow = await createFlow(s, [step('EXPORT', a, CONFIG.EXPORT, 'read'), step('IMPORT', a, CONFIG.IMPORT, 'one'), step('IMPORT', a, CONFIG.IMPORT, 'two')]);
    const added = await addStep(flow.id, step('LOOKUP', b, CONFIG.LOOKUP, 'enrich'), 1);
    expect(added.data!.addStep.position).toBe(1);
    const after = await getFlow(s, flow.id);
    expect(after.steps.map((st) => [st.id, st.position])).toEqual([
      [flow.steps[0]!.id, 0],
      [added.data!.addStep.id, 1],
      [flow.steps[1]!.id, 2],
      [flow.steps[2]!.id, 3],
    ]);
    expect(after.connections).toEqual([{ id: a }, { id: b }]);
    const onB = await s.ok(`query($id: ID!) { connection(id: $id) { flows { id } steps { id } } }`, { id: b });
    expect(onB.connection).toEqual({ flows: [{ id: flow.id }], steps: [{ id: added.data!.addStep.id }] });
    // Just before the end, too.
    const late = await addStep(flow.id, step('LOOKUP', b, CONFIG.LOOKUP, 'late'), 3);
    expect(late.data!.addStep.position).toBe(3);
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 'read', 0],
      ['LOOKUP', 'enrich', 1],
      ['IMPORT', 'one', 2],
      ['LOOKUP', 'late', 3],
      ['IMPORT', 'two', 4],
    ]);
  });

  it('inserts at position 0 only when the flow still starts with its one source', async () => {
    const a = await connectionOf(s, 'front');
    const flow = await createFlow(s, [], 'starts empty');
    const before = await world(s);
    // A record step cannot start a flow, even an empty one.
    expect(codeOf(await addStep(flow.id, step('IMPORT', a), 0))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addStep(flow.id, step('LOOKUP', a)))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);

    const source = await addStep(flow.id, step('DOWNLOAD', a, CONFIG.DOWNLOAD, 'source'), 0);
    expect(source.data!.addStep.position).toBe(0);
    await addStep(flow.id, step('IMPORT', a, CONFIG.IMPORT, 'sink'));

    const withSteps = await world(s);
    for (const [input, position] of [
      [step('EXPORT', a), 0], // would push the DOWNLOAD to second place
      [step('LOOKUP', a), 0], // would put a record step first
      [step('IMPORT', a), 0],
      [step('EXPORT', a), 1], // a second source
      [step('EXPORT', a), undefined],
    ] as [StepInput, number | undefined][]) {
      const response = await addStep(flow.id, input, position);
      expect([input.kind, position, codeOf(response)]).toEqual([input.kind, position, 'BAD_USER_INPUT']);
    }
    expect(await world(s)).toEqual(withSteps);
    expect(await layout(flow.id)).toEqual([
      ['DOWNLOAD', 'source', 0],
      ['IMPORT', 'sink', 1],
    ]);
  });

  it('refuses a position out of range with BAD_USER_INPUT and changes nothing', async () => {
    const a = await connectionOf(s, 'range');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)]);
    const before = await world(s);
    for (const position of [-1, 3, 100, -2147483648]) {
      const response = await addStep(flow.id, step('IMPORT', a), position);
      expect([position, codeOf(response)]).toEqual([position, 'BAD_USER_INPUT']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses a bad config or blank name with BAD_USER_INPUT, and an unknown flow or connection with NOT_FOUND, changing nothing', async () => {
    const a = await connectionOf(s, 'bad-add');
    const flow = await createFlow(s, [step('EXPORT', a)]);
    const before = await world(s);
    expect(codeOf(await addStep(flow.id, step('IMPORT', a, { path: '/o', batchSize: 'ten' })))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addStep(flow.id, step('LOOKUP', a, { path: '/c', resultField: 'c', extra: true })))).toBe('BAD_USER_INPUT');
    expect(codeOf(await addStep(flow.id, step('IMPORT', a, CONFIG.IMPORT, ' ')))).toBe('BAD_USER_INPUT');
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await addStep(id, step('IMPORT', a)))]).toEqual([id, 'NOT_FOUND']);
      expect([id, codeOf(await addStep(flow.id, step('IMPORT', id)))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });
});

describe('updateStep', () => {
  it('renames a step and replaces its config, filling defaults again', async () => {
    const a = await connectionOf(s, 'edit');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a, { path: '/a', batchSize: 5, method: 'PATCH' }, 'write')]);
    const importId = flow.steps[1]!.id;
    const renamed = await updateStep(importId, { name: 'write orders' });
    expect(renamed.data!.updateStep).toMatchObject({ name: 'write orders', config: { path: '/a', batchSize: 5, method: 'PATCH' } });
    const reconfigured = await updateStep(importId, { config: { path: '/b' } });
    // The config is replaced, not merged: batchSize and method go back to their defaults.
    expect(reconfigured.data!.updateStep).toMatchObject({ name: 'write orders', position: 1, config: { path: '/b', method: 'POST', batchSize: 1 } });
    const after = await getFlow(s, flow.id);
    expect(after.steps[1]).toEqual(reconfigured.data!.updateStep);
    expect(after.steps[0]).toEqual(flow.steps[0]);
  });

  it('moves a step to another connection of the same application, keeping its config', async () => {
    const a = await connectionOf(s, 'from');
    const a2 = await connectionOf(s, 'to', 'http://127.0.0.1:9/v2');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)]);
    const moved = await updateStep(flow.steps[1]!.id, { connectionId: a2 });
    expect(moved.errors).toBeUndefined();
    expect(moved.data!.updateStep).toMatchObject({ connection: { id: a2 }, config: flow.steps[1]!.config });
    const after = await getFlow(s, flow.id);
    expect(after.steps.map((st) => st.connection.id)).toEqual([a, a2]);
    expect(after.connections).toEqual([{ id: a }, { id: a2 }]);
    const use = await s.ok(`query($a: ID!, $b: ID!) { a: connection(id: $a) { steps { id } } b: connection(id: $b) { steps { id } flows { id } } }`, { a, b: a2 });
    expect(use).toEqual({ a: { steps: [{ id: flow.steps[0]!.id }] }, b: { steps: [{ id: flow.steps[1]!.id }], flows: [{ id: flow.id }] } });
  });

  it('refuses a connection of another application with BAD_USER_INPUT and changes nothing', async () => {
    const a = await connectionOf(s, 'home');
    const elsewhere = await connectionOf(s, 'elsewhere', `${OTHER_APP}/v1`);
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)]);
    const before = await world(s);
    expect(codeOf(await updateStep(flow.steps[1]!.id, { connectionId: elsewhere }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await updateStep(flow.steps[0]!.id, { connectionId: elsewhere, name: 'moved source' }))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('refuses a bad config, a blank name or a null field with BAD_USER_INPUT and unknown ids with NOT_FOUND, changing nothing', async () => {
    const a = await connectionOf(s, 'edit-bad');
    const flow = await createFlow(s, [step('DOWNLOAD', a), step('LOOKUP', a)]);
    const [source, lookup] = flow.steps as [StepView, StepView];
    const before = await world(s);
    const refusals: [string, Record<string, unknown>, string][] = [
      [source.id, { config: { path: '/f', format: 'xlsx' } }, 'BAD_USER_INPUT'],
      [source.id, { config: { path: '/f' } }, 'BAD_USER_INPUT'],
      [lookup.id, { config: { path: '/c', resultField: '' } }, 'BAD_USER_INPUT'],
      [lookup.id, { config: { path: '/c', resultField: 'c', unknown: 1 } }, 'BAD_USER_INPUT'],
      [lookup.id, { name: '   ' }, 'BAD_USER_INPUT'],
      [lookup.id, { name: null }, 'BAD_USER_INPUT'],
      [lookup.id, { connectionId: null }, 'BAD_USER_INPUT'],
      [lookup.id, { config: null }, 'BAD_USER_INPUT'],
      // A valid change beside an invalid one is not kept either.
      [lookup.id, { name: 'renamed', config: { path: 'no-slash', resultField: 'c' } }, 'BAD_USER_INPUT'],
      [lookup.id, { connectionId: NO_SUCH_ID }, 'NOT_FOUND'],
      [lookup.id, { connectionId: MALFORMED_ID }, 'NOT_FOUND'],
      [NO_SUCH_ID, { name: 'x' }, 'NOT_FOUND'],
      [MALFORMED_ID, { name: 'x' }, 'NOT_FOUND'],
    ];
    for (const [id, input, code] of refusals) {
      expect([input, codeOf(await updateStep(id, input))]).toEqual([input, code]);
    }
    expect(await world(s)).toEqual(before);
  });
});

describe('removeStep', () => {
  it('removes a middle step and closes the gap', async () => {
    const a = await connectionOf(s, 'remove');
    const b = await connectionOf(s, 'remove-lookup');
    const flow = await createFlow(s, [
      step('EXPORT', a, CONFIG.EXPORT, 'read'),
      step('LOOKUP', b, CONFIG.LOOKUP, 'enrich'),
      step('IMPORT', a, CONFIG.IMPORT, 'one'),
      step('IMPORT', a, CONFIG.IMPORT, 'two'),
    ]);
    expect((await removeStep(flow.steps[1]!.id)).data).toEqual({ removeStep: true });
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 'read', 0],
      ['IMPORT', 'one', 1],
      ['IMPORT', 'two', 2],
    ]);
    // b is no longer used by the flow.
    expect((await getFlow(s, flow.id)).connections).toEqual([{ id: a }]);
    expect((await s.ok(`query($id: ID!) { connection(id: $id) { flows { id } steps { id } } }`, { id: b })).connection).toEqual({ flows: [], steps: [] });
    expect((await removeStep(flow.steps[3]!.id)).data).toEqual({ removeStep: true });
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 'read', 0],
      ['IMPORT', 'one', 1],
    ]);
  });

  it('removes the source once it is the only step, leaving an empty flow', async () => {
    const a = await connectionOf(s, 'last');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)]);
    expect((await removeStep(flow.steps[1]!.id)).data).toEqual({ removeStep: true });
    expect((await removeStep(flow.steps[0]!.id)).data).toEqual({ removeStep: true });
    expect(await getFlow(s, flow.id)).toMatchObject({ steps: [], connections: [] });
  });

  it('refuses to remove the source while record steps remain with BAD_USER_INPUT and changes nothing', async () => {
    const a = await connectionOf(s, 'keep-source');
    const flow = await createFlow(s, [step('EXPORT', a), step('LOOKUP', a), step('IMPORT', a)]);
    const before = await world(s);
    expect(codeOf(await removeStep(flow.steps[0]!.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('gives NOT_FOUND for an unknown, malformed or already removed step and changes nothing', async () => {
    const a = await connectionOf(s, 'gone');
    const flow = await createFlow(s, [step('EXPORT', a), step('IMPORT', a), step('IMPORT', a)]);
    expect((await removeStep(flow.steps[1]!.id)).data).toEqual({ removeStep: true });
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID, flow.steps[1]!.id]) {
      expect([id, codeOf(await removeStep(id))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('keeps positions dense when two steps of one flow are removed at the same time', async () => {
    const a = await connectionOf(s, 'race');
    const flow = await createFlow(s, [step('EXPORT', a, CONFIG.EXPORT, 's'), ...['i1', 'i2', 'i3', 'i4'].map((n) => step('IMPORT', a, CONFIG.IMPORT, n))]);
    const results = await queuedBehindFlowLock(flow.id, [() => removeStep(flow.steps[1]!.id), () => removeStep(flow.steps[2]!.id)]);
    expect(results.map((r) => [r.data, r.errors])).toEqual([
      [{ removeStep: true }, undefined],
      [{ removeStep: true }, undefined],
    ]);
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 's', 0],
      ['IMPORT', 'i3', 1],
      ['IMPORT', 'i4', 2],
    ]);
  });

  it('leaves NOT_FOUND to an edit of a step that a concurrent removeStep took away', async () => {
    const a = await connectionOf(s, 'race-edit');
    const flow = await createFlow(s, [step('EXPORT', a, CONFIG.EXPORT, 's'), step('IMPORT', a, CONFIG.IMPORT, 'i1'), step('IMPORT', a, CONFIG.IMPORT, 'i2')]);
    const target = flow.steps[1]!.id;
    const [removed, updated, removedAgain] = await queuedBehindFlowLock(flow.id, [
      () => removeStep(target),
      () => updateStep(target, { name: 'too late' }),
      () => removeStep(target),
    ]);
    expect(removed!.data).toEqual({ removeStep: true });
    expect(codeOf(updated!)).toBe('NOT_FOUND');
    expect(codeOf(removedAgain!)).toBe('NOT_FOUND');
    expect(await layout(flow.id)).toEqual([
      ['EXPORT', 's', 0],
      ['IMPORT', 'i2', 1],
    ]);
  });
});

describe('step edits under an active job', () => {
  it('refuse with CONFLICT while the flow has a QUEUED or RUNNING job and change nothing; work again once it is canceled', async () => {
    const a = await connectionOf(s, 'locked');
    const a2 = await connectionOf(s, 'locked-2', 'http://127.0.0.1:9/v2');
    const flow = await createFlow(s, [step('EXPORT', a), step('LOOKUP', a), step('IMPORT', a)], 'locked');
    const job = await runFlow(s, flow.id);
    expect(job.status).toBe('QUEUED');

    for (const status of ['QUEUED', 'RUNNING'] as const) {
      if (status === 'RUNNING') await forceJobStatus(s, job.id, 'RUNNING');
      const before = await world(s);
      const attempts: [string, GraphQLResponse][] = [
        ['addStep at the end', await addStep(flow.id, step('IMPORT', a))],
        ['addStep in the middle', await addStep(flow.id, step('LOOKUP', a), 1)],
        ['updateStep name', await updateStep(flow.steps[1]!.id, { name: 'renamed' })],
        ['updateStep config', await updateStep(flow.steps[2]!.id, { config: { path: '/elsewhere' } })],
        ['updateStep connection', await updateStep(flow.steps[2]!.id, { connectionId: a2 })],
        ['removeStep', await removeStep(flow.steps[2]!.id)],
        ['deleteFlow', await s.gql(`mutation($id: ID!) { deleteFlow(id: $id) }`, { id: flow.id })],
      ];
      expect(attempts.map(([what, r]) => [status, what, codeOf(r)])).toEqual(attempts.map(([what]) => [status, what, 'CONFLICT']));
      expect(await world(s)).toEqual(before);
    }

    expect(codeOf(await cancelJob(s, job.id))).toBeUndefined();
    expect((await updateStep(flow.steps[1]!.id, { name: 'renamed' })).data!.updateStep.name).toBe('renamed');
    expect((await addStep(flow.id, step('IMPORT', a2))).data!.addStep.position).toBe(3);
    expect((await removeStep(flow.steps[2]!.id)).data).toEqual({ removeStep: true });
    expect((await getFlow(s, flow.id)).steps.map((st) => [st.kind, st.position])).toEqual([
      ['EXPORT', 0],
      ['LOOKUP', 1],
      ['IMPORT', 2],
    ]);
  });
});
