/**
 * rateLimit has bounds (README "What each role may do"): requests from 1 to
 * RATE_LIMIT_MAX_REQUESTS per window, a window from 1 ms to one day. Outside
 * them setConcurrency and createConnection are BAD_USER_INPUT and nothing
 * changes; the bounds themselves are accepted.
 */
import { RATE_LIMIT_MAX_REQUESTS, RATE_LIMIT_MAX_WINDOW_MS } from '../../src/engine/concurrencyPolicy';
import { createHttpConnection } from '../support/flows';
import { codeOf, useTestSluice } from '../support/sluice';

const SET = `mutation($input: SetConcurrencyInput!) { setConcurrency(input: $input) { rateLimit { requests perMilliseconds } } }`;

describe('rateLimit bounds', () => {
  const s = useTestSluice();

  it('are 100000 requests and one day', () => {
    expect(RATE_LIMIT_MAX_REQUESTS).toBe(100000);
    expect(RATE_LIMIT_MAX_WINDOW_MS).toBe(86400000);
  });

  it.each([
    ['no requests', { requests: 0, perMilliseconds: 1000 }, 'rateLimit.requests must be an integer from 1 to 100000'],
    ['too many requests', { requests: RATE_LIMIT_MAX_REQUESTS + 1, perMilliseconds: 1000 }, 'rateLimit.requests must be an integer from 1 to 100000'],
    ['a zero window', { requests: 10, perMilliseconds: 0 }, 'rateLimit.perMilliseconds must be an integer from 1 to 86400000'],
    ['a window over a day', { requests: 10, perMilliseconds: RATE_LIMIT_MAX_WINDOW_MS + 1 }, 'rateLimit.perMilliseconds must be an integer from 1 to 86400000'],
  ])('%s is BAD_USER_INPUT in setConcurrency and createConnection, and nothing changes', async (_what, rateLimit, says) => {
    const id = await createHttpConnection(s, 'http://127.0.0.1:9', { name: `bounds ${_what}` });
    const before = await s.ok(`query($id: ID!) { connection(id: $id) { rateLimit { requests perMilliseconds } } }`, { id });
    const set = await s.gql(SET, { input: { connectionId: id, level: 2, autoRecoverRateLimitErrors: false, rateLimit } });
    expect(codeOf(set)).toBe('BAD_USER_INPUT');
    expect(set.errors?.[0]?.message).toContain(says);
    expect(await s.ok(`query($id: ID!) { connection(id: $id) { rateLimit { requests perMilliseconds } } }`, { id })).toEqual(before);

    const created = await s.gql(`mutation($input: CreateConnectionInput!) { createConnection(input: $input) { id } }`, {
      input: { name: `create ${_what}`, connectorType: 'http', config: { baseUrl: 'http://127.0.0.1:9' }, rateLimit },
    });
    expect(codeOf(created)).toBe('BAD_USER_INPUT');
    const { connections } = await s.ok<{ connections: { name: string }[] }>(`{ connections { name } }`);
    expect(connections.map((c) => c.name)).not.toContain(`create ${_what}`);
  });

  it('accepts the bounds themselves', async () => {
    const id = await createHttpConnection(s, 'http://127.0.0.1:9', { name: 'at the bounds' });
    for (const rateLimit of [
      { requests: 1, perMilliseconds: 1 },
      { requests: RATE_LIMIT_MAX_REQUESTS, perMilliseconds: RATE_LIMIT_MAX_WINDOW_MS },
    ]) {
      const set = await s.ok<{ setConcurrency: { rateLimit: unknown } }>(SET, {
        input: { connectionId: id, level: 2, autoRecoverRateLimitErrors: false, rateLimit },
      });
      expect(set.setConcurrency.rateLimit).toEqual(rateLimit);
    }
  });
});
