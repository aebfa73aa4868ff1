import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { JobErrorRow, JobRow } from '../../database/entities';
import { JobStatus } from '../common/enums';
import { DateTimeScalar, JSONScalar } from '../common/scalars';
import { Flow, Step } from '../flow/flow.type';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType({ ...PLAIN_FIELDS, description: 'One run of a flow.' })
export class Job {
  @Field(() => ID) id!: string;
  @Field(() => JobStatus) status!: JobStatus;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) startedAt!: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) finishedAt!: Date | null;
  @Field(() => Int, { description: 'Records read by the source step.' }) recordsExported!: number;
  @Field(() => Int, { description: 'Records that passed every step.' }) recordsSucceeded!: number;
  @Field(() => Int, { description: 'Records that stopped at a step with an error.' }) recordsFailed!: number;

  flowId!: string;

  static from(row: JobRow): Job {
    return Object.assign(new Job(), {
      id: row.id,
      status: row.status as JobStatus,
      createdAt: row.createdAt,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      recordsExported: row.recordsExported,
      recordsSucceeded: row.recordsSucceeded,
      recordsFailed: row.recordsFailed,
      flowId: row.flowId,
    });
  }
}

@ObjectType(PLAIN_FIELDS)
export class JobError {
  @Field(() => ID) id!: string;
  @Field() message!: string;
  @Field({ description: 'e.g. HTTP_404, TIMEOUT, RATE_LIMITED, INVALID_RECORD' }) code!: string;
  @Field(() => JSONScalar, { nullable: true }) record!: unknown;
  @Field(() => DateTimeScalar) occurredAt!: Date;

  stepId!: string | null;

  static from(row: JobErrorRow): JobError {
    return Object.assign(new JobError(), {
      id: row.id,
      message: row.message,
      code: row.code,
      record: row.record,
      occurredAt: row.occurredAt,
      stepId: row.stepId,
    });
  }
}

@ObjectType(PLAIN_FIELDS)
export class ReplaceConnectionPayload {
  @Field(() => Flow) flow!: Flow;
  @Field(() => [Step], { description: 'Steps of the flow that now use the new connection.' }) replacedSteps!: Step[];
  @Field(() => [Job], { description: 'Jobs of the flow that were queued or running and are now CANCELED.' }) canceledJobs!: Job[];
}
