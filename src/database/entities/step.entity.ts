import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../../json';
import type { StepKindName } from '../../connectors/sdk/stepKind';

/** One step of a flow; positions within a flow are dense, 0-based. */
@Entity('step')
export class StepRow {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'flow_id' }) flowId!: string;
  @Column('text') name!: string;
  @Column('text') kind!: StepKindName;
  @Column('int') position!: number;
  @Column('uuid', { name: 'connection_id' }) connectionId!: string;
  @Column('jsonb') config!: JsonObject;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
