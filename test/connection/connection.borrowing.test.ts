/**
 * Borrowing through the API: a borrower uses its queue owner's FIFO queue and
 * policy; chains resolve to their end, cycles and other applications are
 * refused; queued messages follow a connection to the queue it now uses,
 * keeping their order, while running ones finish where they started.
 *
 * The server runs no engine (ROLE=api), so messages put into queue_message
 * stay exactly as the test left them.
 */
import { codeOf, useTestSluice } from '../support/sluice';
import {
  APP,
  MALFORMED_ID,
  NO_SUCH_ID,
  OTHER_APP,
  borrow,
  borrowRaw,
  createConnection,
  deleteConnectionRaw,
  flowOn,
  getConnection,
  insertMessage,
  messagesOfJobs,
  policyOf,
  runFlow,
  setConcurrency,
  updateConnectionRaw,
  world,
  type ConnectionView,
} from './connectionApi';

const s = useTestSluice({ engine: false });

/** Three connections to one application, none borrowing; a, b, c each with its own policy. */
async function three(tag: string): Promise<{ a: ConnectionView; b: ConnectionView; c: ConnectionView }> {
  const a = await createConnection(s, { name: `${tag}-a`, concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
  const b = await createConnection(s, { name: `${tag}-b`, concurrencyLevel: 5, rateLimit: { requests: 3, perMilliseconds: 1000 } }, `${APP}/v2`);
  const c = await createConnection(s, { name: `${tag}-c`, autoRecoverRateLimitErrors: false }, `${APP}/v3`);
  return { a, b, c };
}

describe('borrowConcurrency', () => {
  it('makes a connection use its owner’s queue, and lists it among the owner’s borrowers', async () => {
    const { a, b } = await three('direct');
    const borrowed = await borrow(s, b.id, a.id);
    expect(borrowed).toMatchObject({ id: b.id, borrowConcurrencyFrom: { id: a.id }, queueOwner: { id: a.id } });
    expect(await getConnection(s, b.id)).toMatchObject({ borrowConcurrencyFrom: { id: a.id }, queueOwner: { id: a.id }, borrowers: [] });
    expect(await getConnection(s, a.id)).toMatchObject({ borrowConcurrencyFrom: null, queueOwner: { id: a.id }, borrowers: [{ id: b.id }] });
  });

  it('resolves a chain C→B→A to A for both B and C, listing only direct borrowers', async () => {
    const { a, b, c } = await three('chain');
    await borrow(s, b.id, a.id);
    const cView = await borrow(s, c.id, b.id);
    expect(cView).toMatchObject({ borrowConcurrencyFrom: { id: b.id }, queueOwner: { id: a.id } });

    const [av, bv, cv] = await Promise.all([a, b, c].map((x) => getConnection(s, x.id)));
    expect(av).toMatchObject({ queueOwner: { id: a.id }, borrowers: [{ id: b.id }] });
    expect(bv).toMatchObject({ borrowConcurrencyFrom: { id: a.id }, queueOwner: { id: a.id }, borrowers: [{ id: c.id }] });
    expect(cv).toMatchObject({ borrowConcurrencyFrom: { id: b.id }, queueOwner: { id: a.id }, borrowers: [] });
  });

  it('re-points a whole chain when its head starts borrowing', async () => {
    const { a, b, c } = await three('rehead');
    await borrow(s, c.id, b.id);
    expect((await getConnection(s, c.id)).queueOwner).toEqual({ id: b.id });
    await borrow(s, b.id, a.id);
    expect((await getConnection(s, c.id)).queueOwner).toEqual({ id: a.id });
    await borrow(s, b.id, null);
    expect((await getConnection(s, c.id)).queueOwner).toEqual({ id: b.id });
    expect((await getConnection(s, b.id)).queueOwner).toEqual({ id: b.id });
  });

  it('lists several direct borrowers', async () => {
    const { a, b, c } = await three('several');
    await borrow(s, b.id, a.id);
    await borrow(s, c.id, a.id);
    expect((await getConnection(s, a.id)).borrowers.map((x) => x.id).sort()).toEqual([b.id, c.id].sort());
  });

  it('refuses to borrow from itself, changing nothing', async () => {
    const { a } = await three('self');
    const before = await world(s);
    expect(codeOf(await borrowRaw(s, a.id, a.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('refuses a cycle, directly or through a chain, changing nothing', async () => {
    const { a, b, c } = await three('cycle');
    await borrow(s, b.id, a.id);
    await borrow(s, c.id, b.id);
    const before = await world(s);
    expect(codeOf(await borrowRaw(s, a.id, c.id))).toBe('BAD_USER_INPUT');
    expect(codeOf(await borrowRaw(s, a.id, b.id))).toBe('BAD_USER_INPUT');
    expect(codeOf(await borrowRaw(s, b.id, c.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('lets only one of two opposite borrows sent at once through: the other would close a cycle', async () => {
    for (let round = 0; round < 5; round++) {
      const { a, b } = await three(`race-${round}`);
      const [ab, ba] = await Promise.all([borrowRaw(s, a.id, b.id), borrowRaw(s, b.id, a.id)]);
      expect([codeOf(ab), codeOf(ba)].sort()).toEqual(['BAD_USER_INPUT', undefined]);
      const rows: { id: string; borrow_from_id: string | null; queue_owner_id: string }[] = await s.sluice.dataSource.query(
        `SELECT id, borrow_from_id, queue_owner_id FROM connection WHERE id = ANY($1::uuid[])`,
        [[a.id, b.id]],
      );
      const [borrower, lender] = ab.errors ? [b.id, a.id] : [a.id, b.id];
      expect(rows.find((r) => r.id === borrower)).toMatchObject({ borrow_from_id: lender, queue_owner_id: lender });
      expect(rows.find((r) => r.id === lender)).toMatchObject({ borrow_from_id: null, queue_owner_id: lender });
    }
  });

  it('refuses a connection to another application (another origin of baseUrl), changing nothing', async () => {
    const { a } = await three('other-app');
    const x = await createConnection(s, { name: 'other-app-x' }, `${OTHER_APP}/v1`);
    // Same host, another scheme: another origin, another application.
    const y = await createConnection(s, { name: 'other-app-y' }, 'https://127.0.0.1:9/v1');
    const before = await world(s);
    expect(codeOf(await borrowRaw(s, a.id, x.id))).toBe('BAD_USER_INPUT');
    expect(codeOf(await borrowRaw(s, x.id, a.id))).toBe('BAD_USER_INPUT');
    expect(codeOf(await borrowRaw(s, a.id, y.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });

  it('is NOT_FOUND for an unknown or malformed connection on either side', async () => {
    const { a } = await three('not-found');
    const before = await world(s);
    for (const id of [NO_SUCH_ID, MALFORMED_ID]) {
      expect(codeOf(await borrowRaw(s, id, a.id))).toBe('NOT_FOUND');
      expect(codeOf(await borrowRaw(s, a.id, id))).toBe('NOT_FOUND');
      expect(codeOf(await borrowRaw(s, id, null))).toBe('NOT_FOUND');
    }
    expect(await world(s)).toEqual(before);
  });

  it('moving a borrower to another application is CONFLICT; another path of the same one is fine', async () => {
    const { a, b } = await three('move');
    await borrow(s, b.id, a.id);
    const before = await world(s);
    expect(codeOf(await updateConnectionRaw(s, b.id, { config: { baseUrl: `${OTHER_APP}/v1` } }))).toBe('CONFLICT');
    expect(codeOf(await updateConnectionRaw(s, a.id, { config: { baseUrl: `${OTHER_APP}/v1` } }))).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);

    const moved = await updateConnectionRaw(s, b.id, { config: { baseUrl: `${APP}/elsewhere` } });
    expect(moved.errors).toBeUndefined();
    expect(moved.data!.updateConnection).toMatchObject({ application: APP, queueOwner: { id: a.id } });
  });
});

describe('a borrower’s concurrency policy', () => {
  it('reads as its queue owner’s, through a chain, and follows setConcurrency on the owner', async () => {
    const { a, b, c } = await three('policy');
    await borrow(s, b.id, a.id);
    await borrow(s, c.id, b.id);
    const ownerPolicy = policyOf(await getConnection(s, a.id));
    expect(ownerPolicy).toEqual({ concurrencyLevel: 2, autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, rateLimit: null });
    expect(policyOf(await getConnection(s, b.id))).toEqual(ownerPolicy);
    expect(policyOf(await getConnection(s, c.id))).toEqual(ownerPolicy);

    await setConcurrency(s, { connectionId: a.id, level: 9, autoRecoverRateLimitErrors: true, rateLimit: { requests: 7, perMilliseconds: 500 } });
    const changed = { concurrencyLevel: 9, autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 9, rateLimit: { requests: 7, perMilliseconds: 500 } };
    for (const x of [a, b, c]) expect(policyOf(await getConnection(s, x.id))).toEqual(changed);

    await setConcurrency(s, { connectionId: a.id, level: null, autoRecoverRateLimitErrors: false, rateLimit: null });
    const burst = { concurrencyLevel: null, autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, rateLimit: null };
    for (const x of [a, b, c]) expect(policyOf(await getConnection(s, x.id))).toEqual(burst);
  });

  it('is its own again once it stops borrowing', async () => {
    const { a, b } = await three('own-again');
    const ownPolicy = policyOf(b);
    expect(ownPolicy).toEqual({ concurrencyLevel: 5, autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 5, rateLimit: { requests: 3, perMilliseconds: 1000 } });
    await borrow(s, b.id, a.id);
    expect(policyOf(await getConnection(s, b.id))).toEqual(policyOf(a));

    const back = await borrow(s, b.id, null);
    expect(back).toMatchObject({ borrowConcurrencyFrom: null, queueOwner: { id: b.id } });
    expect(policyOf(back)).toEqual(ownPolicy);
    expect(policyOf(await getConnection(s, b.id))).toEqual(ownPolicy);
    expect((await getConnection(s, a.id)).borrowers).toEqual([]);
  });

  it('a connection created as a borrower reads its owner’s policy from the start', async () => {
    const { a } = await three('created');
    const created = await createConnection(s, { name: 'created-borrower', borrowConcurrencyFromId: a.id }, `${APP}/v4`);
    expect(created).toMatchObject({ borrowConcurrencyFrom: { id: a.id }, queueOwner: { id: a.id } });
    expect(policyOf(created)).toEqual(policyOf(a));
  });
});

describe('queueSize and inFlight', () => {
  /**
   * Owner a with borrowers b (direct) and c (through b), one flow with a step
   * on each, and one job: runFlow itself enqueues one message for the source
   * step (on a), so a's queue starts with one queued message.
   */
  async function sharedQueue(tag: string) {
    const { a, b, c } = await three(tag);
    await borrow(s, b.id, a.id);
    await borrow(s, c.id, b.id);
    const flow = await flowOn(s, [a.id, b.id, c.id], `${tag}-flow`);
    const jobId = await runFlow(s, flow.id);
    const [onA, onB, onC] = flow.stepIds as [string, string, string];
    return { a, b, c, jobId, steps: { a: onA, b: onB, c: onC } };
  }

  it('count the owner’s whole queue, borrowers included, for the owner and every borrower', async () => {
    const { a, b, c, jobId, steps } = await sharedQueue('counts');
    expect(await messagesOfJobs(s, [jobId])).toMatchObject([{ queue_owner_id: a.id, connection_id: a.id, state: 'queued' }]);

    // As the engine would enqueue them: in the queue of each connection's owner, a.
    await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: steps.b, state: 'queued' });
    await insertMessage(s, { queueOwnerId: a.id, connectionId: c.id, jobId, stepId: steps.c, state: 'queued' });
    await insertMessage(s, { queueOwnerId: a.id, connectionId: c.id, jobId, stepId: steps.c, state: 'running' });
    await insertMessage(s, { queueOwnerId: a.id, connectionId: a.id, jobId, stepId: steps.a, state: 'running' });
    await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: steps.b, state: 'running' });

    for (const x of [a, b, c]) {
      const view = await getConnection(s, x.id);
      expect({ id: x.id, queueSize: view.queueSize, inFlight: view.inFlight }).toEqual({ id: x.id, queueSize: 3, inFlight: 3 });
    }
  });

  it('do not count another queue', async () => {
    const { a, jobId, steps } = await sharedQueue('separate');
    const { a: other } = await three('separate-other');
    await insertMessage(s, { queueOwnerId: a.id, connectionId: a.id, jobId, stepId: steps.a, state: 'running' });
    expect(await getConnection(s, other.id)).toMatchObject({ queueSize: 0, inFlight: 0 });
    expect(await getConnection(s, a.id)).toMatchObject({ queueSize: 1, inFlight: 1 });
  });
});

describe('queued messages when borrowing changes', () => {
  it('move to the new queue owner when a connection starts borrowing, keeping id order; running ones stay', async () => {
    const { a, b } = await three('start');
    const flow = await flowOn(s, [a.id, b.id], 'start-flow');
    const [onA, onB] = flow.stepIds as [string, string];
    const jobId = await runFlow(s, flow.id); // one queued message on a
    const b1 = await insertMessage(s, { queueOwnerId: b.id, connectionId: b.id, jobId, stepId: onB, state: 'queued' });
    const a2 = await insertMessage(s, { queueOwnerId: a.id, connectionId: a.id, jobId, stepId: onA, state: 'queued' });
    const b2 = await insertMessage(s, { queueOwnerId: b.id, connectionId: b.id, jobId, stepId: onB, state: 'running' });
    const b3 = await insertMessage(s, { queueOwnerId: b.id, connectionId: b.id, jobId, stepId: onB, state: 'queued' });
    const before = await messagesOfJobs(s, [jobId]);
    const a1 = before[0]!.id;

    await borrow(s, b.id, a.id);
    const after = await messagesOfJobs(s, [jobId]);
    // Same messages, same ids, same states; only the queue of b's queued ones changed.
    expect(after.map((m) => [m.id, m.connection_id, m.state, m.queue_owner_id])).toEqual([
      [a1, a.id, 'queued', a.id],
      [b1, b.id, 'queued', a.id],
      [a2, a.id, 'queued', a.id],
      [b2, b.id, 'running', b.id],
      [b3, b.id, 'queued', a.id],
    ]);
    // a's queue, in FIFO (id) order, now interleaves both connections' messages by enqueue order.
    const queueOfA = after.filter((m) => m.queue_owner_id === a.id && m.state === 'queued').map((m) => m.id);
    expect(queueOfA).toEqual([a1, b1, a2, b3]);
    expect(await getConnection(s, a.id)).toMatchObject({ queueSize: 4, inFlight: 0 });
    expect(await getConnection(s, b.id)).toMatchObject({ queueSize: 4, inFlight: 0 });
  });

  it('move back to the connection’s own queue when it stops borrowing; running ones stay', async () => {
    const { a, b } = await three('stop');
    await borrow(s, b.id, a.id);
    const flow = await flowOn(s, [a.id, b.id], 'stop-flow');
    const [, onB] = flow.stepIds as [string, string];
    const jobId = await runFlow(s, flow.id);
    const b1 = await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: onB, state: 'queued' });
    const b2 = await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: onB, state: 'running' });
    const b3 = await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: onB, state: 'queued' });
    const a1 = (await messagesOfJobs(s, [jobId]))[0]!.id;

    await borrow(s, b.id, null);
    const after = await messagesOfJobs(s, [jobId]);
    expect(after.map((m) => [m.id, m.connection_id, m.state, m.queue_owner_id])).toEqual([
      [a1, a.id, 'queued', a.id],
      [b1, b.id, 'queued', b.id],
      [b2, b.id, 'running', a.id],
      [b3, b.id, 'queued', b.id],
    ]);
    expect(await getConnection(s, a.id)).toMatchObject({ queueSize: 1, inFlight: 1 });
    expect(await getConnection(s, b.id)).toMatchObject({ queueSize: 2, inFlight: 0 });
  });

  it('follow a whole chain: the borrowers of a connection that changes queue move with it', async () => {
    const { a, b, c } = await three('chain-move');
    await borrow(s, c.id, b.id);
    const flow = await flowOn(s, [a.id, b.id, c.id], 'chain-move-flow');
    const [, onB, onC] = flow.stepIds as [string, string, string];
    const jobId = await runFlow(s, flow.id);
    const c1 = await insertMessage(s, { queueOwnerId: b.id, connectionId: c.id, jobId, stepId: onC, state: 'queued' });
    const b1 = await insertMessage(s, { queueOwnerId: b.id, connectionId: b.id, jobId, stepId: onB, state: 'queued' });
    const c2 = await insertMessage(s, { queueOwnerId: b.id, connectionId: c.id, jobId, stepId: onC, state: 'running' });

    await borrow(s, b.id, a.id);
    const owners = (await messagesOfJobs(s, [jobId])).filter((m) => m.connection_id !== a.id).map((m) => [m.id, m.queue_owner_id]);
    expect(owners).toEqual([
      [c1, a.id],
      [b1, a.id],
      [c2, b.id],
    ]);
    for (const x of [a, b, c]) expect(await getConnection(s, x.id)).toMatchObject({ queueSize: 3, inFlight: 0 });

    await borrow(s, b.id, null);
    const back = (await messagesOfJobs(s, [jobId])).filter((m) => m.connection_id !== a.id).map((m) => [m.id, m.queue_owner_id]);
    expect(back).toEqual([
      [c1, b.id],
      [b1, b.id],
      [c2, b.id],
    ]);
    expect(await getConnection(s, c.id)).toMatchObject({ queueSize: 2, inFlight: 1 });
  });

  it('stay put when a borrow is refused', async () => {
    const { a, b } = await three('refused');
    await borrow(s, b.id, a.id);
    const flow = await flowOn(s, [a.id, b.id], 'refused-flow');
    const jobId = await runFlow(s, flow.id);
    await insertMessage(s, { queueOwnerId: a.id, connectionId: b.id, jobId, stepId: flow.stepIds[1]!, state: 'queued' });
    const before = await world(s);
    expect(codeOf(await borrowRaw(s, a.id, b.id))).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
  });
});

describe('deleteConnection of a queue owner', () => {
  it('is CONFLICT, not an internal error, while a former borrower’s message still runs in its queue', async () => {
    const { a, b } = await three('delete-owner');
    await borrow(s, b.id, a.id);
    const flow = await flowOn(s, [b.id], 'delete-owner-flow');
    const jobId = await runFlow(s, flow.id);
    // The engine started b's message in a's queue; then b stopped borrowing.
    await s.sluice.dataSource.query(`UPDATE queue_message SET state = 'running' WHERE job_id = $1`, [jobId]);
    await borrow(s, b.id, null);
    expect(await messagesOfJobs(s, [jobId])).toMatchObject([{ queue_owner_id: a.id, connection_id: b.id, state: 'running' }]);

    const before = await world(s);
    const response = await deleteConnectionRaw(s, a.id);
    expect(codeOf(response)).toBe('CONFLICT');
    expect(await world(s)).toEqual(before);

    // Once the message has finished (the engine deletes it), the owner can go.
    await s.sluice.dataSource.query(`DELETE FROM queue_message WHERE job_id = $1`, [jobId]);
    expect((await deleteConnectionRaw(s, a.id)).data?.deleteConnection).toBe(true);
  });
});
