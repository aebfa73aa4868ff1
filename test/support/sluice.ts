/**
 * A real Sluice server for a test file: its own database, a random port, a
 * bootstrap ADMINISTER token, and a GraphQL client that speaks HTTP to it.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { startSluice, type RunningSluice } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createTestDatabase } from './database';
import { graphqlClient } from './graphqlClient';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown }; path?: (string | number)[] }[];
}

export interface TestSluice {
  url: string;
  sluice: RunningSluice;
  databaseUrl: string;
  credentialsKey: string;
  adminSecret: string;
  /** Runs one GraphQL operation over HTTP; the admin token unless `secret` says otherwise (null: no token). */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, secret?: string | null): Promise<GraphQLResponse<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, secret?: string | null): Promise<T>;
  /** A token of that role; its secret. */
  token(role: 'ADMINISTER' | 'MANAGE' | 'MONITOR'): Promise<string>;
  close(): Promise<void>;
}

export interface TestSluiceOptions {
  env?: Record<string, string>;
  /**
   * Run the queue engine in this process too. Off by default: API tests then
   * see jobs and messages exactly as the API left them (ROLE=api).
   */
  engine?: boolean;
  /** Capture log lines (JSON strings) instead of discarding them. */
  logLines?: string[];
}

export async function startTestSluice(options: TestSluiceOptions = {}): Promise<TestSluice> {
  const databaseUrl = await createTestDatabase();
  const adminSecret = `admin-${randomBytes(16).toString('hex')}`;
  const credentialsKey = randomBytes(32).toString('base64');
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    CREDENTIALS_KEY: credentialsKey,
    BOOTSTRAP_ADMIN_TOKEN: adminSecret,
    PORT: '0',
    LOG_LEVEL: 'debug',
    ROLE: options.engine ? 'all' : 'api',
    ...options.env,
  });
  const lines = options.logLines;
  const logger = lines
    ? createLogger('debug', { write: (line: string) => void lines.push(line) } as unknown as pino.DestinationStream)
    : createLogger(process.env.TEST_LOG === '1' ? 'warn' : 'silent');
  const sluice = await startSluice(config, logger);
  const url = sluice.url;

  const { gql, ok } = graphqlClient(url, adminSecret);
  return {
    url,
    sluice,
    databaseUrl,
    credentialsKey,
    adminSecret,
    gql,
    ok,
    async token(role) {
      const data = await ok<{ createApiToken: { secret: string } }>(
        `mutation($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { secret } }`,
        { name: `${role.toLowerCase()}-${randomBytes(3).toString('hex')}`, role },
      );
      return data.createApiToken.secret;
    },
    close: () => sluice.close(),
  };
}

/** The code of the first error, for `expect(codeOf(r)).toBe('NOT_FOUND')`. */
export function codeOf(response: GraphQLResponse): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}

/**
 * One Sluice for the enclosing describe block (or file): started before its
 * tests, closed after them. Returns a stand-in that forwards to the running
 * server, so tests write `s.ok(...)` as with startTestSluice's result; it may
 * only be used inside tests and hooks, once the server has started.
 */
export function useTestSluice(options: TestSluiceOptions = {}): TestSluice {
  let running: TestSluice | undefined;
  beforeAll(async () => {
    running = await startTestSluice(options);
  });
  afterAll(async () => {
    await running?.close();
  });
  return new Proxy({} as TestSluice, {
    get(_target, key) {
      if (!running) throw new Error('useTestSluice: the server is used before its beforeAll has started it');
      return running[key as keyof TestSluice];
    },
  });
}
