/**
 * graphql-js repeats a variable's value in the message of a coercion error:
 *
 *   Variable "$input" got invalid value { name: "x", credentials: { type: "bearer", token: "…" }, bogus: 1 };
 *   Field "bogus" is not defined by type "CreateConnectionInput".
 *
 * Credentials are never returned by the API (contract), not even to the client
 * that sent them: error messages end up in client logs and error trackers. So
 * when the variable an error names holds credentials, its value is left out of
 * the message; graphql-js's reason (after the last "; ") is kept unless it too
 * repeats a credential string. Used for GraphQL over HTTP and over WebSocket.
 *
 * Credentials written as literals in the document are echoed too: graphql-js
 * prints a wrongly typed literal whole (`ID cannot represent a non-string
 * and non-integer value: {credentials: {token: "…"}}`), and a syntax error
 * names the token it stopped at (`Expected Name, found String "…"`). So a
 * message that holds a string found beneath a `credentials` field of the
 * document has it replaced, and a syntax error never repeats a string token
 * (the document did not parse, so which strings are credentials is unknown).
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Kind, visit, type DocumentNode, type GraphQLFormattedError } from 'graphql';

const ECHO = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value /;

/** Whether `value` has a non-null `credentials` anywhere; every string found beneath one goes into `secrets`. */
function holdsCredentials(value: unknown, secrets: string[], inside = false): boolean {
  if (typeof value === 'string') {
    if (inside && value.length > 0) secrets.push(value);
    return false;
  }
  if (typeof value !== 'object' || value === null) return false;
  let holds = false;
  for (const [key, child] of Object.entries(value)) {
    const isCredentials = key === 'credentials' && child != null;
    if (holdsCredentials(child, secrets, inside || isCredentials) || isCredentials) holds = true;
  }
  return holds;
}

/** Every string literal beneath a `credentials` object field or argument of the document. */
function literalCredentials(document: DocumentNode): string[] {
  const secrets: string[] = [];
  let inside = 0;
  const enter = (node: { name: { value: string } }): void => {
    if (node.name.value === 'credentials') inside++;
  };
  const leave = (node: { name: { value: string } }): void => {
    if (node.name.value === 'credentials') inside--;
  };
  visit(document, {
    [Kind.OBJECT_FIELD]: { enter, leave },
    [Kind.ARGUMENT]: { enter, leave },
    [Kind.STRING]: (node) => {
      if (inside > 0 && node.value.length > 0) secrets.push(node.value);
    },
  });
  return secrets;
}

const NOT_REPEATED = '(a credential, not repeated here)';
/** graphql-js's description of a string token in a syntax error: `String "…"` or `BlockString "…"`, up to the message's end. */
const STRING_TOKEN_IN_SYNTAX_ERROR = /((?:Block)?String) ".*"(\.?)$/s;

function withoutLiteralEchoes(message: string, secrets: readonly string[]): string {
  if (message.startsWith('Syntax Error:')) return message.replace(STRING_TOKEN_IN_SYNTAX_ERROR, '$1 (not repeated here)$2');
  let kept = message;
  // As graphql-js prints a string literal: quoted, so that a short value does not mangle the rest of the message.
  for (const secret of secrets) kept = kept.split(JSON.stringify(secret)).join(NOT_REPEATED);
  return kept;
}

export function withoutCredentialEchoes(
  errors: readonly GraphQLFormattedError[],
  variables: Readonly<Record<string, unknown>> | null | undefined,
  document?: DocumentNode,
): GraphQLFormattedError[] {
  const literals = document ? literalCredentials(document) : [];
  return errors.map((found) => {
    const message = withoutLiteralEchoes(found.message, literals);
    const error = message === found.message ? found : { ...found, message };
    const name = ECHO.exec(error.message)?.[1];
    if (name === undefined || !variables) return error;
    const secrets: string[] = [];
    if (!holdsCredentials(variables[name], secrets)) return error;
    const reasonAt = error.message.lastIndexOf('; ');
    const reason = reasonAt < 0 ? '' : error.message.slice(reasonAt + 2);
    const keptReason = reason !== '' && !secrets.some((s) => reason.includes(s)) ? `; ${reason}` : '';
    return { ...error, message: `Variable "$${name}" got an invalid value (not repeated here: it holds credentials)${keptReason}` };
  });
}

/** The Apollo side: rewrites the errors of every HTTP response before it is sent. */
export const credentialEchoPlugin: ApolloServerPlugin<BaseContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ request, response, document }) {
        if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
        response.body.singleResult.errors = withoutCredentialEchoes(response.body.singleResult.errors, request.variables, document);
      },
    };
  },
};
