import { Field, ID, InputType, Int } from 'type-graphql';
import { JSONScalar } from '../common/scalars';

@InputType()
export class RateLimitInput {
  @Field(() => Int) requests!: number;
  @Field(() => Int) perMilliseconds!: number;
}

@InputType()
export class CreateConnectionInput {
  @Field() name!: string;
  @Field() connectorType!: string;
  @Field(() => JSONScalar, { nullable: true }) config?: unknown;
  @Field(() => JSONScalar, { nullable: true }) credentials?: unknown;
  @Field(() => Int, {
    nullable: true,
    description: 'With auto-recovery on, the target level (null: maxConcurrencyLevel); with it off, the fixed level (null: burst mode).',
  })
  concurrencyLevel?: number | null;
  @Field(() => Boolean, { nullable: true, description: 'Default true.' }) autoRecoverRateLimitErrors?: boolean | null;
  @Field(() => RateLimitInput, { nullable: true }) rateLimit?: RateLimitInput | null;
  @Field(() => ID, { nullable: true }) borrowConcurrencyFromId?: string | null;
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateConnectionInput {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => JSONScalar, { nullable: true }) config?: unknown;
  @Field(() => JSONScalar, { nullable: true, description: 'Replaces the stored credentials (null removes them).' }) credentials?: unknown;
}

@InputType({ description: 'Sets the whole concurrency policy of a connection at once.' })
export class SetConcurrencyInput {
  @Field(() => ID) connectionId!: string;
  @Field(() => Int, { nullable: true }) level?: number | null;
  @Field() autoRecoverRateLimitErrors!: boolean;
  @Field(() => RateLimitInput, { nullable: true, description: 'null removes the rate limit.' }) rateLimit?: RateLimitInput | null;
}
