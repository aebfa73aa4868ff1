/**
 * The console's shell: sign in, then one page per route with a navigation
 * bar. The role decides what is shown: Tokens only for ADMINISTER.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Provider } from 'urql';
import { ConnectionsPage } from './connections/ConnectionsPage';
import { ConnectionPage } from './connections/ConnectionPage';
import { NewConnectionPage } from './connections/NewConnectionPage';
import { ErrorsPage } from './errors/ErrorsPage';
import { FlowPage } from './flows/FlowPage';
import { FlowsPage } from './flows/FlowsPage';
import { createSluiceClient } from './session/client';
import { canManageTokens, SessionContext, useSession, type Session } from './session/session';
import { forgetToken, storedToken } from './session/token';
import { SignIn, signInWith, type SignedIn } from './signin/SignIn';
import { TokensPage } from './tokens/TokensPage';
import { hrefOf, useRoute, type Route } from './ui/route';

export function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  // A reload keeps the tab's token: sign in again with it, silently.
  const [resuming, setResuming] = useState(() => storedToken() !== null);
  useEffect(() => {
    const token = storedToken();
    if (!token) return;
    signInWith(token)
      .then((result) => {
        if (result.kind === 'signedIn') setSignedIn(result.session);
        else forgetToken();
      })
      .finally(() => setResuming(false));
  }, []);
  const signOut = useCallback(() => {
    forgetToken();
    setSignedIn(null);
  }, []);
  if (resuming) return <p className="page">Signing in…</p>;
  if (!signedIn) return <SignIn onSignedIn={setSignedIn} />;
  return <SignedInConsole signedIn={signedIn} signOut={signOut} />;
}

function SignedInConsole({ signedIn, signOut }: { signedIn: SignedIn; signOut: () => void }) {
  const { client, dispose } = useMemo(() => createSluiceClient(signedIn.token), [signedIn.token]);
  useEffect(() => dispose, [dispose]);
  const session: Session = useMemo(() => ({ ...signedIn, signOut }), [signedIn, signOut]);
  const route = useRoute();
  return (
    <SessionContext.Provider value={session}>
      <Provider value={client}>
        <header className="bar">
          <span className="brand">Sluice</span>
          <nav aria-label="Main">
            <NavLink route={{ page: 'connections' }} current={route} label="Connections" />
            <NavLink route={{ page: 'flows' }} current={route} label="Flows" />
            <NavLink route={{ page: 'errors' }} current={route} label="Errors" />
            {canManageTokens(session.role) && <NavLink route={{ page: 'tokens' }} current={route} label="Tokens" />}
            <a href="/graphql">API explorer</a>
          </nav>
          <span className="who">
            {session.tokenName} ({session.role})
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </header>
        <main className="page">
          <Page route={route} />
        </main>
      </Provider>
    </SessionContext.Provider>
  );
}

function section(route: Route): string {
  switch (route.page) {
    case 'connection':
    case 'newConnection':
      return 'connections';
    case 'flow':
      return 'flows';
    default:
      return route.page;
  }
}

function NavLink({ route, current, label }: { route: Route; current: Route; label: string }) {
  return (
    <a href={hrefOf(route)} aria-current={section(current) === route.page ? 'page' : undefined}>
      {label}
    </a>
  );
}

function Page({ route }: { route: Route }) {
  const session = useSession();
  switch (route.page) {
    case 'connections':
      return <ConnectionsPage />;
    case 'connection':
      return <ConnectionPage id={route.id} />;
    case 'newConnection':
      return <NewConnectionPage />;
    case 'flows':
      return <FlowsPage />;
    case 'flow':
      return <FlowPage id={route.id} />;
    case 'errors':
      return <ErrorsPage />;
    case 'tokens':
      return canManageTokens(session.role) ? <TokensPage /> : <p>Only an ADMINISTER token manages tokens.</p>;
    default: {
      const never: never = route;
      throw new Error(`unknown page ${JSON.stringify(never)}`);
    }
  }
}
