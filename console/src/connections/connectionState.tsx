/** Connection state (ONLINE, OFFLINE, PAUSED) as a badge, and why, for the tables and the connection page. */
import type { ConnectionState } from '../gql/graphql';

export function StateBadge({ state, reason }: { state: ConnectionState | undefined; reason?: string | null }) {
  if (!state) return <span>…</span>;
  return (
    <span className={`state state-${state.toLowerCase()}`} title={reason ?? undefined}>
      {state}
    </span>
  );
}

/** "in 42 s", "now": when an OFFLINE connection's next probe goes out. */
export function untilText(at: string, now: number = Date.now()): string {
  const seconds = Math.round((Date.parse(at) - now) / 1000);
  return seconds <= 0 ? 'now' : seconds < 120 ? `in ${seconds} s` : `in ${Math.round(seconds / 60)} min`;
}
