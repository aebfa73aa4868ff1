/**
 * The queueSize subscription folded into a map by connection id: every
 * QueueStats replaces that connection's previous one, state included (a
 * pause, a resume or an outage is an event of its own).
 */
import { useSubscription } from 'urql';
import { graphql } from '../gql';
import type { ConnectionState } from '../gql/graphql';

const QueueSizes = graphql(`
  subscription QueueSizes($connectionIds: [ID!]) {
    queueSize(connectionIds: $connectionIds) {
      connectionId
      queueOwnerId
      queueSize
      inFlight
      concurrencyLevel
      state
      at
    }
  }
`);

export interface LiveQueue {
  queueSize: number;
  inFlight: number;
  concurrencyLevel: number | null;
  state: ConnectionState;
}

type Live = Record<string, LiveQueue>;

function fold(previous: Live | undefined, stats: { connectionId: string } & LiveQueue): Live {
  return {
    ...previous,
    [stats.connectionId]: { queueSize: stats.queueSize, inFlight: stats.inFlight, concurrencyLevel: stats.concurrencyLevel ?? null, state: stats.state },
  };
}

/** Live numbers and state per connection id (all connections when `connectionIds` is undefined). */
export function useLiveQueues(connectionIds?: string[]): Live {
  const [live] = useSubscription({ query: QueueSizes, variables: { connectionIds } }, (prev: Live | undefined, data) => fold(prev, data.queueSize));
  return live.data ?? {};
}
