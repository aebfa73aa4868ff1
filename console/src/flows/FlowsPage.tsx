/** Every flow with its steps' connections. */
import { useQuery } from 'urql';
import { graphql } from '../gql';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';

const FlowsQuery = graphql(`
  query Flows {
    flows {
      id
      name
      steps {
        id
      }
      connections {
        id
        name
      }
    }
  }
`);

export function FlowsPage() {
  const [{ data, error }] = useQuery({ query: FlowsQuery });
  const flows = data?.flows ?? [];
  return (
    <>
      <h1>Flows</h1>
      <ApiError error={error} />
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Steps</th>
              <th scope="col">Connections</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.id}>
                <th scope="row">
                  <a href={hrefOf({ page: 'flow', id: f.id })}>{f.name}</a>
                </th>
                <td className="number">{f.steps.length}</td>
                <td>{f.connections.map((c) => c.name).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && flows.length === 0 && <p>No flows yet.</p>}
    </>
  );
}
