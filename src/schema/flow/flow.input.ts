import { Field, ID, InputType } from 'type-graphql';
import { StepKind } from '../common/enums';
import { JSONScalar } from '../common/scalars';

@InputType()
export class StepInput {
  @Field() name!: string;
  @Field(() => StepKind) kind!: StepKind;
  @Field(() => ID) connectionId!: string;
  @Field(() => JSONScalar, { nullable: true }) config?: unknown;
}

@InputType()
export class CreateFlowInput {
  @Field() name!: string;
  @Field(() => [StepInput], { nullable: true }) steps?: StepInput[] | null;
}

@InputType()
export class UpdateFlowInput {
  @Field(() => String, { nullable: true }) name?: string | null;
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateStepInput {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => ID, { nullable: true }) connectionId?: string | null;
  @Field(() => JSONScalar, { nullable: true }) config?: unknown;
}
