/**
 * Input that nothing in Sluice can store or should walk, refused as
 * BAD_USER_INPUT before the document is parsed and before anything runs
 * (a refused mutation changes nothing):
 *
 * - a string (value or object key) holding NUL (U+0000), which PostgreSQL's
 *   text and jsonb cannot hold, or an unpaired surrogate (U+D800–U+DFFF
 *   alone), which is not Unicode text and would be stored as U+FFFD;
 * - a value (JSON in a variable, or a literal in the document) nested deeper
 *   than MAX_JSON_DEPTH levels of lists and objects: recursive code
 *   (graphql-js's parser, JSON Schema validation, jsonb) runs out of stack
 *   somewhere past a few thousand levels.
 *
 * Both walks are iterative (no recursion), over a document lexed at most
 * MAX_TOKENS tokens far (the parser refuses longer ones anyway), and over
 * variables the 1 MB body limit already bounds. Messages name where the
 * problem is, never the value (it may be a credential).
 */
import { GraphQLError, Lexer, Source, TokenKind } from 'graphql';
import { limitError, MAX_DEPTH, MAX_TOKENS } from './requestLimits';

export const MAX_JSON_DEPTH = 64;
/**
 * Braces and brackets nested outside values are selection sets: past this
 * many the depth limit refuses the operation anyway, and refusing it before
 * the parse keeps graphql-js's recursive parser within its stack.
 */
const MAX_SELECTION_NESTING = 4 * MAX_DEPTH;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/** What is wrong with a string, or null. */
function stringProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'a NUL character (U+0000)';
  if (UNPAIRED_SURROGATE.test(value)) return 'an unpaired surrogate (not Unicode text)';
  return null;
}

const STRINGS_RULE = 'strings may not contain NUL or unpaired surrogates';

/**
 * The document's bad strings and too deep values, from its tokens: values
 * are what stands between parentheses (arguments, variable definitions and
 * their defaults), where GraphQL has no selection sets. Lexer errors other
 * than bad strings are left for the parser to report.
 */
export function sourceRefusal(source: string): GraphQLError | null {
  const lexer = new Lexer(new Source(source));
  let inArguments = false;
  let valueNesting = 0;
  let selectionNesting = 0;
  try {
    for (let tokens = 0; tokens <= MAX_TOKENS; tokens++) {
      const token = lexer.advance();
      switch (token.kind) {
        case TokenKind.EOF:
          return null;
        case TokenKind.PAREN_L:
          inArguments = true;
          break;
        case TokenKind.PAREN_R:
          inArguments = false;
          valueNesting = 0;
          break;
        case TokenKind.BRACE_L:
        case TokenKind.BRACKET_L:
          if (inArguments) {
            if (++valueNesting > MAX_JSON_DEPTH) {
              return badUserInput(`a value in the document (line ${token.line}) is nested deeper than ${MAX_JSON_DEPTH} levels of lists and objects`);
            }
          } else if (++selectionNesting > MAX_SELECTION_NESTING) {
            return limitError('depth', `depth limit: the operation is nested more than ${MAX_SELECTION_NESTING} levels deep; at most ${MAX_DEPTH} are allowed`);
          }
          break;
        case TokenKind.BRACE_R:
        case TokenKind.BRACKET_R:
          if (inArguments) valueNesting = Math.max(0, valueNesting - 1);
          else selectionNesting = Math.max(0, selectionNesting - 1);
          break;
        case TokenKind.STRING:
        case TokenKind.BLOCK_STRING: {
          const problem = stringProblem(token.value ?? '');
          if (problem) return badUserInput(`a string in the document (line ${token.line}) holds ${problem}; ${STRINGS_RULE}`);
          break;
        }
        default:
          break;
      }
    }
  } catch (error) {
    // graphql-js refuses unpaired surrogates itself, as a syntax error: they are bad strings all the same.
    if (error instanceof GraphQLError && /Invalid Unicode escape sequence|Invalid character within String/.test(error.message)) {
      return badUserInput(`a string in the document holds an unpaired surrogate or a character no string may hold; ${STRINGS_RULE}`);
    }
  }
  return null;
}

/** `$input.credentials.token`-style path of a value inside the variables. */
function pathOf(parts: readonly (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? `$${p}` : `.${p}`)).join('');
}

/** The variables' bad strings and too deep values, walked iteratively. */
export function variablesRefusal(variables: unknown): GraphQLError | null {
  if (typeof variables !== 'object' || variables === null) return null;
  const stack: { value: unknown; path: (string | number)[]; depth: number }[] = [];
  for (const [name, value] of Object.entries(variables)) stack.push({ value, path: [name], depth: 0 });
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as (typeof stack)[number];
    if (typeof value === 'string') {
      const problem = stringProblem(value);
      if (problem) return badUserInput(`the variable at ${pathOf(path)} holds ${problem}; ${STRINGS_RULE}`);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      return badUserInput(`the variable $${String(path[0])} is nested deeper than ${MAX_JSON_DEPTH} levels of lists and objects`);
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: [...path, i], depth: depth + 1 }));
    } else {
      for (const [key, item] of Object.entries(value)) {
        const problem = stringProblem(key);
        if (problem) return badUserInput(`a key in the variable at ${pathOf(path)} holds ${problem}; ${STRINGS_RULE}`);
        stack.push({ value: item, path: [...path, key], depth: depth + 1 });
      }
    }
  }
  return null;
}
