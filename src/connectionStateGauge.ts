/**
 * sluice_connection_state{connection, state}: 1 for each connection's own
 * state (ONLINE, OFFLINE or PAUSED) and 0 for the other two, read from the
 * database at scrape time, so every process shows every connection whoever
 * changed it. A borrower shows its own state here (Connection.state also
 * reflects its queue owner's). Bounded labels: three series per connection.
 *
 * The read waits at most READ_TIMEOUT_MS: while the database is away,
 * /metrics still answers, with the last reading (sluice_database_up says why).
 */
import { Gauge, type Registry } from 'prom-client';
import type { ConnectionStateName } from './database/entities';
import { within } from './deadline';

const STATES: readonly ConnectionStateName[] = ['ONLINE', 'OFFLINE', 'PAUSED'];
const READ_TIMEOUT_MS = 1000;

export function registerConnectionStateGauge(registry: Registry, read: () => Promise<Map<string, ConnectionStateName>>): void {
  let last = new Map<string, ConnectionStateName>();
  new Gauge({
    name: 'sluice_connection_state',
    help: "1 for each connection's own state (ONLINE, OFFLINE, PAUSED), 0 for the other two; read at scrape time, the last reading while the database does not answer",
    labelNames: ['connection', 'state'] as const,
    registers: [registry],
    async collect() {
      try {
        last = await within(read(), READ_TIMEOUT_MS);
      } catch {
        // The database is away: keep the last reading.
      }
      // A deleted connection's series go with it.
      this.reset();
      for (const [connection, current] of last) for (const state of STATES) this.set({ connection, state }, state === current ? 1 : 0);
    },
  });
}
