/**
 * Connection state (ONLINE, OFFLINE, PAUSED) where the server serves it
 * (issue #19): read with its own query so that a server without it is never
 * sent a field it does not know.
 */
import { useQuery } from 'urql';
import { graphql } from '../gql';
import type { ConnectionState } from '../gql/graphql';
import { useSession } from '../session/session';

const ConnectionStates = graphql(`
  query ConnectionStates {
    connections {
      id
      state
      stateReason
    }
  }
`);

export function useConnectionStates(): Record<string, ConnectionState> {
  const { features } = useSession();
  const [{ data }] = useQuery({ query: ConnectionStates, pause: !features.connectionState });
  return Object.fromEntries((data?.connections ?? []).map((c) => [c.id, c.state]));
}

export function StateBadge({ state }: { state: ConnectionState | undefined }) {
  if (!state) return <span>…</span>;
  return <span className={`state state-${state.toLowerCase()}`}>{state}</span>;
}
