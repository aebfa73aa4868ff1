import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A record that stopped at a step, kept with the reason: nothing is dropped silently. */
@Entity('job_error')
export class JobErrorRow {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'job_id' }) jobId!: string;
  @Column('uuid', { name: 'step_id', nullable: true }) stepId!: string | null;
  @Column('text') message!: string;
  @Column('text') code!: string;
  @Column('jsonb', { nullable: true }) record!: unknown;
  @Column('timestamptz', { name: 'occurred_at' }) occurredAt!: Date;
}
