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
 *
 * A refusal of steps 1–4 that the text alone decides is remembered by the
 * text's hash (refusalMemory.ts): the same bomb again is refused without
 * lexing or parsing it, with the same errors, in the same order of checks
 * (a remembered limits refusal is given only once the variables pass).
 */
import { GraphQLError, Kind, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { sourceRefusal, variablesRefusal } from './badInput';
import type { CostBudget } from './costBudget';
import type { ListSizeReader } from './listSizes';
import { estimateCost } from './queryCost';
import { isTokenLimitError, limitRefusals, PARSE_OPTIONS, tokenLimitError } from './requestLimits';
import { RefusalMemory, sameSizes, textKey, type RememberedRefusal } from './refusalMemory';

export interface Operation {
  query: string;
  variables: unknown;
  operationName: string | undefined;
}

export type Admission =
  /** `document` is null when it does not parse: graphql-js's syntax error is for the caller to report. `giveBack` ends its share of the budget. */
  | { kind: 'admitted'; document: DocumentNode | null; giveBack: () => void }
  /** `remembered`: the same text was refused before, and its refusal was recalled without checking it again. */
  | { kind: 'refused'; errors: readonly GraphQLError[]; remembered: boolean };

const nothingToGive = (): void => undefined;

function refusedNow(error: GraphQLError): Admission {
  return { kind: 'refused', errors: [error], remembered: false };
}

function recalled(refusal: RememberedRefusal): Admission {
  return { kind: 'refused', errors: refusal.errors, remembered: true };
}

/** The metric's reason for a refusal: the limit it names, else its code (bad_user_input, server_busy). */
export function refusalReason(errors: readonly GraphQLError[]): string {
  const first = errors[0]?.extensions;
  return String(first?.limit ?? first?.code ?? 'unknown').toLowerCase();
}

/** Whether no operation of the document declares a variable: its cost then depends on the text, the operationName and the list sizes only. */
function declaresNoVariables(document: DocumentNode): boolean {
  return document.definitions.every((d) => d.kind !== Kind.OPERATION_DEFINITION || (d.variableDefinitions?.length ?? 0) === 0);
}

export class OperationGate {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly listSizes: ListSizeReader,
    private readonly budget: CostBudget,
    readonly refusals: RefusalMemory = new RefusalMemory(),
  ) {}

  async admit({ query, variables, operationName }: Operation): Promise<Admission> {
    const key = textKey(query);
    const remembered = this.refusals.recall(key);
    if (remembered?.kind === 'source') return recalled(remembered);
    if (!remembered) {
      const badSource = sourceRefusal(query);
      if (badSource) return this.refuse(key, { kind: 'source', errors: [badSource] });
    }
    const badVariables = variablesRefusal(variables);
    if (badVariables) return refusedNow(badVariables);
    if (remembered?.kind === 'limits') return recalled(remembered);
    const sizes = remembered?.kind === 'cost' ? await this.listSizes.current() : null;
    if (remembered?.kind === 'cost' && sizes && remembered.operationName === operationName && sameSizes(remembered.sizes, sizes)) {
      return recalled(remembered);
    }
    let document: DocumentNode;
    try {
      document = parse(query, PARSE_OPTIONS);
    } catch (error) {
      if (isTokenLimitError(error as Error)) return this.refuse(key, { kind: 'limits', errors: [tokenLimitError()] });
      return { kind: 'admitted', document: null, giveBack: nothingToGive };
    }
    const overLimits = limitRefusals(this.schema, document);
    if (overLimits.length > 0) return this.refuse(key, { kind: 'limits', errors: overLimits });
    const sizesNow = sizes ?? (await this.listSizes.current());
    const estimate = estimateCost(
      { schema: this.schema, document, variables: typeof variables === 'object' && variables !== null ? (variables as Record<string, unknown>) : undefined, operationName },
      sizesNow,
    );
    if (estimate.kind === 'refused') {
      if (declaresNoVariables(document)) return this.refuse(key, { kind: 'cost', operationName, sizes: sizesNow, errors: [estimate.error] });
      return refusedNow(estimate.error);
    }
    // Affordable now (fewer rows than when it was refused, or another operation named): no longer a refusal to recall.
    if (remembered) this.refusals.forget(key);
    try {
      return { kind: 'admitted', document, giveBack: await this.budget.take(estimate.cost) };
    } catch (busy) {
      if (busy instanceof GraphQLError) return refusedNow(busy);
      throw busy;
    }
  }

  private refuse(key: string, refusal: RememberedRefusal): Admission {
    this.refusals.remember(key, refusal);
    return { kind: 'refused', errors: refusal.errors, remembered: false };
  }
}
