/** A new connection, its form generated from the chosen connector's schemas. */
import { useQuery } from 'urql';
import { graphql } from '../gql';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';
import { ConnectionSettingsForm } from './ConnectionSettingsForm';

const Connectors = graphql(`
  query Connectors {
    connectors {
      type
      displayName
      configSchema
      credentialsSchema
    }
  }
`);

export function NewConnectionPage() {
  const [{ data, error }] = useQuery({ query: Connectors });
  return (
    <>
      <p className="crumbs">
        <a href={hrefOf({ page: 'connections' })}>Connections</a> /
      </p>
      <h1>New connection</h1>
      <ApiError error={error} />
      {data && <ConnectionSettingsForm mode={{ kind: 'create' }} connectors={data.connectors} />}
    </>
  );
}
