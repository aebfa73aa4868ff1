/** Who is signed in, what their role lets them do, and what the server serves. */
import { createContext, useContext } from 'react';
import type { Role } from '../gql/graphql';
import type { Features } from './features';

export interface Session {
  token: string;
  role: Role;
  tokenName: string;
  features: Features;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** MONITOR reads and subscribes only: every action control is disabled for it. */
export const canAct = (role: Role): boolean => role === 'ADMINISTER' || role === 'MANAGE';
export const canManageTokens = (role: Role): boolean => role === 'ADMINISTER';
