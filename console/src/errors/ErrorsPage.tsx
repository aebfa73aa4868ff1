/**
 * Failed records (issue #20): the jobErrors list with filters, each error's
 * record and message, Retry and Resolve for the selection or for everything
 * the filter matches (the count shown first), and retry with an edited
 * record for one error. Shown only where the server serves jobErrors.
 */
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../gql';
import type { JobErrorFilter, JobErrorState } from '../gql/graphql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const JobErrorsQuery = graphql(`
  query JobErrors($filter: JobErrorFilter, $first: Int) {
    jobErrors(filter: $filter, first: $first) {
      id
      code
      message
      record
      state
      attempts
      occurredAt
      closedAt
      closedBy
      job {
        id
        flow {
          id
          name
        }
      }
      step {
        id
        name
        connection {
          id
          name
        }
      }
    }
    flows {
      id
      name
      steps {
        id
        name
      }
    }
    connections {
      id
      name
    }
  }
`);

const RetryJobErrors = graphql(`
  mutation RetryJobErrors($ids: [ID!], $filter: JobErrorFilter, $record: JSON) {
    retryJobErrors(ids: $ids, filter: $filter, record: $record) {
      id
      state
    }
  }
`);

const ResolveJobErrors = graphql(`
  mutation ResolveJobErrors($ids: [ID!]!) {
    resolveJobErrors(ids: $ids) {
      id
      state
    }
  }
`);

/** One page of errors; "everything the filter matches" beyond it is left to the server (retry by filter). */
const PAGE = 200;
const STATES: JobErrorState[] = ['OPEN', 'RETRIED', 'RESOLVED'];

export function ErrorsPage() {
  const { features } = useSession();
  return (
    <>
      <h1>Errors</h1>
      {features.jobErrors ? <ErrorList /> : <p>This server does not serve failed records (jobErrors) yet: see each job's errors on its flow's page.</p>}
    </>
  );
}

function ErrorList() {
  const session = useSession();
  const actions = canAct(session.role);
  const [filter, setFilter] = useState<JobErrorFilter>({ state: 'OPEN' });
  const [{ data, error }, reload] = useQuery({ query: JobErrorsQuery, variables: { filter, first: PAGE } });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [retry, runRetry] = useMutation(RetryJobErrors);
  const [resolve, runResolve] = useMutation(ResolveJobErrors);
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const errors = data?.jobErrors ?? [];
  const open = errors.filter((e) => e.state === 'OPEN');
  const chosen = open.filter((e) => selected.has(e.id)).map((e) => e.id);
  const set = (patch: Partial<JobErrorFilter>): void => {
    setSelected(new Set());
    setFilter((f) => {
      const next = { ...f, ...patch };
      for (const key of Object.keys(next) as (keyof JobErrorFilter)[]) if (next[key] === '' || next[key] == null) delete next[key];
      return next;
    });
  };
  const after = (verb: string) => (r: { error?: unknown; data?: { [k: string]: { id: string }[] } | null }) => {
    if (r.error || !r.data) return;
    const n = Object.values(r.data)[0]?.length ?? 0;
    setDone(`${verb} ${n} error(s).`);
    setSelected(new Set());
    setEditing(null);
    reload({ requestPolicy: 'network-only' });
  };
  const flows = data?.flows ?? [];
  const steps = flows.flatMap((f) => f.steps.map((s) => ({ ...s, flowName: f.name })));
  return (
    <>
      <form className="filters" aria-label="Filter errors" onSubmit={(e) => e.preventDefault()}>
        <label>
          Flow
          <select value={filter.flowId ?? ''} onChange={(e) => set({ flowId: e.target.value })}>
            <option value="">Any</option>
            {flows.map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Step
          <select value={filter.stepId ?? ''} onChange={(e) => set({ stepId: e.target.value })}>
            <option value="">Any</option>
            {steps.map((s) => (
              <option key={s.id} value={s.id}>
                {s.flowName}: {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Connection
          <select value={filter.connectionId ?? ''} onChange={(e) => set({ connectionId: e.target.value })}>
            <option value="">Any</option>
            {(data?.connections ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={filter.state ?? ''} onChange={(e) => set({ state: (e.target.value || null) as JobErrorState | null })}>
            <option value="">Any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Code
          <input value={filter.code ?? ''} placeholder="e.g. HTTP_422" onChange={(e) => set({ code: e.target.value })} />
        </label>
      </form>
      <ApiError error={error ?? retry.error ?? resolve.error} />
      {done && <p role="status">{done}</p>}
      <div className="actions">
        <button type="button" disabled={!actions || !session.features.retryJobErrors || chosen.length === 0} onClick={() => void runRetry({ ids: chosen }).then(after('Retried'))}>
          Retry
        </button>
        <button type="button" disabled={!actions || !session.features.resolveJobErrors || chosen.length === 0} onClick={() => void runResolve({ ids: chosen }).then(after('Resolved'))}>
          Resolve
        </button>
        <button
          type="button"
          disabled={!actions || !session.features.retryJobErrors || open.length === 0}
          onClick={() => void runRetry({ filter: { ...filter, state: 'OPEN' } }).then(after('Retried'))}
        >
          Retry all {open.length} matching
        </button>
        <button
          type="button"
          disabled={!actions || !session.features.resolveJobErrors || open.length === 0}
          onClick={() => void runResolve({ ids: open.map((e) => e.id) }).then(after('Resolved'))}
        >
          Resolve all {open.length} matching
        </button>
      </div>
      <p>
        {errors.length} error(s) match{errors.length === PAGE ? ` (the first ${PAGE} shown)` : ''}; {open.length} open.
      </p>
      <ul className="errors">
        {errors.map((e) => (
          <li key={e.id} aria-label={`Error ${e.id}`}>
            <label className="check">
              <input
                type="checkbox"
                disabled={e.state !== 'OPEN'}
                checked={selected.has(e.id)}
                onChange={(ev) =>
                  setSelected((prev) => {
                    const next = new Set(prev);
                    if (ev.target.checked) next.add(e.id);
                    else next.delete(e.id);
                    return next;
                  })
                }
              />
              Select error {e.id}
            </label>
            <p>
              <strong>{e.code}</strong> {e.message}
            </p>
            <p className="note">
              {e.state} · {e.job.flow.name} · step {e.step?.name ?? '(removed)'} · {e.step?.connection.name ?? ''} · {e.attempts} attempt(s) ·{' '}
              {new Date(e.occurredAt).toLocaleString()}
              {e.closedBy && ` · closed by ${e.closedBy}`}
            </p>
            <pre aria-label={`Record of error ${e.id}`}>{JSON.stringify(e.record, null, 2)}</pre>
            {e.state === 'OPEN' && editing?.id !== e.id && (
              <button type="button" disabled={!actions || !session.features.retryJobErrors} onClick={() => setEditing({ id: e.id, text: JSON.stringify(e.record, null, 2) })}>
                Edit record and retry
              </button>
            )}
            {editing?.id === e.id && (
              <div>
                <label className="field">
                  Record to send
                  <textarea rows={6} value={editing.text} onChange={(ev) => setEditing({ id: e.id, text: ev.target.value })} />
                </label>
                <button
                  type="button"
                  disabled={!actions}
                  onClick={() => {
                    let record: unknown;
                    try {
                      record = JSON.parse(editing.text);
                    } catch {
                      setDone('The record is not valid JSON.');
                      return;
                    }
                    void runRetry({ ids: [e.id], record }).then(after('Retried'));
                  }}
                >
                  Retry with this record
                </button>
                <button type="button" onClick={() => setEditing(null)}>
                  Cancel editing
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
