/** pauseConnection, resumeConnection and Connection's state fields, for the tests of connection state. */
import type { GraphQLClient } from '../support/flows';
import type { GraphQLResponse, TestSluice } from '../support/sluice';

export type StateName = 'ONLINE' | 'OFFLINE' | 'PAUSED';

export interface ConnectionStateView {
  id: string;
  state: StateName;
  stateChangedAt: string;
  stateReason: string | null;
  nextProbeAt: string | null;
}

const STATE_FIELDS = 'id state stateChangedAt stateReason nextProbeAt';

export const PAUSE = `mutation($id: ID!, $reason: String) { pauseConnection(id: $id, reason: $reason) { ${STATE_FIELDS} } }`;
export const RESUME = `mutation($id: ID!) { resumeConnection(id: $id) { ${STATE_FIELDS} } }`;

export async function pause(s: GraphQLClient, id: string, reason?: string): Promise<ConnectionStateView> {
  return (await s.ok<{ pauseConnection: ConnectionStateView }>(PAUSE, { id, reason })).pauseConnection;
}

export async function resume(s: GraphQLClient, id: string): Promise<ConnectionStateView> {
  return (await s.ok<{ resumeConnection: ConnectionStateView }>(RESUME, { id })).resumeConnection;
}

export async function stateOf(s: GraphQLClient, id: string): Promise<ConnectionStateView> {
  return (await s.ok<{ connection: ConnectionStateView }>(`query($id: ID!) { connection(id: $id) { ${STATE_FIELDS} } }`, { id })).connection;
}

/** Every connection's state fields, as one `connections` list reads them. */
export async function statesOfAll(s: GraphQLClient): Promise<Map<string, ConnectionStateView>> {
  const { connections } = await s.ok<{ connections: ConnectionStateView[] }>(`{ connections { ${STATE_FIELDS} } }`);
  return new Map(connections.map((c) => [c.id, c]));
}

/**
 * How long a test watches for calls that must not come. That nothing
 * happens cannot be awaited as a condition: this is the window in which a
 * held queue would have shown a call (the queues here answer within 50 ms
 * and are claimed on every NOTIFY and every few hundred ms).
 */
export const QUIET_MS = 1500;

export function watchFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Puts a connection OFFLINE as the engine's outage detector would (this suite tests the API, not the detector). */
export async function takeOffline(s: TestSluice, id: string, reason: string, nextProbeInMs: number): Promise<void> {
  await s.sluice.dataSource.query(
    `UPDATE connection SET state = 'OFFLINE', state_reason = $2, state_changed_at = now(),
                           next_probe_at = now() + make_interval(secs => $3::float8 / 1000), probe_backoff_ms = 60000
      WHERE id = $1`,
    [id, reason, nextProbeInMs],
  );
}

export function codes(response: GraphQLResponse): (string | undefined)[] {
  return (response.errors ?? []).map((e) => e.extensions?.code);
}
