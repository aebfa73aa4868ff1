/**
 * Pause (with an optional reason, shown as the state's reason) and Resume
 * of one connection. Pause is for a connection that is not PAUSED, Resume
 * for one that is not ONLINE (for an OFFLINE one it probes now); a MONITOR
 * sees both disabled.
 */
import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../gql';
import type { ConnectionState } from '../gql/graphql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const PauseConnection = graphql(`
  mutation PauseConnection($id: ID!, $reason: String) {
    pauseConnection(id: $id, reason: $reason) {
      id
      state
      stateReason
      stateChangedAt
      nextProbeAt
    }
  }
`);

const ResumeConnection = graphql(`
  mutation ResumeConnection($id: ID!) {
    resumeConnection(id: $id) {
      id
      state
      stateReason
      stateChangedAt
      nextProbeAt
    }
  }
`);

/** The API's bound on a pause reason (ConnectionStateService). */
const MAX_REASON_LENGTH = 500;

export function PauseResume({ connectionId, state }: { connectionId: string; state: ConnectionState }) {
  const session = useSession();
  const [pause, runPause] = useMutation(PauseConnection);
  const [resume, runResume] = useMutation(ResumeConnection);
  const [reason, setReason] = useState('');
  const actions = canAct(session.role);

  function submit(event: FormEvent): void {
    event.preventDefault();
    void runPause({ id: connectionId, reason: reason.trim() === '' ? null : reason }).then((r) => {
      if (!r.error) setReason('');
    });
  }

  return (
    <form className="inline" aria-label="Pause or resume" onSubmit={submit}>
      <div className="field">
        <label htmlFor="pause-reason">Pause reason (optional)</label>
        <input
          id="pause-reason"
          type="text"
          maxLength={MAX_REASON_LENGTH}
          value={reason}
          disabled={!actions || state === 'PAUSED'}
          onChange={(e) => setReason(e.target.value)}
        />
      </div>
      <button type="submit" disabled={!actions || pause.fetching || state === 'PAUSED'}>
        Pause
      </button>
      <button type="button" disabled={!actions || resume.fetching || state === 'ONLINE'} onClick={() => void runResume({ id: connectionId })}>
        Resume
      </button>
      <ApiError error={pause.error ?? resume.error} />
    </form>
  );
}
