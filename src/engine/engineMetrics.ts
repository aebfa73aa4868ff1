/**
 * The engine's Prometheus metrics: per queue owner (a connection id: one
 * series per connection that owns a queue), plus jobs by final status and
 * records by outcome (a few fixed values each).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClaimedMessage } from './message';
import type { Outcome } from './outcome';
import { within } from '../deadline';

export interface EngineMetrics {
  started(message: ClaimedMessage): void;
  record(outcome: Outcome): void;
  levelChanged(queueOwnerId: string, reason: string): void;
  jobFinished(status: FinalJobStatus): void;
}

/** How a job this engine finished ended (a cancel ends a job in the API, not here). */
export type FinalJobStatus = 'COMPLETED' | 'FAILED';

/** How long a scrape waits for the queue sizes before it shows the last reading (the database may be away). */
const QUEUED_READ_TIMEOUT_MS = 1000;


export function createEngineMetrics(
  registry: Registry,
  inFlight: () => Map<string, number>,
  queued: () => Promise<Map<string, number>>,
  apiShareBudget: () => number | null = () => null,
): EngineMetrics {
  const labelNames = ['queue_owner'] as const;
  const startedTotal = new Counter({ name: 'sluice_messages_started_total', help: 'Messages claimed and started', labelNames, registers: [registry] });
  const succeeded = new Counter({ name: 'sluice_messages_succeeded_total', help: 'Messages whose call succeeded', labelNames, registers: [registry] });
  const failed = new Counter({ name: 'sluice_messages_failed_total', help: 'Messages that failed for good (kept as JobErrors)', labelNames, registers: [registry] });
  const retried = new Counter({ name: 'sluice_messages_retried_total', help: 'Messages put back for a retry', labelNames: ['queue_owner', 'reason'] as const, registers: [registry] });
  const duration = new Histogram({
    name: 'sluice_call_duration_seconds',
    help: 'Duration of connector calls, claim to outcome',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'sluice_messages_in_flight',
    help: 'Messages this process runs now',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [owner, n] of inFlight()) this.set({ queue_owner: owner }, n);
    },
  });
  const levelChanges = new Counter({
    name: 'sluice_level_adjustments_total',
    help: 'Changes of the level in use by auto-recovery, by reason (rate-limited, recovering)',
    labelNames: ['queue_owner', 'reason'] as const,
    registers: [registry],
  });
  let lastQueued = new Map<string, number>();
  new Gauge({
    name: 'sluice_messages_queued',
    help: 'Messages waiting in each queue (all processes), read at scrape time; the last reading while the database does not answer',
    labelNames,
    registers: [registry],
    async collect() {
      try {
        lastQueued = await within(queued(), QUEUED_READ_TIMEOUT_MS);
      } catch {
        // The database is away: /metrics still answers, with what was last read (sluice_database_up says why).
      }
      this.reset();
      for (const [owner, n] of lastQueued) this.set({ queue_owner: owner }, n);
    },
  });
  const jobsFinished = new Counter({
    name: 'sluice_jobs_finished_total',
    help: 'Jobs this process finished, by final status (COMPLETED, FAILED)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const records = new Counter({
    name: 'sluice_records_total',
    help: 'Records by outcome: exported (read from a source), succeeded (through every step), failed (kept as a JobError)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'sluice_engine_api_share_budget',
    help: "The most calls this process's engine may have in flight across all queues while the API in the same process is slow (+Inf: no bound)",
    registers: [registry],
    collect() {
      this.set(apiShareBudget() ?? Infinity);
    },
  });
  const startedAt = new Map<string, number>();
  return {
    jobFinished(status) {
      jobsFinished.inc({ status });
    },
    levelChanged(queueOwnerId, reason) {
      levelChanges.inc({ queue_owner: queueOwnerId, reason });
    },
    started(message) {
      startedTotal.inc({ queue_owner: message.queueOwnerId });
      startedAt.set(message.id, performance.now());
    },
    record(outcome) {
      const owner = outcome.message.queueOwnerId;
      const began = startedAt.get(outcome.message.id);
      startedAt.delete(outcome.message.id);
      if (began !== undefined) duration.observe({ queue_owner: owner }, (performance.now() - began) / 1000);
      if (outcome.kind === 'retry') retried.inc({ queue_owner: owner, reason: outcome.refund ? 'rate_limited' : 'error' });
      else if (outcome.kind === 'done') {
        (outcome.errors.length > 0 || outcome.delta.sourceFailed ? failed : succeeded).inc({ queue_owner: owner });
        const { delta } = outcome;
        if (delta.exported > 0) records.inc({ outcome: 'exported' }, delta.exported);
        if (delta.succeeded > 0) records.inc({ outcome: 'succeeded' }, delta.succeeded);
        if (delta.failed > 0) records.inc({ outcome: 'failed' }, delta.failed);
      }
    },
  };
}
