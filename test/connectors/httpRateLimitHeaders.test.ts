import { exhaustedForMs, retryAfterMs } from '../../src/connectors/http/httpCall';

describe('http rate-limit headers', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');

  it('reads Retry-After in seconds, with a fraction, and as an HTTP date', () => {
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs('0.25', now)).toBe(250);
    expect(retryAfterMs('Mon, 23 Nov 2026 10:00:03 GMT', now)).toBe(3000);
    expect(retryAfterMs('Mon, 23 Nov 2026 09:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs(undefined, now)).toBeNull();
    expect(retryAfterMs('soon', now)).toBeNull();
  });

  it('sees a used-up limit in the IETF and the X- headers, reset in seconds or as a Unix time', () => {
    expect(exhaustedForMs({ 'ratelimit-remaining': '0', 'ratelimit-reset': '5' }, now)).toBe(5000);
    expect(exhaustedForMs({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 7) }, now)).toBe(7000);
  });

  it('does nothing while requests remain or when the reset is unreadable', () => {
    expect(exhaustedForMs({ 'ratelimit-remaining': '3', 'ratelimit-reset': '5' }, now)).toBeNull();
    expect(exhaustedForMs({ 'ratelimit-remaining': '0' }, now)).toBeNull();
    expect(exhaustedForMs({}, now)).toBeNull();
  });
});
