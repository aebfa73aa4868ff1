/**
 * One connection: its live queue, its concurrency policy and borrowing (the
 * "Save" form), its state with Pause and Resume, Test connection, the flows and
 * steps that use it, and its settings (name, config, credentials).
 */
import { useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';
import { ConcurrencyForm } from './ConcurrencyForm';
import { ConnectionSettingsForm } from './ConnectionSettingsForm';
import { concurrencyText } from './ConnectionsPage';
import { PauseResume } from './PauseResume';
import { StateBadge, untilText } from './connectionState';
import { useLiveQueues } from './liveQueues';

const ConnectionQuery = graphql(`
  query Connection($id: ID!) {
    connection(id: $id) {
      id
      name
      connectorType
      application
      config
      hasCredentials
      concurrencyLevel
      autoRecoverRateLimitErrors
      targetConcurrencyLevel
      rateLimit {
        requests
        perMilliseconds
      }
      borrowConcurrencyFrom {
        id
        name
      }
      queueOwner {
        id
        name
      }
      borrowers {
        id
        name
      }
      queueSize
      inFlight
      state
      stateReason
      stateChangedAt
      nextProbeAt
      steps {
        id
        name
        kind
        position
        flow {
          id
          name
        }
      }
    }
    connections {
      id
      name
      application
    }
    connectors {
      type
      displayName
      configSchema
      credentialsSchema
    }
    limits {
      maxConcurrencyLevel
    }
  }
`);

const TestConnection = graphql(`
  mutation TestConnection($id: ID!) {
    testConnection(id: $id) {
      ok
      message
      latencyMs
    }
  }
`);

export function ConnectionPage({ id }: { id: string }) {
  const session = useSession();
  const [{ data, error }, reexecute] = useQuery({ query: ConnectionQuery, variables: { id } });
  const live = useLiveQueues([id]);
  const liveState = live[id]?.state;
  const readState = data?.connection?.state;
  // A state that changed live (an outage, another operator's pause) comes with
  // no reason or next probe: read the connection again for them.
  useEffect(() => {
    if (liveState !== undefined && readState !== undefined && liveState !== readState) reexecute({ requestPolicy: 'network-only' });
  }, [liveState, readState, reexecute]);
  const [test, runTest] = useMutation(TestConnection);
  const [testResult, setTestResult] = useState<string | null>(null);
  if (error) return <ApiError error={error} />;
  if (!data) return <p>Loading…</p>;
  const c = data.connection;
  if (!c) return <p role="alert">No connection has the id {id}.</p>;
  const numbers = live[c.id] ?? { queueSize: c.queueSize, inFlight: c.inFlight, concurrencyLevel: c.concurrencyLevel ?? null };
  const state = liveState ?? c.state;
  const actions = canAct(session.role);
  const connector = data.connectors.find((k) => k.type === c.connectorType);
  const byFlow = new Map<string, { name: string; steps: typeof c.steps }>();
  for (const step of c.steps) {
    const entry = byFlow.get(step.flow.id) ?? { name: step.flow.name, steps: [] };
    entry.steps.push(step);
    byFlow.set(step.flow.id, entry);
  }
  return (
    <>
      <p className="crumbs">
        <a href={hrefOf({ page: 'connections' })}>Connections</a> /
      </p>
      <h1>{c.name}</h1>
      <dl className="facts">
        <dt>Application</dt>
        <dd>{c.application}</dd>
        <dt>Connector</dt>
        <dd>{connector?.displayName ?? c.connectorType}</dd>
        <dt>State</dt>
        <dd>
          <StateBadge state={state} /> <span className="note">since {new Date(c.stateChangedAt).toLocaleString()}</span>
        </dd>
        {state === c.state && c.stateReason && (
          <>
            <dt>Reason</dt>
            <dd>{c.stateReason}</dd>
          </>
        )}
        {state === 'OFFLINE' && c.nextProbeAt && (
          <>
            <dt>Next probe</dt>
            <dd>
              <time dateTime={c.nextProbeAt}>{untilText(c.nextProbeAt)}</time>
            </dd>
          </>
        )}
        <dt>Queue size</dt>
        <dd>{numbers.queueSize}</dd>
        <dt>In flight</dt>
        <dd>{numbers.inFlight}</dd>
        <dt>Concurrency</dt>
        <dd>{concurrencyText(numbers.concurrencyLevel, c.autoRecoverRateLimitErrors, c.targetConcurrencyLevel)}</dd>
        {c.queueOwner.id !== c.id && (
          <>
            <dt>Queue owner</dt>
            <dd>
              <a href={hrefOf({ page: 'connection', id: c.queueOwner.id })}>{c.queueOwner.name}</a>
            </dd>
          </>
        )}
        {c.borrowers.length > 0 && (
          <>
            <dt>Borrowers</dt>
            <dd>{c.borrowers.map((b) => b.name).join(', ')}</dd>
          </>
        )}
      </dl>
      <div className="actions">
        <button
          type="button"
          disabled={!actions || test.fetching}
          onClick={() => {
            setTestResult(null);
            void runTest({ id: c.id }).then((r) => {
              const t = r.data?.testConnection;
              if (t) setTestResult(t.ok ? `OK${t.message ? `: ${t.message}` : ''}${t.latencyMs !== null && t.latencyMs !== undefined ? ` (${t.latencyMs} ms)` : ''}` : `Failed: ${t.message ?? 'no answer'}`);
            });
          }}
        >
          Test connection
        </button>
        <PauseResume connectionId={c.id} state={state} />
      </div>
      <ApiError error={test.error} />
      {testResult && <p role="status">{testResult}</p>}
      <section aria-labelledby="concurrency-heading">
        <h2 id="concurrency-heading">Concurrency</h2>
        <ConcurrencyForm connection={c} connections={data.connections} maxLevel={data.limits.maxConcurrencyLevel} />
      </section>
      <section aria-labelledby="used-heading">
        <h2 id="used-heading">Flows using it</h2>
        {byFlow.size === 0 ? (
          <p>No step uses this connection.</p>
        ) : (
          <ul>
            {[...byFlow].map(([flowId, entry]) => (
              <li key={flowId}>
                <a href={hrefOf({ page: 'flow', id: flowId })}>{entry.name}</a>:{' '}
                {entry.steps
                  .slice()
                  .sort((a, b) => a.position - b.position)
                  .map((st) => `${st.position + 1}. ${st.name} (${st.kind})`)
                  .join(', ')}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="settings-heading">
        <h2 id="settings-heading">Settings</h2>
        <ConnectionSettingsForm
          mode={{ kind: 'edit', id: c.id, name: c.name, config: (c.config ?? {}) as Record<string, unknown>, hasCredentials: c.hasCredentials }}
          connectors={data.connectors}
          connectorType={c.connectorType}
        />
      </section>
    </>
  );
}
