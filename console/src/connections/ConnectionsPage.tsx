/**
 * The first page after sign-in: every connection with its state and queue,
 * live from the queueSize subscription. A borrower's numbers are its queue
 * owner's (it shares that queue), and the owner is named beside it; its
 * state is its own, or its owner's while the owner is not ONLINE.
 */
import { useQuery } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';
import { useLiveQueues } from './liveQueues';
import { StateBadge } from './connectionState';

const ConnectionsQuery = graphql(`
  query Connections {
    connections {
      id
      name
      application
      connectorType
      concurrencyLevel
      autoRecoverRateLimitErrors
      targetConcurrencyLevel
      queueSize
      inFlight
      state
      stateReason
      queueOwner {
        id
        name
      }
    }
  }
`);

export function concurrencyText(level: number | null | undefined, autoRecover: boolean, target: number | null | undefined): string {
  const inUse = level === null || level === undefined ? 'burst' : String(level);
  return autoRecover && target !== null && target !== undefined && target !== level ? `${inUse} (target ${target})` : inUse;
}

export function ConnectionsPage() {
  const session = useSession();
  const [{ data, error, fetching }] = useQuery({ query: ConnectionsQuery });
  const live = useLiveQueues();
  const connections = data?.connections ?? [];
  return (
    <>
      <div className="title">
        <h1>Connections</h1>
        {canAct(session.role) ? (
          <a className="button" href={hrefOf({ page: 'newConnection' })}>
            New connection
          </a>
        ) : (
          <button type="button" disabled>
            New connection
          </button>
        )}
      </div>
      <ApiError error={error} />
      {fetching && !data && <p>Loading…</p>}
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Application</th>
              <th scope="col">State</th>
              <th scope="col">Queue size</th>
              <th scope="col">In flight</th>
              <th scope="col">Concurrency</th>
            </tr>
          </thead>
          <tbody>
            {connections.map((c) => {
              const borrower = c.queueOwner.id !== c.id;
              const numbers = live[c.id] ?? { queueSize: c.queueSize, inFlight: c.inFlight, concurrencyLevel: c.concurrencyLevel ?? null };
              const state = live[c.id]?.state ?? c.state;
              // The reason read with the list belongs to the state read with it; a live change brings no reason.
              const reason = state === c.state ? c.stateReason : null;
              return (
                <tr key={c.id}>
                  <th scope="row">
                    <a href={hrefOf({ page: 'connection', id: c.id })}>{c.name}</a>
                    {borrower && <span className="note"> borrows from {c.queueOwner.name}</span>}
                  </th>
                  <td>{c.application}</td>
                  <td>
                    <StateBadge state={state} reason={reason} />
                  </td>
                  <td className="number">{numbers.queueSize}</td>
                  <td className="number">{numbers.inFlight}</td>
                  <td className="number">{concurrencyText(numbers.concurrencyLevel, c.autoRecoverRateLimitErrors, c.targetConcurrencyLevel)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {data && connections.length === 0 && <p>No connections yet.</p>}
    </>
  );
}
