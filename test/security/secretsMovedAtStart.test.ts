/**
 * Connections stored before secrets were refused in config (README "Secrets
 * and credentials", src/auth/secretsOutOfConfig.ts): at start, an http
 * connection with one secret in its config and no credentials gets it moved
 * into its credentials (encrypted, out of the config every role reads); one
 * that cannot be moved stops the start, naming the connection.
 */
import pino from 'pino';
import { startSluice } from '../../src/app';
import { CredentialCipher } from '../../src/auth/credentialCipher';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startFakeApi, type FakeApi } from '../support/fakeApi';
import { createHttpConnection } from '../support/flows';
import { useTestSluice, type TestSluice } from '../support/sluice';

interface Row {
  config: Record<string, unknown>;
  credentials: Buffer | null;
}

async function rowOf(s: TestSluice, id: string): Promise<Row> {
  const rows = (await s.sluice.dataSource.query(`SELECT config, credentials FROM connection WHERE id = $1`, [id])) as Row[];
  return rows[0]!;
}

/** What a process of an earlier release could have stored: the config written as is. */
async function storeConfig(s: TestSluice, id: string, config: Record<string, unknown>): Promise<void> {
  await s.sluice.dataSource.query(`UPDATE connection SET config = $2 WHERE id = $1`, [id, JSON.stringify(config)]);
}

describe('secrets moved out of config at start', () => {
  const s = useTestSluice();
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi();
  });
  afterAll(() => api.close());

  /** Starts (and stops) a second process on the same database, as a restart after an upgrade does; its log lines. */
  async function restart(): Promise<string[]> {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) } as unknown as pino.DestinationStream);
    const config = loadConfig({ DATABASE_URL: s.databaseUrl, CREDENTIALS_KEY: s.credentialsKey, PORT: '0', ROLE: 'api' });
    const running = await startSluice(config, logger);
    await running.close();
    return lines;
  }

  const open = (id: string, sealed: Buffer): unknown => new CredentialCipher(Buffer.from(s.credentialsKey, 'base64')).open(id, sealed);

  it('moves a secret-looking header into header credentials and user info into basic credentials, and logs each', async () => {
    const header = await createHttpConnection(s, `${api.url}/v1`, { name: 'old header' });
    await storeConfig(s, header, { baseUrl: `${api.url}/v1`, headers: { 'X-Tenant': 'acme', 'X-Api-Key': 'moved-key-1' } });
    const userInfo = await createHttpConnection(s, `${api.url}/v1`, { name: 'old user info' });
    await storeConfig(s, userInfo, { baseUrl: `http://alice:p%40ss@${new URL(api.url).host}/v1` });

    const lines = await restart();

    const moved = await rowOf(s, header);
    expect(moved.config).toEqual({ baseUrl: `${api.url}/v1`, headers: { 'X-Tenant': 'acme' } });
    expect(open(header, moved.credentials!)).toEqual({ type: 'header', name: 'X-Api-Key', value: 'moved-key-1' });
    const basic = await rowOf(s, userInfo);
    expect(basic.config).toEqual({ baseUrl: `${api.url}/v1` });
    expect(open(userInfo, basic.credentials!)).toEqual({ type: 'basic', username: 'alice', password: 'p@ss' });

    expect(lines.filter((l) => l.includes('into its credentials') && (l.includes(header) || l.includes(userInfo)))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('moved-key-1') || l.includes('p@ss') || l.includes('p%40ss'))).toEqual([]);

    // And the moved secret is still sent, now as credentials.
    await s.ok(`mutation($id: ID!) { testConnection(id: $id) { ok } }`, { id: header });
    expect(api.requests.at(-1)?.headers['x-api-key']).toBe('moved-key-1');
  });

  it('refuses to start, naming the connection, when the secret cannot be moved (credentials already there), and changes nothing', async () => {
    const stuck = await createHttpConnection(s, `${api.url}/v1`, {
      name: 'has both',
      credentials: { type: 'bearer', token: 'the-real-token' },
    });
    await storeConfig(s, stuck, { baseUrl: `${api.url}/v1`, headers: { Authorization: 'Bearer stuck-secret' } });
    const before = await rowOf(s, stuck);

    const refused = (await restart().then(
      () => new Error('started'),
      (error: Error) => error,
    )).message;
    expect(refused).toMatch(new RegExp(`connection "has both" \\(${stuck}\\): config\\.headers\\.Authorization \\(it already has credentials\\)`));
    expect(refused).not.toContain('stuck-secret');
    expect(await rowOf(s, stuck)).toEqual(before);

    // Once the operator removed one of the two, the start goes on.
    await s.sluice.dataSource.query(`UPDATE connection SET config = config #- '{headers,Authorization}' WHERE id = $1`, [stuck]);
    await expect(restart()).resolves.toEqual(expect.any(Array));
  });
});
