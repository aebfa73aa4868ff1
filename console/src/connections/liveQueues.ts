/**
 * The queueSize subscription folded into a map by connection id: every
 * QueueStats replaces that connection's previous one. Asked with `state`
 * only when the server serves it (features.ts).
 */
import { useSubscription } from 'urql';
import { graphql } from '../gql';
import type { ConnectionState } from '../gql/graphql';
import { useSession } from '../session/session';

const QueueSizes = graphql(`
  subscription QueueSizes($connectionIds: [ID!]) {
    queueSize(connectionIds: $connectionIds) {
      connectionId
      queueOwnerId
      queueSize
      inFlight
      concurrencyLevel
      at
    }
  }
`);

const QueueSizesWithState = graphql(`
  subscription QueueSizesWithState($connectionIds: [ID!]) {
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
  state?: ConnectionState;
}

type Live = Record<string, LiveQueue>;

function fold(previous: Live | undefined, stats: { connectionId: string } & LiveQueue): Live {
  return {
    ...previous,
    [stats.connectionId]: { queueSize: stats.queueSize, inFlight: stats.inFlight, concurrencyLevel: stats.concurrencyLevel ?? null, state: stats.state },
  };
}

/** Live numbers per connection id (all connections when `connectionIds` is undefined). */
export function useLiveQueues(connectionIds?: string[]): Live {
  const { features } = useSession();
  const variables = { connectionIds };
  const [plain] = useSubscription({ query: QueueSizes, variables, pause: features.connectionState }, (prev: Live | undefined, data) =>
    fold(prev, data.queueSize),
  );
  const [withState] = useSubscription(
    { query: QueueSizesWithState, variables, pause: !features.connectionState },
    (prev: Live | undefined, data) => fold(prev, data.queueSize),
  );
  return (features.connectionState ? withState.data : plain.data) ?? {};
}
