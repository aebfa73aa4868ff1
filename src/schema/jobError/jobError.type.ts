import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { JobErrorRow } from '../../database/entities';
import { JobErrorState } from '../common/enums';
import { DateTimeScalar, JSONScalar } from '../common/scalars';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType(PLAIN_FIELDS)
export class JobError {
  @Field(() => ID) id!: string;
  @Field() message!: string;
  @Field({ description: 'e.g. HTTP_404, TIMEOUT, RATE_LIMITED, INVALID_RECORD' }) code!: string;
  @Field(() => JSONScalar, { nullable: true, description: 'The record as it reached the failed step (lookups before it merged in).' })
  record!: unknown;
  @Field(() => DateTimeScalar) occurredAt!: Date;
  @Field(() => JobErrorState) state!: JobErrorState;
  @Field(() => Int, { description: 'Calls made for the record at its step, the failing one included.' }) attempts!: number;
  @Field(() => DateTimeScalar, { nullable: true, description: 'When, and by which token (its name), it was retried or resolved.' })
  closedAt!: Date | null;
  @Field(() => String, { nullable: true }) closedBy!: string | null;

  jobId!: string;
  stepId!: string | null;
  retryOfId!: string | null;

  static from(row: JobErrorRow): JobError {
    return Object.assign(new JobError(), {
      id: row.id,
      message: row.message,
      code: row.code,
      record: row.record,
      occurredAt: row.occurredAt,
      state: row.state as JobErrorState,
      attempts: row.attempts,
      closedAt: row.closedAt,
      closedBy: row.closedBy,
      jobId: row.jobId,
      stepId: row.stepId,
      retryOfId: row.retryOf,
    });
  }
}
