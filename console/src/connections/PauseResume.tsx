/**
 * Pause and Resume (issue #19): shown only when the server serves
 * pauseConnection/resumeConnection, sent through their own documents.
 */
import { useMutation } from 'urql';
import { graphql } from '../gql';
import type { ConnectionState } from '../gql/graphql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const PauseConnection = graphql(`
  mutation PauseConnection($id: ID!) {
    pauseConnection(id: $id) {
      id
      state
      stateReason
    }
  }
`);

const ResumeConnection = graphql(`
  mutation ResumeConnection($id: ID!) {
    resumeConnection(id: $id) {
      id
      state
      stateReason
    }
  }
`);

export function PauseResume({ connectionId, state }: { connectionId: string; state: ConnectionState | undefined }) {
  const session = useSession();
  const [pause, runPause] = useMutation(PauseConnection);
  const [resume, runResume] = useMutation(ResumeConnection);
  const actions = canAct(session.role);
  return (
    <>
      {session.features.pauseConnection && (
        <button type="button" disabled={!actions || pause.fetching || state === 'PAUSED'} onClick={() => void runPause({ id: connectionId })}>
          Pause
        </button>
      )}
      {session.features.resumeConnection && (
        <button type="button" disabled={!actions || resume.fetching || state === 'ONLINE'} onClick={() => void runResume({ id: connectionId })}>
          Resume
        </button>
      )}
      <ApiError error={pause.error ?? resume.error} />
    </>
  );
}
