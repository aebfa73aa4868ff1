import { codeOf } from '../support/sluice';
import {
  JOB_FIELDS,
  MALFORMED_ID,
  NO_SUCH_ID,
  cancelJob,
  connectionOf,
  createFlow,
  forceJobStatus,
  getJob,
  insertMessage,
  queueMessages,
  runFlow,
  useApiOnlySluice,
  step,
  world,
  type JobView,
} from './flowApi';

const s = useApiOnlySluice();

async function twoStepFlow(name: string): Promise<{ connectionId: string; flowId: string; stepIds: string[] }> {
  const connectionId = await connectionOf(s, name);
  const flow = await createFlow(s, [step('EXPORT', connectionId), step('IMPORT', connectionId)], name);
  return { connectionId, flowId: flow.id, stepIds: flow.steps.map((st) => st.id) };
}

const ids = (jobs: { id: string }[]): string[] => jobs.map((j) => j.id);

describe('runFlow', () => {
  it('creates a QUEUED job with zero counts, visible in job, jobs and Flow.jobs', async () => {
    const { flowId } = await twoStepFlow('run');
    const job = await runFlow(s, flowId);
    expect(job).toMatchObject({
      status: 'QUEUED',
      startedAt: null,
      finishedAt: null,
      recordsExported: 0,
      recordsSucceeded: 0,
      recordsFailed: 0,
      flow: { id: flowId },
    });
    expect(Number.isNaN(Date.parse(job.createdAt))).toBe(false);
    expect(await getJob(s, job.id)).toEqual(job);

    const lists = await s.ok(
      `query($flowId: ID!) {
        all: jobs { id }
        ofFlow: jobs(flowId: $flowId) { ${JOB_FIELDS} }
        queued: jobs(flowId: $flowId, status: QUEUED) { id }
        running: jobs(flowId: $flowId, status: RUNNING) { id }
        flow(id: $flowId) { jobs { ${JOB_FIELDS} } queued: jobs(status: QUEUED) { id } }
      }`,
      { flowId },
    );
    expect(ids(lists.all)).toContain(job.id);
    expect(lists.ofFlow).toEqual([job]);
    expect(lists.queued).toEqual([{ id: job.id }]);
    expect(lists.running).toEqual([]);
    expect(lists.flow).toEqual({ jobs: [job], queued: [{ id: job.id }] });
  });

  it('lists a flow\'s jobs newest first, filtered by status and cut at first', async () => {
    const { flowId } = await twoStepFlow('history');
    const other = await twoStepFlow('history-other');
    const first = await runFlow(s, flowId);
    const second = await runFlow(s, flowId);
    const otherJob = await runFlow(s, other.flowId);
    const third = await runFlow(s, flowId);
    expect(codeOf(await cancelJob(s, second.id))).toBeUndefined();

    const data = await s.ok(
      `query($flowId: ID!) {
        flow(id: $flowId) { jobs { id } newest: jobs(first: 2) { id } canceled: jobs(status: CANCELED) { id } queued: jobs(status: QUEUED) { id } none: jobs(first: 0) { id } }
        jobs(flowId: $flowId) { id }
        top: jobs(flowId: $flowId, first: 1) { id }
        queued: jobs(flowId: $flowId, status: QUEUED, first: 1) { id }
        everywhere: jobs(first: 4) { id }
      }`,
      { flowId },
    );
    expect(ids(data.flow.jobs)).toEqual([third.id, second.id, first.id]);
    expect(ids(data.flow.newest)).toEqual([third.id, second.id]);
    expect(ids(data.flow.canceled)).toEqual([second.id]);
    expect(ids(data.flow.queued)).toEqual([third.id, first.id]);
    expect(data.flow.none).toEqual([]);
    expect(ids(data.jobs)).toEqual([third.id, second.id, first.id]);
    expect(ids(data.top)).toEqual([third.id]);
    expect(ids(data.queued)).toEqual([third.id]);
    // Without flowId: every flow's jobs, newest first.
    expect(ids(data.everywhere)).toEqual([third.id, otherJob.id, second.id, first.id]);
  });

  it('refuses a flow without steps with BAD_USER_INPUT and creates no job', async () => {
    const empty = await createFlow(s, [], 'nothing to run');
    const before = await world(s);
    expect(codeOf(await s.gql(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: empty.id }))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
    const [row] = await s.sluice.dataSource.query(`SELECT count(*)::int AS n FROM job WHERE flow_id = $1`, [empty.id]);
    expect(row.n).toBe(0);
  });

  it('gives NOT_FOUND for an unknown or malformed flow id and creates no job', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await s.gql(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id }))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('needs the MANAGE role: MONITOR gets FORBIDDEN and no job is created', async () => {
    const { flowId } = await twoStepFlow('monitored');
    const monitor = await s.token('MONITOR');
    const before = await world(s);
    expect(codeOf(await s.gql(`mutation($id: ID!) { runFlow(flowId: $id) { id } }`, { id: flowId }, monitor))).toBe('FORBIDDEN');
    expect(await world(s)).toEqual(before);
    // MONITOR may still read.
    expect((await s.ok(`query($id: ID!) { flow(id: $id) { jobs { id } } }`, { id: flowId }, monitor)).flow.jobs).toEqual([]);
  });
});

describe('jobs', () => {
  it('refuses first above 500 or below 0 with BAD_USER_INPUT, on jobs and on Flow.jobs', async () => {
    const { flowId } = await twoStepFlow('paging');
    await runFlow(s, flowId);
    for (const first of [501, -1, 100000]) {
      const top = await s.gql(`query($first: Int) { jobs(first: $first) { id } }`, { first });
      expect([first, 'jobs', codeOf(top)]).toEqual([first, 'jobs', 'BAD_USER_INPUT']);
      const ofFlow = await s.gql(`query($id: ID!, $first: Int) { jobs(flowId: $id, first: $first) { id } }`, { id: flowId, first });
      expect([first, 'jobs(flowId)', codeOf(ofFlow)]).toEqual([first, 'jobs(flowId)', 'BAD_USER_INPUT']);
      const nested = await s.gql(`query($id: ID!, $first: Int) { flow(id: $id) { jobs(first: $first) { id } } }`, { id: flowId, first });
      expect([first, 'Flow.jobs', codeOf(nested)]).toEqual([first, 'Flow.jobs', 'BAD_USER_INPUT']);
    }
    const most = await s.gql(`query($id: ID!) { jobs(flowId: $id, first: 500) { id } }`, { id: flowId });
    expect(most.errors).toBeUndefined();
    expect(most.data!.jobs).toHaveLength(1);
  });

  it('gives NOT_FOUND for an unknown flowId', async () => {
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await s.gql(`query($id: ID!) { jobs(flowId: $id) { id } }`, { id }))]).toEqual([id, 'NOT_FOUND']);
    }
  });

  it('gives NOT_FOUND for an unknown or malformed job id', async () => {
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      const response = await s.gql(`query($id: ID!) { job(id: $id) { id } }`, { id });
      expect([id, codeOf(response), response.data?.job ?? null]).toEqual([id, 'NOT_FOUND', null]);
    }
  });
});

describe('cancelJob', () => {
  it('turns a QUEUED job CANCELED with a finishedAt, and lists it so', async () => {
    const { flowId } = await twoStepFlow('cancel');
    const job = await runFlow(s, flowId);
    const response = await cancelJob(s, job.id);
    expect(response.errors).toBeUndefined();
    const canceled = response.data!.cancelJob;
    expect(canceled).toMatchObject({ id: job.id, status: 'CANCELED', createdAt: job.createdAt, recordsExported: 0, recordsSucceeded: 0, recordsFailed: 0 });
    expect(canceled.finishedAt).not.toBeNull();
    expect(Date.parse(canceled.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(job.createdAt));
    expect(await getJob(s, job.id)).toEqual(canceled);
    const lists = await s.ok(`query($id: ID!) { canceled: jobs(flowId: $id, status: CANCELED) { id } queued: jobs(flowId: $id, status: QUEUED) { id } }`, { id: flowId });
    expect(lists).toEqual({ canceled: [{ id: job.id }], queued: [] });
  });

  it('cancels a RUNNING job too', async () => {
    const { flowId } = await twoStepFlow('cancel-running');
    const job = await runFlow(s, flowId);
    await forceJobStatus(s, job.id, 'RUNNING');
    const canceled = (await cancelJob(s, job.id)).data!.cancelJob;
    expect(canceled.status).toBe('CANCELED');
    expect(canceled.finishedAt).not.toBeNull();
    expect(canceled.startedAt).not.toBeNull();
  });

  it('refuses a job that is no longer queued or running with BAD_USER_INPUT and changes nothing', async () => {
    const { flowId } = await twoStepFlow('cancel-twice');
    const job = await runFlow(s, flowId);
    const finished = await runFlow(s, flowId);
    expect(codeOf(await cancelJob(s, job.id))).toBeUndefined();
    await forceJobStatus(s, finished.id, 'COMPLETED');
    const before = await world(s);
    expect(codeOf(await cancelJob(s, job.id))).toBe('BAD_USER_INPUT');
    expect(codeOf(await cancelJob(s, finished.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
    expect((await getJob(s, finished.id)).status).toBe('COMPLETED');
  });

  it('gives NOT_FOUND for an unknown or malformed id and changes nothing', async () => {
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect([id, codeOf(await cancelJob(s, id))]).toEqual([id, 'NOT_FOUND']);
    }
    expect(await world(s)).toEqual(before);
  });

  it('needs the MANAGE role: MONITOR gets FORBIDDEN and the job stays QUEUED', async () => {
    const { flowId } = await twoStepFlow('cancel-monitor');
    const job = await runFlow(s, flowId);
    const monitor = await s.token('MONITOR');
    const before = await world(s);
    expect(codeOf(await s.gql(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: job.id }, monitor))).toBe('FORBIDDEN');
    expect(await world(s)).toEqual(before);
    expect((await getJob(s, job.id)).status).toBe('QUEUED');
  });

  it("drops the job's queued messages and leaves every other job's messages alone", async () => {
    const { connectionId, flowId, stepIds } = await twoStepFlow('messages');
    const other = await twoStepFlow('messages-other');
    const target = await runFlow(s, flowId);
    const sibling = await runFlow(s, flowId);
    const elsewhere = await runFlow(s, other.flowId);
    // Whatever runFlow enqueued, plus a few more of each, as the engine would have them.
    await insertMessage(s, { connectionId, jobId: target.id, stepId: stepIds[0]! });
    await insertMessage(s, { connectionId, jobId: target.id, stepId: stepIds[1]! });
    await insertMessage(s, { connectionId, jobId: target.id, stepId: stepIds[1]! });
    await insertMessage(s, { connectionId, jobId: sibling.id, stepId: stepIds[1]! });
    await insertMessage(s, { connectionId, jobId: sibling.id, stepId: stepIds[1]!, state: 'running' });
    await insertMessage(s, { connectionId: other.connectionId, jobId: elsewhere.id, stepId: other.stepIds[1]! });
    const others = await queueMessages(s, { jobIds: [sibling.id, elsewhere.id] });
    expect((await queueMessages(s, { jobIds: [target.id] })).length).toBeGreaterThanOrEqual(3);
    expect(others.length).toBeGreaterThanOrEqual(3);

    expect((await cancelJob(s, target.id)).data!.cancelJob.status).toBe('CANCELED');

    expect(await queueMessages(s, { jobIds: [target.id] })).toEqual([]);
    expect(await queueMessages(s, { jobIds: [sibling.id, elsewhere.id] })).toEqual(others);
    const statuses = await Promise.all([sibling, elsewhere].map((j: JobView) => getJob(s, j.id)));
    expect(statuses.map((j) => j.status)).toEqual(['QUEUED', 'QUEUED']);
  });
});
