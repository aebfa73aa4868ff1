/**
 * setConcurrency sets a connection's whole policy at once: a fixed level or
 * burst without auto-recovery, a target with it, and a rate limit on top.
 * Levels stay within 1..maxConcurrencyLevel; a borrower has no policy of its
 * own to set; a rejected request changes nothing.
 */
import { codeOf, useTestSluice } from '../support/sluice';
import {
  MALFORMED_ID,
  NO_SUCH_ID,
  createConnection,
  createConnectionRaw,
  getConnection,
  policyOf,
  setConcurrency,
  setConcurrencyRaw,
  world,
} from './connectionApi';

const s = useTestSluice();

describe('setConcurrency', () => {
  it('sets a fixed level from 1 to maxConcurrencyLevel without auto-recovery', async () => {
    const c = await createConnection(s, { name: 'fixed' });
    for (const level of [1, 13, 25]) {
      const set = await setConcurrency(s, { connectionId: c.id, level, autoRecoverRateLimitErrors: false });
      const expected = { concurrencyLevel: level, autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, rateLimit: null };
      expect(policyOf(set)).toEqual(expected);
      expect(policyOf(await getConnection(s, c.id))).toEqual(expected);
    }
  });

  it('sets the target (and the level in use) with auto-recovery', async () => {
    const c = await createConnection(s, { name: 'target', concurrencyLevel: 2, autoRecoverRateLimitErrors: false });
    const set = await setConcurrency(s, { connectionId: c.id, level: 10, autoRecoverRateLimitErrors: true });
    const expected = { concurrencyLevel: 10, autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 10, rateLimit: null };
    expect(policyOf(set)).toEqual(expected);
    expect(policyOf(await getConnection(s, c.id))).toEqual(expected);
  });

  it('takes level null with auto-recovery as a target of maxConcurrencyLevel', async () => {
    const c = await createConnection(s, { name: 'max target', concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const set = await setConcurrency(s, { connectionId: c.id, level: null, autoRecoverRateLimitErrors: true });
    expect(policyOf(set)).toEqual({ concurrencyLevel: 25, autoRecoverRateLimitErrors: true, targetConcurrencyLevel: 25, rateLimit: null });
    expect(policyOf(await getConnection(s, c.id))).toEqual(policyOf(set));
  });

  it('takes level null without auto-recovery as burst mode', async () => {
    const c = await createConnection(s, { name: 'burst', concurrencyLevel: 4 });
    const set = await setConcurrency(s, { connectionId: c.id, level: null, autoRecoverRateLimitErrors: false });
    expect(policyOf(set)).toEqual({ concurrencyLevel: null, autoRecoverRateLimitErrors: false, targetConcurrencyLevel: null, rateLimit: null });
    expect(policyOf(await getConnection(s, c.id))).toEqual(policyOf(set));
    // And out of burst mode again.
    const fixed = await setConcurrency(s, { connectionId: c.id, level: 6, autoRecoverRateLimitErrors: false });
    expect(fixed.concurrencyLevel).toBe(6);
  });

  it('sets a rate limit, and removes it with null or by leaving it out', async () => {
    const c = await createConnection(s, { name: 'rate' });
    const limited = await setConcurrency(s, {
      connectionId: c.id,
      level: 5,
      autoRecoverRateLimitErrors: false,
      rateLimit: { requests: 100, perMilliseconds: 60000 },
    });
    expect(limited.rateLimit).toEqual({ requests: 100, perMilliseconds: 60000 });
    expect((await getConnection(s, c.id)).rateLimit).toEqual({ requests: 100, perMilliseconds: 60000 });

    const removed = await setConcurrency(s, { connectionId: c.id, level: 5, autoRecoverRateLimitErrors: false, rateLimit: null });
    expect(removed.rateLimit).toBeNull();
    expect((await getConnection(s, c.id)).rateLimit).toBeNull();

    await setConcurrency(s, { connectionId: c.id, level: 5, autoRecoverRateLimitErrors: true, rateLimit: { requests: 1, perMilliseconds: 1 } });
    expect((await getConnection(s, c.id)).rateLimit).toEqual({ requests: 1, perMilliseconds: 1 });
    // The whole policy is set at once: a rate limit left out is no rate limit.
    await setConcurrency(s, { connectionId: c.id, level: 5, autoRecoverRateLimitErrors: true });
    expect((await getConnection(s, c.id)).rateLimit).toBeNull();
  });

  it('refuses a level outside 1..maxConcurrencyLevel, changing nothing', async () => {
    const c = await createConnection(s, { name: 'out of range', concurrencyLevel: 8, rateLimit: { requests: 2, perMilliseconds: 50 } });
    const before = await world(s);
    for (const level of [0, 26, -1, -25, 2147483647]) {
      for (const autoRecoverRateLimitErrors of [true, false]) {
        const response = await setConcurrencyRaw(s, { connectionId: c.id, level, autoRecoverRateLimitErrors });
        expect({ level, autoRecoverRateLimitErrors, code: codeOf(response) }).toEqual({ level, autoRecoverRateLimitErrors, code: 'BAD_USER_INPUT' });
      }
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses a rate limit with a number that is not positive, changing nothing', async () => {
    const c = await createConnection(s, { name: 'bad rate' });
    const before = await world(s);
    for (const rateLimit of [
      { requests: 0, perMilliseconds: 1000 },
      { requests: 10, perMilliseconds: 0 },
      { requests: -1, perMilliseconds: 1000 },
      { requests: 10, perMilliseconds: -1000 },
    ]) {
      const response = await setConcurrencyRaw(s, { connectionId: c.id, level: 3, autoRecoverRateLimitErrors: false, rateLimit });
      expect({ rateLimit, code: codeOf(response) }).toEqual({ rateLimit, code: 'BAD_USER_INPUT' });
    }
    expect(await world(s)).toEqual(before);
  });

  it('refuses a borrower, even with a valid policy, changing nothing', async () => {
    const owner = await createConnection(s, { name: 'owner', concurrencyLevel: 3, autoRecoverRateLimitErrors: false });
    const borrower = await createConnection(s, { name: 'borrower', borrowConcurrencyFromId: owner.id });
    const before = await world(s);
    const response = await setConcurrencyRaw(s, { connectionId: borrower.id, level: 5, autoRecoverRateLimitErrors: false });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(await world(s)).toEqual(before);
    expect(policyOf(await getConnection(s, borrower.id))).toEqual(policyOf(owner));
  });

  it('is NOT_FOUND for an unknown or malformed id', async () => {
    const before = await world(s);
    for (const connectionId of [NO_SUCH_ID, MALFORMED_ID]) {
      const response = await setConcurrencyRaw(s, { connectionId, level: 5, autoRecoverRateLimitErrors: false });
      expect(codeOf(response)).toBe('NOT_FOUND');
    }
    expect(await world(s)).toEqual(before);
  });

  it('changes only the policy of the connection it names', async () => {
    const c = await createConnection(s, { name: 'changed' });
    const bystander = await createConnection(s, { name: 'bystander', concurrencyLevel: 4 });
    await setConcurrency(s, { connectionId: c.id, level: 2, autoRecoverRateLimitErrors: false });
    expect(await getConnection(s, bystander.id)).toEqual(bystander);
  });
});

describe('createConnection as a borrower', () => {
  it('refuses a policy of its own (concurrencyLevel, autoRecoverRateLimitErrors or rateLimit), creating nothing', async () => {
    const owner = await createConnection(s, { name: 'lender' });
    const before = await world(s);
    const own: Record<string, unknown>[] = [
      { concurrencyLevel: 5 },
      { autoRecoverRateLimitErrors: false },
      { autoRecoverRateLimitErrors: true },
      { rateLimit: { requests: 1, perMilliseconds: 1000 } },
    ];
    for (const policy of own) {
      const response = await createConnectionRaw(s, { name: 'would-be borrower', borrowConcurrencyFromId: owner.id, ...policy });
      expect({ policy, code: codeOf(response) }).toEqual({ policy, code: 'BAD_USER_INPUT' });
    }
    expect(await world(s)).toEqual(before);
  });

  it('accepts explicit nulls for the policy fields', async () => {
    const owner = await createConnection(s, { name: 'lender 2', concurrencyLevel: 7 });
    const created = await createConnection(s, {
      name: 'borrower with nulls',
      borrowConcurrencyFromId: owner.id,
      concurrencyLevel: null,
      autoRecoverRateLimitErrors: null,
      rateLimit: null,
    });
    expect(created.borrowConcurrencyFrom).toEqual({ id: owner.id });
    expect(policyOf(created)).toEqual(policyOf(owner));
  });
});
