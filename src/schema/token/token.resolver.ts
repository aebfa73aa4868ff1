import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../common/context';
import { unauthenticated } from '../common/errors';
import { Role } from '../common/enums';
import { ApiToken, CreatedApiToken, Limits, Viewer } from './token.type';

@Resolver()
export class TokenResolver {
  @Query(() => Viewer)
  viewer(@Ctx() ctx: RequestContext): Viewer {
    if (!ctx.viewer) throw unauthenticated();
    return Object.assign(new Viewer(), { role: ctx.viewer.role as Role, tokenName: ctx.viewer.tokenName });
  }

  @Query(() => Limits)
  limits(@Ctx() ctx: RequestContext): Limits {
    return Object.assign(new Limits(), { maxConcurrencyLevel: ctx.services.maxConcurrencyLevel });
  }

  @Authorized('ADMINISTER')
  @Query(() => [ApiToken])
  async apiTokens(@Ctx() ctx: RequestContext): Promise<ApiToken[]> {
    return (await ctx.services.tokens.list()).map(ApiToken.from);
  }

  @Authorized('ADMINISTER')
  @Mutation(() => CreatedApiToken)
  async createApiToken(
    @Arg('name') name: string,
    @Arg('role', () => Role) role: Role,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatedApiToken> {
    const { token, secret } = await ctx.services.tokens.create(name, role);
    return Object.assign(new CreatedApiToken(), { token: ApiToken.from(token), secret });
  }

  @Authorized('ADMINISTER')
  @Mutation(() => Boolean)
  revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.tokens.revoke(id);
  }
}
