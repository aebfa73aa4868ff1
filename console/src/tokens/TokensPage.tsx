/** API tokens (ADMINISTER only): create one (its secret shown once), revoke one. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../gql';
import type { Role } from '../gql/graphql';
import { ApiError } from '../ui/ApiError';

const Tokens = graphql(`
  query ApiTokens {
    apiTokens {
      id
      name
      role
      createdAt
      lastUsedAt
    }
  }
`);

const CreateToken = graphql(`
  mutation CreateApiToken($name: String!, $role: Role!) {
    createApiToken(name: $name, role: $role) {
      secret
      token {
        id
        name
        role
        createdAt
        lastUsedAt
      }
    }
  }
`);

const RevokeToken = graphql(`
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(id: $id)
  }
`);

const ROLES: Role[] = ['MONITOR', 'MANAGE', 'ADMINISTER'];

export function TokensPage() {
  const [{ data, error }, reload] = useQuery({ query: Tokens });
  const [created, create] = useMutation(CreateToken);
  const [revoked, revoke] = useMutation(RevokeToken);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('MONITOR');
  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    const r = await create({ name, role });
    if (!r.error) setName('');
  }
  return (
    <>
      <h1>Tokens</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="New token" className="inline">
        <label>
          Token name
          <input value={name} required onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={created.fetching}>
          Create token
        </button>
      </form>
      <ApiError error={created.error ?? revoked.error ?? error} />
      {created.data && (
        <div role="status" className="secret">
          <p>
            The secret of {created.data.createApiToken.token.name}, shown this once (copy it now):
          </p>
          <code aria-label="New token secret">{created.data.createApiToken.secret}</code>
        </div>
      )}
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(data?.apiTokens ?? []).map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.name}</th>
                <td>{t.role}</td>
                <td>{new Date(t.createdAt).toLocaleString()}</td>
                <td>{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : 'never'}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`Revoke ${t.name}`}
                    onClick={() => void revoke({ id: t.id }).then(() => reload({ requestPolicy: 'network-only' }))}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
