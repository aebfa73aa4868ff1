/**
 * What a queue message asks for: one request through one connection. The
 * payload says which call; the row (sql/claim.ts) says for which job
 * and step, how often it was tried and under which lease.
 */
import type { JsonRecord } from '../connectors/sdk';

export type MessagePayload =
  /** One page of an EXPORT; `cursor` is null for the first page. */
  | { kind: 'page'; cursor: unknown; retry?: RetryOrigin }
  /** The whole file of a DOWNLOAD. */
  | { kind: 'download'; retry?: RetryOrigin }
  /** One record for a LOOKUP or IMPORT step (an IMPORT with batchSize > 1 gets several). */
  | { kind: 'records'; records: JsonRecord[]; retry?: RetryOrigin };

/**
 * A message that sends a failed record (or page) again (retryJobErrors), and
 * the messages its records lead to at the later steps.
 */
export interface RetryOrigin {
  /** The JobError each record (or the page) is a retry of, in record order: a new error names it as retryOf. */
  of: string[];
  /**
   * The first attempt's Idempotency-Key, carried again instead of the
   * message's own: only at the step that failed, and only when the record
   * was not replaced.
   */
  idempotencyKey?: string;
  /**
   * Which retry (one per retryJobErrors transaction): an engine that kept the
   * job's plan since its first run reloads it once per generation, since the
   * flow's steps may have changed after the job finished (engine/jobPlans.ts).
   */
  generation?: string;
}

/** The Idempotency-Key a call of this message carries: the first attempt's, for a retry that may reuse it. */
export function idempotencyKeyOf(message: Pick<ClaimedMessage, 'payload' | 'idempotencyKey'>): string {
  return message.payload.retry?.idempotencyKey ?? message.idempotencyKey;
}

export interface ClaimedMessage {
  id: string;
  queueOwnerId: string;
  connectionId: string;
  jobId: string;
  stepId: string;
  payload: MessagePayload;
  /** Including this one. */
  attempts: number;
  leaseId: string;
  idempotencyKey: string;
}

/** A message to insert: the queue owner is resolved from the connection when it is inserted. */
export interface NewMessage {
  connectionId: string;
  jobId: string;
  stepId: string;
  payload: MessagePayload;
}

export function recordCount(payload: MessagePayload): number {
  return payload.kind === 'records' ? payload.records.length : 0;
}

/** The first message of a job: page one of an EXPORT, or the file of a DOWNLOAD. */
export function firstSourcePayload(kind: string): MessagePayload {
  return kind === 'DOWNLOAD' ? { kind: 'download' } : { kind: 'page', cursor: null };
}
