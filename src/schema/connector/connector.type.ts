import { Field, ObjectType } from 'type-graphql';
import { StepKind } from '../common/enums';
import { JSONScalar } from '../common/scalars';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType({ ...PLAIN_FIELDS, description: 'An installed connector plugin.' })
export class Connector {
  @Field({ description: 'Unique plugin id, e.g. "http".' }) type!: string;
  @Field() displayName!: string;
  @Field() version!: string;
  @Field(() => [StepKind]) supportedStepKinds!: StepKind[];
  @Field(() => JSONScalar, { nullable: true }) configSchema!: unknown;
  @Field(() => JSONScalar, { nullable: true }) credentialsSchema!: unknown;
}
