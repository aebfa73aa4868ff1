/**
 * Sign in with an API token. One query checks the token (viewer) and finds
 * what the server serves (features.ts); a refused token says so, with the
 * server's message.
 */
import { useState, type FormEvent } from 'react';
import { createSluiceClient } from '../session/client';
import { featuresFrom, SignInQuery, type Features } from '../session/features';
import type { Role } from '../gql/graphql';
import { messageOf } from '../ui/ApiError';
import { storeToken } from '../session/token';

export interface SignedIn {
  token: string;
  role: Role;
  tokenName: string;
  features: Features;
}

export type SignInResult = { kind: 'signedIn'; session: SignedIn } | { kind: 'refused'; message: string };

export async function signInWith(token: string): Promise<SignInResult> {
  const { client, dispose } = createSluiceClient(token);
  try {
    const result = await client.query(SignInQuery, {}, { requestPolicy: 'network-only' }).toPromise();
    if (result.error || !result.data) {
      const unauthenticated = result.error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
      const message = result.error ? messageOf(result.error) : 'no answer';
      return { kind: 'refused', message: unauthenticated ? `This API token was refused: ${message}` : message };
    }
    return {
      kind: 'signedIn',
      session: { token, role: result.data.viewer.role, tokenName: result.data.viewer.tokenName, features: featuresFrom(result.data) },
    };
  } finally {
    dispose();
  }
}

export function SignIn({ onSignedIn }: { onSignedIn: (session: SignedIn) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const result = await signInWith(token.trim());
    setBusy(false);
    if (result.kind === 'refused') {
      setError(result.message);
      return;
    }
    storeToken(result.session.token);
    onSignedIn(result.session);
  }
  return (
    <main className="signin">
      <h1>Sluice</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <label>
          API token
          <input type="password" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="current-password" required autoFocus />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
      <p className="hint">The token is kept in this tab only (sessionStorage) and is forgotten when the tab closes.</p>
    </main>
  );
}
