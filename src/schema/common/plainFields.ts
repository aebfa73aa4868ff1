/**
 * Options every Sluice object type is declared with. Its fields without a
 * resolver of their own are plain properties, read by graphql-js's default
 * resolver: type-graphql would otherwise wrap each in a resolver that runs
 * its (empty) middleware chain, a closure and an object per field of every
 * row of every response. Fields that need auth or middleware have resolvers
 * (`@FieldResolver`), which this does not touch; the served schema is the same.
 */
export const PLAIN_FIELDS = { simpleResolvers: true } as const;
