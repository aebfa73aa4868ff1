/**
 * One flow: its steps in order with their connections, Run, Replace
 * connection, and its jobs with live counts (JobRow).
 */
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';
import { JobRow } from './JobRow';
import { ReplaceConnectionForm } from './ReplaceConnectionForm';

const FlowQuery = graphql(`
  query Flow($id: ID!) {
    flow(id: $id) {
      id
      name
      steps {
        id
        name
        kind
        position
        connection {
          id
          name
          application
        }
      }
      connections {
        id
        name
        application
      }
      jobs(first: 20) {
        id
        status
        createdAt
        recordsExported
        recordsSucceeded
        recordsFailed
      }
    }
    connections {
      id
      name
      application
    }
  }
`);

const RunFlow = graphql(`
  mutation RunFlow($flowId: ID!) {
    runFlow(flowId: $flowId) {
      id
      status
      createdAt
      recordsExported
      recordsSucceeded
      recordsFailed
    }
  }
`);

export function FlowPage({ id }: { id: string }) {
  const session = useSession();
  const actions = canAct(session.role);
  const [{ data, error }] = useQuery({ query: FlowQuery, variables: { id } });
  const [run, runFlow] = useMutation(RunFlow);
  // Jobs started here show at once, before the flow's query is read again.
  const [started, setStarted] = useState<NonNullable<typeof run.data>['runFlow'][]>([]);
  if (error) return <ApiError error={error} />;
  if (!data) return <p>Loading…</p>;
  const flow = data.flow;
  if (!flow) return <p role="alert">No flow has the id {id}.</p>;
  const known = new Set(flow.jobs.map((j) => j.id));
  const jobs = [...started.filter((j) => !known.has(j.id)), ...flow.jobs];
  return (
    <>
      <p className="crumbs">
        <a href={hrefOf({ page: 'flows' })}>Flows</a> /
      </p>
      <div className="title">
        <h1>{flow.name}</h1>
        <button
          type="button"
          disabled={!actions || run.fetching}
          onClick={() =>
            void runFlow({ flowId: flow.id }).then((r) => {
              const job = r.data?.runFlow;
              if (job) setStarted((prev) => [job, ...prev]);
            })
          }
        >
          Run
        </button>
      </div>
      <ApiError error={run.error} />
      <section aria-labelledby="steps-heading">
        <h2 id="steps-heading">Steps</h2>
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Step</th>
                <th scope="col">Kind</th>
                <th scope="col">Connection</th>
              </tr>
            </thead>
            <tbody>
              {flow.steps
                .slice()
                .sort((a, b) => a.position - b.position)
                .map((st) => (
                  <tr key={st.id}>
                    <td className="number">{st.position + 1}</td>
                    <th scope="row">{st.name}</th>
                    <td>{st.kind}</td>
                    <td>
                      <a href={hrefOf({ page: 'connection', id: st.connection.id })}>{st.connection.name}</a>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="replace-heading">
        <h2 id="replace-heading">Replace connection</h2>
        <ReplaceConnectionForm flowId={flow.id} used={flow.connections} all={data.connections} />
      </section>
      <section aria-labelledby="jobs-heading">
        <h2 id="jobs-heading">Jobs</h2>
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col">Exported</th>
                <th scope="col">Succeeded</th>
                <th scope="col">Failed</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <JobRow key={job.id} job={job} />
              ))}
            </tbody>
          </table>
        </div>
        {jobs.length === 0 && <p>No jobs yet.</p>}
      </section>
    </>
  );
}
