/**
 * The estimated cost of an operation, counting list sizes, with
 * graphql-query-complexity: every field costs 1, and a list field's
 * selections cost as many times over as the list is long:
 *
 *   cost(field) = 1 + size(field) × cost(its selections)   (size 1 for a non-list)
 *
 * A list's size is its `first` argument when it has one (the value given,
 * or its default: `jobs` 50, `Flow.jobs` 20, `Job.errors` 50; a value above
 * MAX_PAGE counts as MAX_PAGE, and the resolver refuses it), else the real
 * figure (listSizes.ts): `connections` and `flows` without `first` count
 * every row, `Flow.steps` the longest flow, and so on. Lists of neither kind
 * (`connectors`, `supportedStepKinds`, a mutation's payload lists) count
 * OTHER_LIST_SIZE.
 *
 * So `{ connections { id name queueSize } }` over 1,000 connections costs
 * 1 + 1,000 × 3 = 3,001, and 38 aliases of
 * `connections { flows { steps { connection { id } } } }` over 1,000
 * connections cost millions: refused above MAX_COST before anything runs.
 */
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { GraphQLError, isListType, isNonNullType, type DocumentNode, type GraphQLOutputType, type GraphQLSchema } from 'graphql';
import type { ListSizes } from './listSizes';
import { limitError } from './requestLimits';
import { MAX_PAGE } from '../schema/common/paging';

export const MAX_COST = 10000;
/** The size counted for a list that has no `first` and no figure in ListSizes. */
export const OTHER_LIST_SIZE = 20;
/** graphql-query-complexity's own bound on the selections it visits (fragments expanded where spread). */
const MAX_VISITED_NODES = 10000;

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/** The real sizes of the unpaged lists, by `Type.field`. */
function measuredSize(coordinate: string, sizes: ListSizes): number | undefined {
  switch (coordinate) {
    case 'Query.connections':
      return sizes.connections;
    case 'Query.flows':
      return sizes.flows;
    case 'Query.apiTokens':
      return sizes.apiTokens;
    case 'Flow.steps':
    case 'Flow.connections':
    case 'ReplaceConnectionPayload.replacedSteps':
      return sizes.stepsPerFlow;
    case 'Connection.steps':
      return sizes.stepsPerConnection;
    case 'Connection.flows':
      return sizes.flowsPerConnection;
    case 'Connection.borrowers':
      return sizes.borrowersPerConnection;
    default:
      return undefined;
  }
}

function listSizeEstimator(sizes: ListSizes): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    // Introspection (`__schema`, `__type`) reads the schema in memory, whose size is fixed: one field, whatever it selects.
    if (field.name.startsWith('__')) return 1;
    if (!isList(field.type)) return 1 + childComplexity;
    const first: unknown = args.first;
    // A `first` outside 0..MAX_PAGE is the resolver's BAD_USER_INPUT to give, not a cost to refuse.
    const size =
      typeof first === 'number' ? Math.min(Math.max(first, 0), MAX_PAGE) : (measuredSize(`${type.name}.${field.name}`, sizes) ?? OTHER_LIST_SIZE);
    // A list of scalars or enums costs its length; at least 1, so that an empty table does not make nested selections free.
    const each = Math.max(childComplexity, 1);
    return 1 + Math.max(size, 1) * each;
  };
}

export interface CostInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}

/** An operation's estimate: within MAX_COST (its cost, 0 when its variables do not fit: execution refuses them), or refused. */
export type CostEstimate = { kind: 'within'; cost: number } | { kind: 'refused'; error: GraphQLError };

export function estimateCost({ schema, document, variables, operationName }: CostInput, sizes: ListSizes): CostEstimate {
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName,
      estimators: [listSizeEstimator(sizes)],
      maxQueryNodes: MAX_VISITED_NODES,
    });
  } catch (error) {
    if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) {
      return {
        kind: 'refused',
        error: limitError('cost', `cost limit: the operation expands to more than ${MAX_VISITED_NODES} selections; at most ${MAX_COST} of cost are allowed`),
      };
    }
    return { kind: 'within', cost: 0 };
  }
  if (cost <= MAX_COST) return { kind: 'within', cost };
  return {
    kind: 'refused',
    error: limitError(
      'cost',
      `cost limit: the operation's estimated cost is ${cost} (every field 1, a list's selections times its size: \`first\`, or the rows there are); at most ${MAX_COST} are allowed. Ask for fewer fields or page with \`first\``,
    ),
  };
}
