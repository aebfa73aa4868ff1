/**
 * Create or edit a connection: its name, and its config and credentials as
 * forms generated from the connector's schemas (SchemaFields). Credentials
 * are write-only: the form starts empty, and an empty one keeps what is
 * stored (only a chosen credentials type sends new ones).
 */
import { useState, type FormEvent } from 'react';
import { useMutation, type CombinedError } from 'urql';
import { graphql } from '../gql';
import { canAct, useSession } from '../session/session';
import { ApiError } from '../ui/ApiError';
import { hrefOf } from '../ui/route';
import { SchemaFields, type JsonObject } from './SchemaFields';

const CreateConnection = graphql(`
  mutation CreateConnection($input: CreateConnectionInput!) {
    createConnection(input: $input) {
      id
    }
  }
`);

const UpdateConnection = graphql(`
  mutation UpdateConnection($id: ID!, $input: UpdateConnectionInput!) {
    updateConnection(id: $id, input: $input) {
      id
      name
      application
      config
      hasCredentials
    }
  }
`);

export type SettingsMode =
  | { kind: 'create' }
  | { kind: 'edit'; id: string; name: string; config: JsonObject; hasCredentials: boolean };

interface ConnectorView {
  type: string;
  displayName: string;
  configSchema?: unknown;
  credentialsSchema?: unknown;
}

export function ConnectionSettingsForm({ mode, connectors, connectorType }: { mode: SettingsMode; connectors: ConnectorView[]; connectorType?: string }) {
  const session = useSession();
  const actions = canAct(session.role);
  const [type, setType] = useState(connectorType ?? connectors[0]?.type ?? '');
  const [name, setName] = useState(mode.kind === 'edit' ? mode.name : '');
  const [config, setConfig] = useState<JsonObject>(mode.kind === 'edit' ? mode.config : {});
  const [credentials, setCredentials] = useState<JsonObject>({});
  const [error, setError] = useState<CombinedError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [, create] = useMutation(CreateConnection);
  const [, update] = useMutation(UpdateConnection);
  const connector = connectors.find((k) => k.type === type);
  const newCredentials = Object.keys(credentials).length > 0 ? credentials : undefined;

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setError(null);
    setSaved(null);
    if (mode.kind === 'create') {
      const r = await create({ input: { name, connectorType: type, config, credentials: newCredentials } });
      if (r.error) return setError(r.error);
      if (r.data) location.hash = hrefOf({ page: 'connection', id: r.data.createConnection.id });
      return;
    }
    const r = await update({ id: mode.id, input: { name, config, ...(newCredentials ? { credentials: newCredentials } : {}) } });
    if (r.error) return setError(r.error);
    setCredentials({});
    setSaved('Connection saved.');
  }

  return (
    <form onSubmit={(e) => void submit(e)} aria-label={mode.kind === 'create' ? 'New connection' : 'Connection settings'}>
      {mode.kind === 'create' && (
        <div className="field">
          <label htmlFor="connector-type">Connector</label>
          <select id="connector-type" value={type} onChange={(e) => setType(e.target.value)} disabled={!actions}>
            {connectors.map((k) => (
              <option key={k.type} value={k.type}>
                {k.displayName}
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="field">
        <label htmlFor="connection-name">Name</label>
        <input id="connection-name" value={name} required onChange={(e) => setName(e.target.value)} disabled={!actions} />
      </div>
      {connector && (
        <>
          <SchemaFields key={`config-${type}`} schema={connector.configSchema} value={config} onChange={setConfig} label="Config" disabled={!actions} />
          {connector.credentialsSchema != null && (
            <>
              <SchemaFields
                key={`credentials-${type}`}
                schema={connector.credentialsSchema}
                value={credentials}
                onChange={setCredentials}
                label="Credentials"
                secret
                disabled={!actions}
              />
              <p className="hint">
                Credentials are write-only: never shown again.
                {mode.kind === 'edit' && (mode.hasCredentials ? ' Some are stored; leave the type at none to keep them.' : ' None are stored.')}
              </p>
            </>
          )}
        </>
      )}
      <button type="submit" disabled={!actions}>
        {mode.kind === 'create' ? 'Create connection' : 'Save connection'}
      </button>
      <ApiError error={error} />
      {saved && <p role="status">{saved}</p>}
    </form>
  );
}
