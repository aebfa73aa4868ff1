import { Column, Entity, PrimaryColumn } from 'typeorm';

export type JobErrorStateName = 'OPEN' | 'RETRIED' | 'RESOLVED';

/**
 * A record (or a source's page) that stopped at a step, kept with the reason
 * and what a retry needs: nothing is dropped silently. Columns:
 * migrations/1765500000000-FailedRecords.ts.
 */
@Entity('job_error')
export class JobErrorRow {
  @PrimaryColumn('uuid') id!: string;
  /** Kept order: paging and occurrence order read it (bigint, as a string). */
  @Column({ type: 'bigint', insert: false, update: false }) seq!: string;
  @Column('uuid', { name: 'job_id' }) jobId!: string;
  @Column('uuid', { name: 'flow_id' }) flowId!: string;
  @Column('uuid', { name: 'step_id', nullable: true }) stepId!: string | null;
  @Column('uuid', { name: 'connection_id', nullable: true }) connectionId!: string | null;
  @Column('text') message!: string;
  @Column('text') code!: string;
  @Column('jsonb', { nullable: true }) record!: unknown;
  @Column('timestamptz', { name: 'occurred_at' }) occurredAt!: Date;
  @Column('text') state!: JobErrorStateName;
  @Column('int') attempts!: number;
  @Column('timestamptz', { name: 'closed_at', nullable: true }) closedAt!: Date | null;
  /** The name of the token that retried or resolved it. */
  @Column('text', { name: 'closed_by', nullable: true }) closedBy!: string | null;
  @Column('uuid', { name: 'retry_of', nullable: true }) retryOf!: string | null;
  /** The key a retry carries again; null when the record must go with a new one. */
  @Column('uuid', { name: 'idempotency_key', nullable: true }) idempotencyKey!: string | null;
}
