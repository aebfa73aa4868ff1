/**
 * Bounds on what one GraphQL operation may ask for, so that no request,
 * whatever its token's role, costs the server unbounded work (contract:
 * "requests"). Each is checked before anything runs:
 *
 * - tokens: graphql-js's own parser stops at MAX_TOKENS (`parse`'s
 *   `maxTokens`), so a huge document costs at most that much lexing;
 * - depth, aliases, directives: graphql-armor's validation rules
 *   (@escape.tech/graphql-armor-*), introspection exempt from the depth;
 * - estimated cost, counting list sizes: queryCost.ts (graphql-query-complexity).
 *
 * graphql-armor's rules throw their error by default, which graphql-js's
 * `validate` does not catch (Apollo would answer 500); here they report it
 * as a validation error instead, worded to name the limit, and every refusal
 * carries `extensions.limit`. Over HTTP they are GRAPHQL_VALIDATION_FAILED
 * with status 400, as the depth limit always was; over WebSocket the same
 * errors come in the subscription's error message.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Kind,
  TypeInfo,
  ValidationContext,
  type ASTVisitFn,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';

/** Levels of fields; fragments do not count as a level of their own; `__schema` (introspection) is exempt. */
export const MAX_DEPTH = 10;
/** Aliased fields per operation (fragments counted where they are spread); `__typename` is free. */
export const MAX_ALIASES = 15;
/** Directives per operation. */
export const MAX_DIRECTIVES = 50;
/** Lexical tokens per document (names, punctuation, values): the standard introspection query has 163. */
export const MAX_TOKENS = 5000;

/** What each refusal names, in `extensions.limit`. */
export type RequestLimit = 'depth' | 'aliases' | 'directives' | 'tokens' | 'cost';

export const LIMIT_CODE = 'GRAPHQL_VALIDATION_FAILED';

/** A refusal by one of the limits: its code, the limit's name, and 400 over HTTP. */
export function limitError(limit: RequestLimit, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: LIMIT_CODE, limit, http: { status: 400 } } });
}

/** graphql-armor words its errors "Syntax Error: Query depth limit of 10 exceeded, found 15."; the number found is kept. */
function found(armorError: GraphQLError): string {
  return /found (\d+)/.exec(armorError.message)?.[1] ?? 'more';
}

/** Reports (instead of throwing) what an armor rule refused. */
function reportAs(limit: RequestLimit, wording: (count: string) => string) {
  return (context: ValidationContext | null, error: GraphQLError): void => {
    context?.reportError(limitError(limit, wording(found(error))));
  };
}

const armor = { propagateOnRejection: false, exposeLimits: true } as const;

export const requestLimitRules: ValidationRule[] = [
  maxDepthRule({
    ...armor,
    n: MAX_DEPTH,
    ignoreIntrospection: true,
    flattenFragments: true,
    onReject: [reportAs('depth', (n) => `depth limit: the operation is nested ${n} levels deep; at most ${MAX_DEPTH} are allowed`)],
  }),
  maxAliasesRule({
    ...armor,
    n: MAX_ALIASES,
    onReject: [reportAs('aliases', (n) => `aliases limit: the operation has ${n} aliases; at most ${MAX_ALIASES} are allowed`)],
  }),
  maxDirectivesRule({
    ...armor,
    n: MAX_DIRECTIVES,
    onReject: [reportAs('directives', (n) => `directives limit: the operation has ${n} directives; at most ${MAX_DIRECTIVES} are allowed`)],
  }),
];

/** For Apollo's `parseOptions` and graphql-ws's parse: the parser gives up past MAX_TOKENS. */
export const PARSE_OPTIONS: ParseOptions = { maxTokens: MAX_TOKENS };

/** graphql-js words it "Syntax Error: Document contains more that 5000 tokens. Parsing aborted." */
export function isTokenLimitError(error: { message: string }): boolean {
  return /Document contains more th[ae]t \d+ tokens/.test(error.message);
}

export function tokenLimitError(): GraphQLError {
  return limitError('tokens', `tokens limit: the document has more than ${MAX_TOKENS} tokens; at most ${MAX_TOKENS} are allowed`);
}

/**
 * Field suggestions ("Did you mean …?") are left out of validation errors:
 * they map the schema for whoever guesses names. (Only an authenticated
 * caller gets this far, and it may introspect; this is for error trackers
 * and logs more than for secrecy.) Apollo's hideSchemaDetailsFromClientErrors
 * does the same over HTTP, with this very expression.
 */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}

/**
 * The limits alone, on a parsed document: run before graphql-js's own rules,
 * which cost far more on a big document, so that a refused operation costs a
 * lexing, a parse and these walks only. graphql-armor's visitors act on
 * OperationDefinition nodes alone and walk the selections themselves, so
 * they are called on each operation as `visit` would call them, without a
 * walk of the whole document (`validate` with these rules alone took 4.5 ms
 * on the 38-alias bomb under jest, this 0.4 ms).
 */
export function limitRefusals(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  const errors: GraphQLError[] = [];
  const context = new ValidationContext(schema, document, new TypeInfo(schema), (error) => errors.push(error));
  const visitors = requestLimitRules.map((rule) => rule(context) as { OperationDefinition?: ASTVisitFn<OperationDefinitionNode> | { enter?: ASTVisitFn<OperationDefinitionNode> } });
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const visitor of visitors) {
      const on = visitor.OperationDefinition;
      const enter = typeof on === 'function' ? on : on?.enter;
      enter?.call(visitor, definition, undefined, undefined, [], []);
    }
  }
  return errors;
}
