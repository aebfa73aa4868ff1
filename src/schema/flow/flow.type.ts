import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { FlowRow, StepRow } from '../../database/entities';
import { StepKind } from '../common/enums';
import { DateTimeScalar, JSONScalar } from '../common/scalars';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType(PLAIN_FIELDS)
export class Flow {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;

  static from(row: FlowRow): Flow {
    return Object.assign(new Flow(), { id: row.id, name: row.name, createdAt: row.createdAt, updatedAt: row.updatedAt });
  }
}

@ObjectType(PLAIN_FIELDS)
export class Step {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => StepKind) kind!: StepKind;
  @Field(() => Int, { description: '0-based position within the flow.' }) position!: number;
  @Field(() => JSONScalar, { description: 'Connector-specific settings for this step.' }) config!: Record<string, unknown>;

  flowId!: string;
  connectionId!: string;

  static from(row: StepRow): Step {
    return Object.assign(new Step(), {
      id: row.id,
      name: row.name,
      kind: row.kind as StepKind,
      position: row.position,
      config: row.config,
      flowId: row.flowId,
      connectionId: row.connectionId,
    });
  }
}
