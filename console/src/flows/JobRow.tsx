/**
 * One job, its counts live from jobUpdated while it is queued or running
 * (the subscription ends itself once the job is final), with Cancel.
 */
import { useMutation, useSubscription } from 'urql';
import { graphql } from '../gql';
import type { JobStatus } from '../gql/graphql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';

const JobUpdated = graphql(`
  subscription JobUpdated($jobId: ID!) {
    jobUpdated(jobId: $jobId) {
      id
      status
      createdAt
      recordsExported
      recordsSucceeded
      recordsFailed
    }
  }
`);

const CancelJob = graphql(`
  mutation CancelJob($id: ID!) {
    cancelJob(id: $id) {
      id
      status
    }
  }
`);

interface JobView {
  id: string;
  status: JobStatus;
  createdAt: string;
  recordsExported: number;
  recordsSucceeded: number;
  recordsFailed: number;
}

const active = (status: JobStatus): boolean => status === 'QUEUED' || status === 'RUNNING';

export function JobRow({ job: initial }: { job: JobView }) {
  const session = useSession();
  const [live] = useSubscription({ query: JobUpdated, variables: { jobId: initial.id }, pause: !active(initial.status) });
  const [cancel, runCancel] = useMutation(CancelJob);
  const job: JobView = { ...initial, ...live.data?.jobUpdated, ...(cancel.data ? { status: cancel.data.cancelJob.status } : {}) };
  return (
    <tr aria-label={`Job ${job.id}`}>
      <td>{new Date(job.createdAt).toLocaleString()}</td>
      <td>{job.status}</td>
      <td className="number">{job.recordsExported}</td>
      <td className="number">{job.recordsSucceeded}</td>
      <td className="number">{job.recordsFailed}</td>
      <td>
        {active(job.status) && (
          <button type="button" disabled={!canAct(session.role) || cancel.fetching} onClick={() => void runCancel({ id: job.id })}>
            Cancel
          </button>
        )}
        <ApiError error={cancel.error} />
      </td>
    </tr>
  );
}
