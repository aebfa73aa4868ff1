/**
 * Bounds on what one GraphQL request may ask for, so that one request cannot
 * exhaust the server: a nesting depth (validation rule) and a count of
 * selected fields, aliases and fragments expanded (checked per operation).
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from 'graphql';

export const MAX_DEPTH = 10;
export const MAX_FIELDS = 1000;

interface Walk {
  fields: number;
}

function measure(
  set: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  depth: number,
  walk: Walk,
  visiting: Set<string>,
): number {
  let deepest = depth;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      walk.fields++;
      if (selection.selectionSet) deepest = Math.max(deepest, measure(selection.selectionSet, fragments, depth + 1, walk, visiting));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, measure(selection.selectionSet, fragments, depth, walk, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      // A fragment cycle is reported by graphql's own NoFragmentCycles rule.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      deepest = Math.max(deepest, measure(fragment.selectionSet, fragments, depth, walk, visiting));
      visiting.delete(name);
    }
    if (walk.fields > MAX_FIELDS) return deepest;
  }
  return deepest;
}

/** A validation rule: refuses operations nested deeper than MAX_DEPTH or selecting more than MAX_FIELDS fields. */
export function requestSizeRule(context: ValidationContext): ASTVisitor {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of context.getDocument().definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  }
  return {
    OperationDefinition(node) {
      const walk: Walk = { fields: 0 };
      const depth = measure(node.selectionSet, fragments, 1, walk, new Set());
      if (depth > MAX_DEPTH) {
        context.reportError(new GraphQLError(`the operation is nested ${depth} levels deep; at most ${MAX_DEPTH} are allowed`, { nodes: [node] }));
      }
      if (walk.fields > MAX_FIELDS) {
        context.reportError(new GraphQLError(`the operation selects more than ${MAX_FIELDS} fields`, { nodes: [node] }));
      }
    },
  };
}
