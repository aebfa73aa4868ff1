import { codeOf, type GraphQLResponse } from '../support/sluice';
import {
  APP,
  JOB_FIELDS,
  MALFORMED_ID,
  NO_SUCH_ID,
  OTHER_APP,
  STEP_FIELDS,
  connectionOf,
  createFlow,
  forceJobStatus,
  getFlow,
  getJob,
  insertMessage,
  queueMessages,
  runFlow,
  useApiOnlySluice,
  step,
  world,
  type FlowView,
  type JobView,
  type StepView,
} from './flowApi';

const s = useApiOnlySluice();

interface Payload {
  flow: FlowView;
  replacedSteps: StepView[];
  canceledJobs: JobView[];
}

function replaceConnection(flowId: string, connectionId: string, newConnectionId: string): Promise<GraphQLResponse<{ replaceConnection: Payload }>> {
  return s.gql(
    `mutation($flowId: ID!, $connectionId: ID!, $newConnectionId: ID!) {
      replaceConnection(flowId: $flowId, connectionId: $connectionId, newConnectionId: $newConnectionId) {
        flow { id name steps { ${STEP_FIELDS} } connections { id } }
        replacedSteps { ${STEP_FIELDS} }
        canceledJobs { ${JOB_FIELDS} }
      }
    }`,
    { flowId, connectionId, newConnectionId },
  );
}

async function stepsOn(connectionId: string): Promise<{ flows: string[]; steps: string[] }> {
  const data = await s.ok(`query($id: ID!) { connection(id: $id) { flows { id } steps { id } } }`, { id: connectionId });
  return {
    flows: data.connection.flows.map((f: { id: string }) => f.id).sort(),
    steps: data.connection.steps.map((st: { id: string }) => st.id).sort(),
  };
}

/** a and a2 are one application; b too (another path); x is another application. */
async function setup(tag: string) {
  const a = await connectionOf(s, `${tag}-a`, `${APP}/v1`);
  const a2 = await connectionOf(s, `${tag}-a2`, `${APP}/v2`);
  const b = await connectionOf(s, `${tag}-b`, `${APP}/lookups`);
  const x = await connectionOf(s, `${tag}-x`, `${OTHER_APP}/v1`);
  const flow = await createFlow(s, [step('EXPORT', a, { path: '/orders', recordsPath: 'items' }), step('LOOKUP', b), step('IMPORT', a, { path: '/copies', batchSize: 3 })], `${tag}-flow`);
  const other = await createFlow(s, [step('EXPORT', a), step('IMPORT', a)], `${tag}-other`);
  return { a, a2, b, x, flow, other };
}

describe('replaceConnection', () => {
  it("re-points exactly the flow's steps that used the connection, leaving its other steps and other flows alone", async () => {
    const { a, a2, b, flow, other } = await setup('exact');
    const response = await replaceConnection(flow.id, a, a2);
    expect(response.errors).toBeUndefined();
    const payload = response.data!.replaceConnection;

    const [source, lookup, sink] = flow.steps as [StepView, StepView, StepView];
    expect(payload.replacedSteps).toEqual([
      { ...source, connection: { id: a2 } },
      { ...sink, connection: { id: a2 } },
    ]);
    expect(payload.canceledJobs).toEqual([]);
    const expected: FlowView = { ...flow, steps: [{ ...source, connection: { id: a2 } }, lookup, { ...sink, connection: { id: a2 } }], connections: [{ id: a2 }, { id: b }] };
    expect(payload.flow).toEqual(expected);
    expect(await getFlow(s, flow.id)).toEqual(expected);
    expect(await getFlow(s, other.id)).toEqual(other);

    expect(await stepsOn(a)).toEqual({ flows: [other.id], steps: other.steps.map((st) => st.id).sort() });
    expect(await stepsOn(a2)).toEqual({ flows: [flow.id], steps: [source.id, sink.id].sort() });
    expect(await stepsOn(b)).toEqual({ flows: [flow.id], steps: [lookup.id] });
  });

  it("replaces a connection that only a middle step uses", async () => {
    const { a, b, flow } = await setup('middle');
    const b2 = await connectionOf(s, 'middle-b2', `${APP}/lookups-v2`);
    const payload = (await replaceConnection(flow.id, b, b2)).data!.replaceConnection;
    expect(payload.replacedSteps.map((st) => [st.id, st.position, st.connection.id])).toEqual([[flow.steps[1]!.id, 1, b2]]);
    expect((await getFlow(s, flow.id)).steps.map((st) => st.connection.id)).toEqual([a, b2, a]);
  });

  it("cancels the flow's QUEUED and RUNNING jobs and drops their queued messages, leaving other flows' jobs and messages alone", async () => {
    const { a, a2, flow, other } = await setup('cancel');
    const queued = await runFlow(s, flow.id);
    const running = await runFlow(s, flow.id);
    await forceJobStatus(s, running.id, 'RUNNING');
    const completed = await runFlow(s, flow.id);
    await forceJobStatus(s, completed.id, 'COMPLETED');
    const otherJob = await runFlow(s, other.id);
    await insertMessage(s, { connectionId: a, jobId: queued.id, stepId: flow.steps[2]!.id });
    await insertMessage(s, { connectionId: a, jobId: running.id, stepId: flow.steps[2]!.id });
    await insertMessage(s, { connectionId: a, jobId: otherJob.id, stepId: other.steps[1]!.id });
    await insertMessage(s, { connectionId: a, jobId: otherJob.id, stepId: other.steps[1]!.id, state: 'running' });
    const otherMessages = await queueMessages(s, { jobIds: [otherJob.id] });
    expect(otherMessages.length).toBeGreaterThanOrEqual(3);
    expect((await queueMessages(s, { jobIds: [queued.id, running.id] })).filter((m) => m.state === 'queued').length).toBeGreaterThanOrEqual(2);
    const completedBefore = await getJob(s, completed.id);

    const payload = (await replaceConnection(flow.id, a, a2)).data!.replaceConnection;

    expect(payload.canceledJobs.map((j) => j.id).sort()).toEqual([queued.id, running.id].sort());
    for (const job of payload.canceledJobs) {
      expect([job.id, job.status, job.finishedAt !== null, job.flow.id]).toEqual([job.id, 'CANCELED', true, flow.id]);
      expect(await getJob(s, job.id)).toEqual(job);
    }
    expect(await queueMessages(s, { jobIds: [queued.id, running.id] })).toEqual([]);
    expect(await getJob(s, completed.id)).toEqual(completedBefore);
    expect((await getJob(s, otherJob.id)).status).toBe('QUEUED');
    expect(await queueMessages(s, { jobIds: [otherJob.id] })).toEqual(otherMessages);
    expect(payload.replacedSteps).toHaveLength(2);
    // The flow can be edited and run again at once.
    expect((await runFlow(s, flow.id)).status).toBe('QUEUED');
  });

  it('refuses a connection of another application with BAD_USER_INPUT and changes nothing', async () => {
    const { a, x, flow } = await setup('other-app');
    await runFlow(s, flow.id);
    const before = await world(s);
    expect(codeOf(await replaceConnection(flow.id, a, x))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('refuses a connection the flow does not use with BAD_USER_INPUT and changes nothing', async () => {
    const { a, a2, flow, other } = await setup('unused');
    await runFlow(s, flow.id);
    await runFlow(s, other.id);
    const before = await world(s);
    // a2 is of the same application but no step of the flow uses it.
    expect(codeOf(await replaceConnection(flow.id, a2, a))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('refuses the same connection for both with BAD_USER_INPUT and changes nothing', async () => {
    const { a, flow } = await setup('same');
    await runFlow(s, flow.id);
    const before = await world(s);
    expect(codeOf(await replaceConnection(flow.id, a, a))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('gives NOT_FOUND for an unknown or malformed flow, connection or new connection id and changes nothing', async () => {
    const { a, a2, flow } = await setup('unknown');
    await runFlow(s, flow.id);
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      const cases: [string, string, string, string][] = [
        ['flowId', id, a, a2],
        ['connectionId', flow.id, id, a2],
        ['newConnectionId', flow.id, a, id],
        ['both connections', flow.id, id, id],
      ];
      for (const [what, flowId, connectionId, newConnectionId] of cases) {
        expect([id, what, codeOf(await replaceConnection(flowId, connectionId, newConnectionId))]).toEqual([id, what, 'NOT_FOUND']);
      }
    }
    expect(await world(s)).toEqual(before);
  });

  it('needs the MANAGE role: MONITOR gets FORBIDDEN and nothing changes', async () => {
    const { a, a2, flow } = await setup('monitor');
    await runFlow(s, flow.id);
    const monitor = await s.token('MONITOR');
    const before = await world(s);
    const response = await s.gql(
      `mutation($f: ID!, $c: ID!, $n: ID!) { replaceConnection(flowId: $f, connectionId: $c, newConnectionId: $n) { replacedSteps { id } } }`,
      { f: flow.id, c: a, n: a2 },
      monitor,
    );
    expect(codeOf(response)).toBe('FORBIDDEN');
    expect(await world(s)).toEqual(before);
  });
});
