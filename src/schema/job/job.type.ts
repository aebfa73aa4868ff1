import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { JobRow } from '../../database/entities';
import { JobStatus } from '../common/enums';
import { DateTimeScalar } from '../common/scalars';
import { Flow, Step } from '../flow/flow.type';
import { PLAIN_FIELDS } from '../common/plainFields';

export { JobError } from '../jobError/jobError.type';

@ObjectType({ ...PLAIN_FIELDS, description: 'One run of a flow.' })
export class Job {
  @Field(() => ID) id!: string;
  @Field(() => JobStatus) status!: JobStatus;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) startedAt!: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) finishedAt!: Date | null;
  @Field(() => Int, { description: 'Records read by the source step.' }) recordsExported!: number;
  @Field(() => Int, { description: 'Records that passed every step.' }) recordsSucceeded!: number;
  @Field(() => Int, {
    description:
      'Records that stopped at a step with an error (OPEN or RESOLVED). A job whose source step finished is COMPLETED even when some ' +
      'records failed; FAILED means the source step itself failed for good. A retried record leaves this count and counts again by ' +
      'its new outcome; a finished job always has recordsExported = recordsSucceeded + recordsFailed.',
  })
  recordsFailed!: number;
  @Field(() => Int) openErrorCount!: number;

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
      openErrorCount: row.openErrorCount,
      flowId: row.flowId,
    });
  }
}

@ObjectType(PLAIN_FIELDS)
export class ReplaceConnectionPayload {
  @Field(() => Flow) flow!: Flow;
  @Field(() => [Step], { description: 'Steps of the flow that now use the new connection.' }) replacedSteps!: Step[];
  @Field(() => [Job], { description: 'Jobs of the flow that were queued or running and are now CANCELED.' }) canceledJobs!: Job[];
}
