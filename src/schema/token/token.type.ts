import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { ApiTokenRow } from '../../database/entities';
import { Role } from '../common/enums';
import { DateTimeScalar } from '../common/scalars';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType(PLAIN_FIELDS)
export class ApiToken {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => Role) role!: Role;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) lastUsedAt!: Date | null;

  static from(row: ApiTokenRow): ApiToken {
    return Object.assign(new ApiToken(), {
      id: row.id,
      name: row.name,
      role: row.role as Role,
      createdAt: row.createdAt,
      lastUsedAt: row.lastUsedAt,
    });
  }
}

@ObjectType(PLAIN_FIELDS)
export class CreatedApiToken {
  @Field(() => ApiToken) token!: ApiToken;
  @Field({ description: 'The bearer secret, shown once.' }) secret!: string;
}

@ObjectType(PLAIN_FIELDS)
export class Viewer {
  @Field(() => Role) role!: Role;
  @Field() tokenName!: string;
}

@ObjectType(PLAIN_FIELDS)
export class Limits {
  @Field(() => Int, { description: 'The highest concurrency level a connection may be given.' }) maxConcurrencyLevel!: number;
}
