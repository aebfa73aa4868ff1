/**
 * The allowance of refusals per token (src/http/refusalAllowance.ts): a
 * token's refused operations are answered at once up to REFUSAL_BURST, then
 * REFUSALS_PER_SECOND a second; beyond that the same answer comes after
 * REFUSAL_HOLD_MS. Nothing that is not refused waits, and other tokens have
 * their own allowance.
 */
import { REFUSAL_BURST, REFUSAL_HOLD_MS, REFUSALS_PER_SECOND, RefusalAllowance } from '../../src/http/refusalAllowance';
import { MAX_ALIASES } from '../../src/http/requestLimits';
import { openSocket } from '../support/liveClient';
import { useTestSluice, type GraphQLResponse } from '../support/sluice';

const BOMB = `{ ${Array.from({ length: MAX_ALIASES + 1 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
/** Timers may fire up to a millisecond before their time. */
const HELD_AT_LEAST_MS = REFUSAL_HOLD_MS - 2;

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number; at: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started, at: performance.now() };
}

function limitOf(response: GraphQLResponse): unknown {
  return response.errors?.[0]?.extensions?.limit;
}

describe('RefusalAllowance', () => {
  it(`answers ${REFUSAL_BURST} refusals at once, then holds the next for ${REFUSAL_HOLD_MS} ms`, () => {
    const allowance = new RefusalAllowance();
    const delays = Array.from({ length: REFUSAL_BURST + 1 }, () => allowance.refused('bomber', 0));
    expect(delays.slice(0, REFUSAL_BURST).every((d) => d === 0)).toBe(true);
    expect(delays[REFUSAL_BURST]).toBe(REFUSAL_HOLD_MS);
    expect(allowance.refused('someone else', 0)).toBe(0);
  });

  it(`gives back ${REFUSALS_PER_SECOND} refusals a second, up to ${REFUSAL_BURST}`, () => {
    const allowance = new RefusalAllowance();
    for (let i = 0; i < REFUSAL_BURST; i++) allowance.refused('bomber', 0);
    const oneBack = 1000 / REFUSALS_PER_SECOND;
    expect(allowance.refused('bomber', oneBack - 1)).toBe(REFUSAL_HOLD_MS);
    expect(allowance.refused('bomber', oneBack + 1)).toBe(0);
    expect(allowance.refused('bomber', oneBack + 2)).toBe(REFUSAL_HOLD_MS);
    // Long idle: the whole burst again, and no more.
    const later = 3600 * 1000;
    const delays = Array.from({ length: REFUSAL_BURST + 1 }, () => allowance.refused('bomber', later));
    expect(delays.filter((d) => d === 0)).toHaveLength(REFUSAL_BURST);
  });
});

/**
 * More refusals at once than the burst: the allowance comes back at
 * REFUSALS_PER_SECOND while they are sent, so how many are held depends on
 * the machine's speed, but each answer is either at once or held, and with
 * EXTRA more than the burst some are held unless sending took seconds.
 */
const EXTRA = 40;

describe('refused operations beyond the allowance', () => {
  const s = useTestSluice();

  it('are answered the same, after the hold, while good operations of the same token and refusals of another are answered at once', async () => {
    const bomber = await s.token('MONITOR');
    const other = await s.token('MONITOR');
    const first = await s.gql(BOMB, {}, bomber);
    expect(limitOf(first)).toBe('aliases');
    const heldBefore = await heldCount(s.url);
    const refusals = Promise.all(Array.from({ length: REFUSAL_BURST + EXTRA }, () => timed(() => s.gql(BOMB, {}, bomber))));
    const good = await timed(() => s.gql(`{ viewer { role } }`, {}, bomber));
    const otherRefused = await timed(() => s.gql(BOMB, {}, other));
    const answers = await refusals;
    const held = answers.filter((a) => a.ms >= HELD_AT_LEAST_MS);
    const atOnce = answers.filter((a) => a.ms < REFUSAL_HOLD_MS / 2);
    expect(answers.every((a) => a.result.status === first.status && JSON.stringify(a.result.errors) === JSON.stringify(first.errors))).toBe(true);
    expect({ atOnce: atOnce.length >= REFUSAL_BURST - 1, held: held.length > 0, eitherOr: atOnce.length + held.length }).toEqual({
      atOnce: true,
      held: true,
      eitherOr: answers.length,
    });
    expect((await heldCount(s.url)) - heldBefore).toBe(held.length);
    const lastHeldAt = Math.max(...held.map((a) => a.at));
    expect(good.result.data).toEqual({ viewer: { role: 'MONITOR' } });
    expect(good.at).toBeLessThan(lastHeldAt);
    expect(limitOf(otherRefused.result)).toBe('aliases');
    expect(otherRefused.at).toBeLessThan(lastHeldAt);
  });

  it('count graphql-js refusals too (a validation error), and hold them over WebSocket as over HTTP', async () => {
    const bomber = await s.token('MONITOR');
    const invalid = `{ noSuchField }`;
    const refusals = await Promise.all(Array.from({ length: REFUSAL_BURST + EXTRA }, () => timed(() => s.gql(invalid, {}, bomber))));
    expect(refusals.every((r) => r.result.status === 400 && r.result.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
    expect(refusals.some((r) => r.ms >= HELD_AT_LEAST_MS)).toBe(true);

    const { client } = openSocket(s.url, bomber);
    try {
      const refusedOverSocket = (): Promise<unknown> =>
        new Promise((resolve) => {
          client.subscribe({ query: BOMB }, { next: () => undefined, error: (errors) => resolve(errors), complete: () => resolve(null) });
        });
      const overSocket = await Promise.all(Array.from({ length: EXTRA }, () => timed(refusedOverSocket)));
      const limits = new Set(overSocket.map((a) => (a.result as { extensions?: { limit?: unknown } }[] | null)?.[0]?.extensions?.limit));
      expect({ limits: [...limits], held: overSocket.some((a) => a.ms >= HELD_AT_LEAST_MS) }).toEqual({ limits: ['aliases'], held: true });
    } finally {
      await client.dispose();
    }
  });
});

async function heldCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_graphql_refusals_held_total '));
  return line ? Number(line.split(' ')[1]) : 0;
}
