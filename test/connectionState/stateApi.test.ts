/**
 * pauseConnection and resumeConnection as the API answers them (no engine
 * runs here: the states are what the API and the store functions leave):
 * who may, what an unknown id or a bad reason gets, what a borrower reads,
 * what is logged, and that updateConnection and resumeConnection probe an
 * OFFLINE connection at once.
 */
import { randomUUID } from 'node:crypto';
import { createHttpConnection } from '../support/flows';
import { codeOf, useTestSluice } from '../support/sluice';
import { PAUSE, RESUME, pause, resume, stateOf, statesOfAll, takeOffline } from './stateApi';

const APP = 'http://127.0.0.1:9';

describe('pauseConnection and resumeConnection', () => {
  const logLines: string[] = [];
  const s = useTestSluice({ logLines });

  it('pauses with the reason given and resumes to ONLINE, for ADMINISTER and MANAGE alike', async () => {
    const manage = await s.token('MANAGE');
    for (const secret of [s.adminSecret, manage]) {
      const id = await createHttpConnection(s, APP, { name: `paused-by-${secret === manage ? 'manage' : 'admin'}` });
      const before = await stateOf(s, id);
      expect(before).toMatchObject({ state: 'ONLINE', stateReason: null, nextProbeAt: null });
      const paused = (await s.ok<{ pauseConnection: Record<string, unknown> }>(PAUSE, { id, reason: '  nightly maintenance  ' }, secret)).pauseConnection;
      expect(paused).toMatchObject({ id, state: 'PAUSED', stateReason: 'nightly maintenance', nextProbeAt: null });
      expect(Date.parse(paused.stateChangedAt as string)).toBeGreaterThanOrEqual(Date.parse(before.stateChangedAt));
      expect(await stateOf(s, id)).toEqual(paused);
      const resumed = (await s.ok<{ resumeConnection: Record<string, unknown> }>(RESUME, { id }, secret)).resumeConnection;
      expect(resumed).toMatchObject({ id, state: 'ONLINE', stateReason: null, nextProbeAt: null });
      expect(await stateOf(s, id)).toEqual(resumed);
    }
  });

  it('takes a pause without a reason, or with a blank one, as no reason', async () => {
    const id = await createHttpConnection(s, APP, { name: 'no reason' });
    expect(await pause(s, id)).toMatchObject({ state: 'PAUSED', stateReason: null });
    expect(await pause(s, id, '   ')).toMatchObject({ state: 'PAUSED', stateReason: null });
  });

  it('keeps when a pause began when a paused connection is paused again, with the new reason', async () => {
    const id = await createHttpConnection(s, APP, { name: 'paused twice' });
    const first = await pause(s, id, 'first');
    const second = await pause(s, id, 'second');
    expect(second).toEqual({ ...first, stateReason: 'second' });
  });

  it('leaves an ONLINE connection as it is on resume', async () => {
    const id = await createHttpConnection(s, APP, { name: 'never paused' });
    const before = await stateOf(s, id);
    expect(await resume(s, id)).toEqual(before);
  });

  it('refuses both to MONITOR with FORBIDDEN and changes nothing', async () => {
    const monitor = await s.token('MONITOR');
    const online = await createHttpConnection(s, APP, { name: 'monitor-online' });
    const paused = await createHttpConnection(s, APP, { name: 'monitor-paused' });
    await pause(s, paused, 'held');
    const before = await statesOfAll(s);
    const refusedPause = await s.gql(PAUSE, { id: online, reason: 'sneaky' }, monitor);
    const refusedResume = await s.gql(RESUME, { id: paused }, monitor);
    expect([codeOf(refusedPause), codeOf(refusedResume)]).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect([refusedPause.data, refusedResume.data]).toEqual([null, null]);
    expect(await statesOfAll(s)).toEqual(before);
  });

  it.each([
    ['an unknown id', randomUUID()],
    ['a malformed id', 'not-a-uuid'],
  ])('answers NOT_FOUND for %s, as the other connection mutations do', async (_what, id) => {
    const before = await statesOfAll(s);
    const paused = await s.gql(PAUSE, { id, reason: 'x' });
    const resumed = await s.gql(RESUME, { id });
    expect([codeOf(paused), codeOf(resumed)]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(paused.errors![0]!.message).toBe(`no connection with id "${id}"`);
    expect(await statesOfAll(s)).toEqual(before);
  });

  it('takes a reason of 500 characters and refuses 501 as BAD_USER_INPUT, changing nothing', async () => {
    const id = await createHttpConnection(s, APP, { name: 'long reason' });
    const before = await stateOf(s, id);
    const refused = await s.gql(PAUSE, { id, reason: 'x'.repeat(501) });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.message).toBe('reason must be at most 500 characters (it has 501)');
    expect(await stateOf(s, id)).toEqual(before);
    expect(await pause(s, id, 'y'.repeat(500))).toMatchObject({ state: 'PAUSED', stateReason: 'y'.repeat(500) });
  });

  it.each([
    ['a NUL character', 'nul \u0000 inside'],
    ['an unpaired surrogate', 'lone \ud800 high'],
  ])('refuses a reason holding %s as BAD_USER_INPUT, changing nothing', async (_what, reason) => {
    const id = await createHttpConnection(s, APP, { name: 'bad reason' });
    const before = await stateOf(s, id);
    const refused = await s.gql(PAUSE, { id, reason });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.data ?? null).toBeNull();
    expect(await stateOf(s, id)).toEqual(before);
  });

  it('logs each change with the connection’s id and name', async () => {
    const id = await createHttpConnection(s, APP, { name: 'logged' });
    await pause(s, id, 'for the log');
    await resume(s, id);
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.connectionId === id);
    expect(lines.filter((l) => l.msg === 'connection paused')).toEqual([
      expect.objectContaining({ level: 30, connectionId: id, name: 'logged', from: 'ONLINE', to: 'PAUSED', reason: 'for the log' }),
    ]);
    expect(lines.filter((l) => l.msg === 'connection resumed')).toEqual([
      expect.objectContaining({ level: 30, connectionId: id, name: 'logged', from: 'PAUSED', to: 'ONLINE' }),
    ]);
  });
});

describe('Connection.state of a borrower', () => {
  const s = useTestSluice();

  it('reads its queue owner’s state, reason, time and next probe while the owner is not ONLINE, its own otherwise', async () => {
    const owner = await createHttpConnection(s, APP, { name: 'owner' });
    const borrower = await createHttpConnection(s, APP, { name: 'borrower', borrowConcurrencyFromId: owner });
    // A chain resolves to its end: this one's queue owner is `owner` too.
    const chained = await createHttpConnection(s, APP, { name: 'chained', borrowConcurrencyFromId: borrower });

    const pausedOwner = await pause(s, owner, 'owner maintenance');
    const whilePaused = await statesOfAll(s);
    for (const id of [borrower, chained]) expect(whilePaused.get(id)).toEqual({ ...pausedOwner, id });
    expect(await stateOf(s, borrower)).toEqual({ ...pausedOwner, id: borrower });
    const ownerQueue = await s.ok<{ connection: { queueOwner: { state: string } } }>(
      `query($id: ID!) { connection(id: $id) { queueOwner { state } } }`,
      { id: chained },
    );
    expect(ownerQueue.connection.queueOwner.state).toBe('PAUSED');

    await resume(s, owner);
    await takeOffline(s, owner, 'connect ECONNREFUSED 127.0.0.1:9', 60000);
    const offlineOwner = await stateOf(s, owner);
    expect(offlineOwner).toMatchObject({ state: 'OFFLINE', stateReason: 'connect ECONNREFUSED 127.0.0.1:9', nextProbeAt: expect.any(String) });
    expect(await stateOf(s, borrower)).toEqual({ ...offlineOwner, id: borrower });

    // The owner ONLINE again: the borrower's own pause shows, the owner's state does not.
    await s.sluice.dataSource.query(`UPDATE connection SET state = 'ONLINE', state_reason = NULL, next_probe_at = NULL WHERE id = $1`, [owner]);
    const pausedBorrower = await pause(s, borrower, 'borrower only');
    expect(pausedBorrower).toMatchObject({ state: 'PAUSED', stateReason: 'borrower only' });
    expect(await stateOf(s, owner)).toMatchObject({ state: 'ONLINE', stateReason: null });
    expect(await stateOf(s, chained)).toMatchObject({ state: 'ONLINE', stateReason: null });
  });

  it('reads the states of a list of connections in one statement per level (no N+1)', async () => {
    const owner = await createHttpConnection(s, APP, { name: 'list-owner' });
    for (let i = 0; i < 5; i++) await createHttpConnection(s, APP, { name: `list-borrower-${i}`, borrowConcurrencyFromId: owner });
    await pause(s, owner, 'listed');
    const statements: string[] = [];
    const pool = s.sluice.dataSource.driver as unknown as { master: { query: (...args: unknown[]) => unknown } };
    const query = pool.master.query.bind(pool.master);
    pool.master.query = (...args: unknown[]) => {
      if (typeof args[0] === 'string') statements.push(args[0]);
      return query(...args);
    };
    try {
      const all = await statesOfAll(s);
      expect([...all.values()].filter((c) => c.stateReason === 'listed')).toHaveLength(6);
    } finally {
      pool.master.query = query;
    }
    expect(statements.filter((q) => /FROM connection/.test(q))).toHaveLength(1);
  });
});

describe('probing an OFFLINE connection at once', () => {
  const s = useTestSluice();

  async function nextProbeIn(id: string): Promise<number> {
    return Date.parse((await stateOf(s, id)).nextProbeAt as string) - Date.now();
  }

  it('moves the next probe to now when updateConnection changes its config or credentials, not when it renames it', async () => {
    const id = await createHttpConnection(s, APP, { name: 'away' });
    const update = (input: Record<string, unknown>) =>
      s.ok(`mutation($id: ID!, $input: UpdateConnectionInput!) { updateConnection(id: $id, input: $input) { id } }`, { id, input });

    await takeOffline(s, id, 'connect ECONNREFUSED', 600000);
    await update({ name: 'renamed while away' });
    expect(await nextProbeIn(id)).toBeGreaterThan(500000);

    for (const input of [{ config: { baseUrl: `${APP}/v2` } }, { credentials: { type: 'bearer', token: 'renewed' } }, { credentials: null }]) {
      await takeOffline(s, id, 'connect ECONNREFUSED', 600000);
      await update(input);
      expect({ input, due: (await nextProbeIn(id)) <= 1000 }).toEqual({ input, due: true });
      expect(await stateOf(s, id)).toMatchObject({ state: 'OFFLINE', stateReason: 'connect ECONNREFUSED' });
    }
  });

  it('moves the next probe to now on resumeConnection, and the connection stays OFFLINE until a probe answers', async () => {
    const id = await createHttpConnection(s, APP, { name: 'away too' });
    await takeOffline(s, id, 'HTTP 503 on 5 consecutive calls', 600000);
    const resumed = await resume(s, id);
    expect(resumed).toMatchObject({ state: 'OFFLINE', stateReason: 'HTTP 503 on 5 consecutive calls' });
    expect(Date.parse(resumed.nextProbeAt as string) - Date.now()).toBeLessThanOrEqual(1000);
  });
});
