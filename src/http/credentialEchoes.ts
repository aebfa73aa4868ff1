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
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';

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

export function withoutCredentialEchoes(
  errors: readonly GraphQLFormattedError[],
  variables: Readonly<Record<string, unknown>> | null | undefined,
): GraphQLFormattedError[] {
  return errors.map((error) => {
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
      async willSendResponse({ request, response }) {
        if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
        response.body.singleResult.errors = withoutCredentialEchoes(response.body.singleResult.errors, request.variables);
      },
    };
  },
};
