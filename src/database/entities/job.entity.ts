import { Column, Entity, PrimaryColumn } from 'typeorm';

export type JobStatusName = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED';
export const ACTIVE_JOB_STATUSES: readonly JobStatusName[] = ['QUEUED', 'RUNNING'];

@Entity('job')
export class JobRow {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'flow_id' }) flowId!: string;
  @Column('text') status!: JobStatusName;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('int', { name: 'records_exported' }) recordsExported!: number;
  @Column('int', { name: 'records_succeeded' }) recordsSucceeded!: number;
  @Column('int', { name: 'records_failed' }) recordsFailed!: number;
  /** The source step failed for good: the job ends FAILED once its in-flight records are done. */
  @Column('boolean', { name: 'source_failed', default: false }) sourceFailed!: boolean;
  /** Its OPEN errors, counted in the transactions that open and close them. */
  @Column('int', { name: 'open_error_count', default: 0 }) openErrorCount!: number;
}
