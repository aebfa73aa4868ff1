/** An API error shown with the server's own message and code, announced to screen readers. */
import type { CombinedError } from 'urql';

export function messageOf(error: CombinedError): string {
  if (error.graphQLErrors.length > 0) {
    return error.graphQLErrors
      .map((e) => {
        const code = e.extensions?.code;
        return typeof code === 'string' ? `${e.message} (${code})` : e.message;
      })
      .join('; ');
  }
  return error.networkError ? `The server could not be reached: ${error.networkError.message}` : error.message;
}

export function ApiError({ error }: { error: CombinedError | undefined | null }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {messageOf(error)}
    </p>
  );
}
