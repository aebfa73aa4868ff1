/**
 * Every check an authenticated operation goes through before graphql-js
 * validates and runs it, in order of cost, the cheapest first, so that a
 * refused operation costs as little as it can:
 *
 * 1. bad strings and too deep values, from the document's tokens and the
 *    variables (badInput.ts), before anything is parsed;
 * 2. the parse, which stops at MAX_TOKENS;
 * 3. the depth, aliases and directives limits (requestLimits.ts);
 * 4. the estimated cost (queryCost.ts), refused above MAX_COST;
 * 5. the process's cost budget (costBudget.ts): the operation waits for
 *    room, or is refused with SERVER_BUSY.
 *
 * graphql-js's own validation rules come after, in Apollo (HTTP) or in
 * websocket.ts: on the 38-alias bomb they cost more than all of the above,
 * and a refused bomb never reaches them.
 */
import { GraphQLError, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { sourceRefusal, variablesRefusal } from './badInput';
import type { CostBudget } from './costBudget';
import type { ListSizeReader } from './listSizes';
import { estimateCost } from './queryCost';
import { isTokenLimitError, limitRefusals, PARSE_OPTIONS, tokenLimitError } from './requestLimits';

export interface Operation {
  query: string;
  variables: unknown;
  operationName: string | undefined;
}

export type Admission =
  /** `document` is null when it does not parse: graphql-js's syntax error is for the caller to report. `giveBack` ends its share of the budget. */
  | { kind: 'admitted'; document: DocumentNode | null; giveBack: () => void }
  | { kind: 'refused'; errors: readonly GraphQLError[] };

const nothingToGive = (): void => undefined;

export class OperationGate {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly listSizes: ListSizeReader,
    private readonly budget: CostBudget,
  ) {}

  async admit({ query, variables, operationName }: Operation): Promise<Admission> {
    const bad = sourceRefusal(query) ?? variablesRefusal(variables);
    if (bad) return { kind: 'refused', errors: [bad] };
    let document: DocumentNode;
    try {
      document = parse(query, PARSE_OPTIONS);
    } catch (error) {
      if (isTokenLimitError(error as Error)) return { kind: 'refused', errors: [tokenLimitError()] };
      return { kind: 'admitted', document: null, giveBack: nothingToGive };
    }
    const overLimits = limitRefusals(this.schema, document);
    if (overLimits.length > 0) return { kind: 'refused', errors: overLimits };
    const estimate = estimateCost(
      { schema: this.schema, document, variables: typeof variables === 'object' && variables !== null ? (variables as Record<string, unknown>) : undefined, operationName },
      await this.listSizes.current(),
    );
    if (estimate.kind === 'refused') return { kind: 'refused', errors: [estimate.error] };
    try {
      return { kind: 'admitted', document, giveBack: await this.budget.take(estimate.cost) };
    } catch (busy) {
      if (busy instanceof GraphQLError) return { kind: 'refused', errors: [busy] };
      throw busy;
    }
  }
}
