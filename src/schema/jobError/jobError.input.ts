import { Field, ID, InputType } from 'type-graphql';
import { JobErrorState } from '../common/enums';

@InputType({ description: 'Every field narrows the set; none given: every error.' })
export class JobErrorFilter {
  @Field(() => ID, { nullable: true }) flowId?: string | null;
  @Field(() => ID, { nullable: true }) jobId?: string | null;
  @Field(() => ID, { nullable: true }) stepId?: string | null;
  @Field(() => ID, { nullable: true }) connectionId?: string | null;
  @Field(() => JobErrorState, { nullable: true }) state?: JobErrorState | null;
  @Field(() => String, { nullable: true }) code?: string | null;
}
