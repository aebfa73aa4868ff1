/**
 * What a queue message asks for: one request through one connection. The
 * payload says which call; the row (sql/claimMessages.ts) says for which job
 * and step, how often it was tried and under which lease.
 */
import type { JsonRecord } from '../connectors/sdk';

export type MessagePayload =
  /** One page of an EXPORT; `cursor` is null for the first page. */
  | { kind: 'page'; cursor: unknown }
  /** The whole file of a DOWNLOAD. */
  | { kind: 'download' }
  /** One record for a LOOKUP or IMPORT step (an IMPORT with batchSize > 1 gets several). */
  | { kind: 'records'; records: JsonRecord[] };

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
