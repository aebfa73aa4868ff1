/**
 * Prometheus metrics of this process, served at GET /metrics (probes.ts),
 * also while the database is away. The engine adds its own (engine/engineMetrics.ts).
 *
 * Every label has a bounded set of values (README, "Metrics"): routes are
 * the four served paths or `other`, statuses HTTP codes, types and outcomes
 * a handful of words; the engine's `queue_owner` is a connection id, so its
 * series are at most one per connection that owns a queue.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BUILD_INFO } from './buildInfo';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method'>;
  graphqlOperations: Counter<'type' | 'outcome'>;
  /**
   * Changes of connection state made by this process: the engine's (OFFLINE,
   * back ONLINE) and the API's (pauseConnection, resumeConnection). `reason`
   * is one of CONNECTION_STATE_CHANGE_REASONS.
   */
  connectionStateChanges: Counter<'connection' | 'to' | 'reason'>;
  /** Operations refused before or by validation (src/http/operationGate.ts), by what refused them and whether the refusal was remembered. */
  graphqlRefusals: Counter<'reason' | 'remembered'>;
  /** Refused operations whose answer was held (src/http/refusalAllowance.ts). */
  graphqlRefusalsHeld: Counter;
}

/**
 * Why a connection's state changed, as the transitions counter labels it:
 * its application served nobody (network, timeout, 502–504), answered 5xx on
 * consecutive calls, refused its credentials (401), answered a probe, or an
 * operator paused or resumed it.
 */
export const CONNECTION_STATE_CHANGE_REASONS = ['unavailable', 'server-errors', 'unauthorized', 'probe-answered', 'paused', 'resumed'] as const;
export type ConnectionStateChangeReason = (typeof CONNECTION_STATE_CHANGE_REASONS)[number];

/**
 * prom-client's default metrics that are gauges named like counters
 * (promtool: "non-counter metrics should not have _total suffix"); the same
 * numbers are in `sluice_nodejs_active_handles`, `_requests`, `_resources` by type.
 */
const MISNAMED_DEFAULT_METRICS = ['sluice_nodejs_active_handles_total', 'sluice_nodejs_active_requests_total', 'sluice_nodejs_active_resources_total'];

export function createMetrics(databaseAnswers: () => Promise<boolean> = async () => false): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  new Gauge({
    name: 'sluice_build_info',
    help: 'Always 1; the labels say which Sluice version runs on which Node.js',
    labelNames: ['version', 'nodejs_version'] as const,
    registers: [registry],
  }).set({ version: BUILD_INFO.version, nodejs_version: BUILD_INFO.nodeVersion }, 1);
  new Gauge({
    name: 'sluice_database_up',
    help: 'Whether the database answered a SELECT 1 within 2 s at this scrape (1) or not (0, also while a start waits for it)',
    registers: [registry],
    async collect() {
      this.set((await databaseAnswers()) ? 1 : 0);
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'sluice_http_requests_total',
      help: 'HTTP requests served, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'sluice_http_request_duration_seconds',
      help: 'HTTP request duration, by route and method',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    connectionStateChanges: new Counter({
      name: 'sluice_connection_state_changes_total',
      help: 'Changes of connection state made by this process, by connection id, new state and reason',
      labelNames: ['connection', 'to', 'reason'],
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: 'sluice_graphql_operations_total',
      help: 'GraphQL operations executed, by operation type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    graphqlRefusals: new Counter({
      name: 'sluice_graphql_refusals_total',
      help: 'GraphQL operations refused before they ran, by reason (the limit, bad_user_input, server_busy, or invalid: a syntax or validation error) and whether the refusal was remembered from the same text before',
      labelNames: ['reason', 'remembered'],
      registers: [registry],
    }),
    graphqlRefusalsHeld: new Counter({
      name: 'sluice_graphql_refusals_held_total',
      help: "Refused operations whose answer was held back because their token had used up its allowance of refusals",
      registers: [registry],
    }),
  };
}
