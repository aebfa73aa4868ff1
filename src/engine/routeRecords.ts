/**
 * Where records go after a step: one message per record for the next step
 * (per batch of `batchSize` when the next step is a batched IMPORT), or, after
 * the last step, into the job's succeeded count.
 */
import type { JsonRecord } from '../connectors/sdk';
import type { NewMessage } from './message';
import type { PlannedStep } from './store';

export interface Routed {
  followUps: NewMessage[];
  succeeded: number;
}

export function routeRecords(plan: PlannedStep[], from: PlannedStep, jobId: string, records: JsonRecord[]): Routed {
  const next = plan[from.position + 1];
  if (!next) return { followUps: [], succeeded: records.length };
  const batchSize = next.kind === 'IMPORT' ? Math.max(1, Number(next.config.batchSize ?? 1)) : 1;
  const followUps: NewMessage[] = [];
  for (let i = 0; i < records.length; i += batchSize) {
    followUps.push({
      connectionId: next.connectionId,
      jobId,
      stepId: next.id,
      payload: { kind: 'records', records: records.slice(i, i + batchSize) },
    });
  }
  return { followUps, succeeded: 0 };
}
