/**
 * Replace connection: every step of the flow on one connection moves to
 * another of the same application. The contract's warning is shown before
 * the button: the flow's queued and running jobs are canceled.
 */
import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const ReplaceConnection = graphql(`
  mutation ReplaceConnection($flowId: ID!, $connectionId: ID!, $newConnectionId: ID!) {
    replaceConnection(flowId: $flowId, connectionId: $connectionId, newConnectionId: $newConnectionId) {
      replacedSteps {
        id
      }
      canceledJobs {
        id
      }
      flow {
        id
        connections {
          id
          name
        }
      }
    }
  }
`);

interface ConnectionView {
  id: string;
  name: string;
  application: string;
}

export function ReplaceConnectionForm({ flowId, used, all }: { flowId: string; used: ConnectionView[]; all: ConnectionView[] }) {
  const session = useSession();
  const actions = canAct(session.role);
  const [from, setFrom] = useState(used[0]?.id ?? '');
  const current = used.find((c) => c.id === from);
  const candidates = all.filter((c) => current && c.id !== current.id && c.application === current.application);
  const [to, setTo] = useState('');
  const [result, runReplace] = useMutation(ReplaceConnection);
  const [done, setDone] = useState<string | null>(null);
  const chosen = candidates.some((c) => c.id === to) ? to : '';

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setDone(null);
    const r = await runReplace({ flowId, connectionId: from, newConnectionId: chosen });
    const payload = r.data?.replaceConnection;
    if (payload) {
      setDone(`Replaced ${payload.replacedSteps.length} step(s); canceled ${payload.canceledJobs.length} job(s).`);
      setFrom(chosen);
      setTo('');
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Replace connection">
      <div className="field">
        <label htmlFor="replace-from">Connection to replace</label>
        <select id="replace-from" value={from} disabled={!actions} onChange={(e) => setFrom(e.target.value)}>
          {used.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="replace-to">New connection</label>
        <select id="replace-to" value={chosen} disabled={!actions} onChange={(e) => setTo(e.target.value)} required>
          <option value="">Choose a connection of {current?.application ?? 'the same application'}</option>
          {candidates.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <p className="warning" id="replace-warning">
        Every queued and running job of this flow will be canceled, including messages queued but not yet started.
      </p>
      <button type="submit" disabled={!actions || chosen === '' || result.fetching} aria-describedby="replace-warning">
        Replace connection
      </button>
      <ApiError error={result.error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}
