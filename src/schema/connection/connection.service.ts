/**
 * Connections: their settings, write-only credentials, concurrency policy and
 * place in the borrow graph. Every change validates first and writes in one
 * transaction, so a rejected request changes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { CredentialCipher } from '../../auth/credentialCipher';
import type { ConnectorRegistry } from '../../connectors/registry';
import { ConnectionRow } from '../../database/entities';
import { choosePolicy, policyToColumns, probeNow, type RateLimit } from '../../engine';
import type { Logger } from '../../logger';
import { connectorLogger } from '../../connectors/connectorLogger';
import { connectorErrorKind, type ConnectorError } from '../../connectors/sdk';
import { badUserInput, conflict, isWellFormedId, notFound } from '../common/errors';
import { findOrNotFound } from '../common/ids';
import type { Page } from '../common/paging';
import { validName } from '../common/names';
import { LOCK_BORROW_GRAPH, lockBorrowGraph, moveSubtreeToQueueOwner, subtreeIds } from './borrowGraph';
import { typeormQueryable } from '../../database/typeormQueryable';
import { poolOf } from '../../database/pool';
import { inTransaction } from '../../database/transaction';
import type { Queryable } from '../../database/queryable';
import { connectionsWithCounts, type ConnectionWithCounts } from './connectionReads';
import { configSecretProblems, credentialHeaderProblems } from '../../auth/secretsInConfig';
import { deleteUnreferencedConnection, insertConnection, renameConnection, setPolicy } from './connectionWrites';

export interface CreateConnection {
  name: string;
  connectorType: string;
  config?: unknown;
  credentials?: unknown;
  concurrencyLevel?: number | null;
  autoRecoverRateLimitErrors?: boolean | null;
  rateLimit?: RateLimit | null;
  borrowConcurrencyFromId?: string | null;
}

export interface UpdateConnection {
  name?: string | null;
  config?: unknown;
  /** undefined: keep; null: remove; a value: replace. */
  credentials?: unknown;
}

export interface SetConcurrency {
  connectionId: string;
  level: number | null;
  autoRecoverRateLimitErrors: boolean;
  rateLimit: RateLimit | null;
}

export interface ConnectionTest {
  ok: boolean;
  message: string | null;
  latencyMs: number | null;
  /** When not ok: the connector's code (OUTBOUND_DENIED, CREDENTIALS_UNREADABLE, HTTP_401, …), when it gave one. */
  code: string | null;
}

const TEST_TIMEOUT_MS = 15000;

/** The trimmed name, or null when validName would refuse it. */
function validNameOrNull(name: string): string | null {
  try {
    return validName('connection', name);
  } catch {
    return null;
  }
}

export class ConnectionService {
  /** Plain SQL for the frequent requests (database/pool.ts). */
  private readonly sql: Queryable;

  constructor(
    private readonly db: DataSource,
    private readonly connectors: ConnectorRegistry,
    private readonly cipher: CredentialCipher,
    private readonly maxConcurrencyLevel: number,
    private readonly logger: Logger,
  ) {
    this.sql = poolOf(db);
  }

  /** Every connection, oldest first, with its queue's numbers. */
  /** Oldest first; NOT_FOUND when `after` names no connection. */
  async list(page: Page = { first: null, after: null }): Promise<ConnectionWithCounts[]> {
    const found = await connectionsWithCounts(this.sql, null, page);
    // An empty page may mean an `after` that names nothing: ask only then.
    if (found.length === 0 && page.after !== null && page.first !== 0) {
      const { rows } = await this.sql.query(`SELECT 1 FROM connection WHERE id = $1`, [page.after]);
      if (rows.length === 0) throw notFound('connection', page.after);
    }
    return found;
  }

  /** One connection with its queue's numbers, or NOT_FOUND. */
  async get(id: string): Promise<ConnectionWithCounts> {
    if (!isWellFormedId(id)) throw notFound('connection', id);
    const [found] = await connectionsWithCounts(this.sql, id);
    if (!found) throw notFound('connection', id);
    return found;
  }

  async create(input: CreateConnection): Promise<ConnectionRow> {
    const name = validName('connection', input.name);
    const connector = this.connectors.get(input.connectorType);
    if (!connector) {
      const installed = this.connectors.list().map((c) => c.type).join(', ');
      throw badUserInput(`no connector of type "${input.connectorType}" is installed (installed: ${installed})`);
    }
    const config = this.validConfig(input.connectorType, input.config);
    const application = this.application(input.connectorType, config);
    const credentials = input.credentials == null ? null : this.validCredentials(input.connectorType, input.credentials);

    const borrowing = input.borrowConcurrencyFromId != null;
    if (borrowing) {
      const own = (['concurrencyLevel', 'autoRecoverRateLimitErrors', 'rateLimit'] as const).filter((f) => input[f] != null);
      if (own.length > 0) {
        throw badUserInput(`a borrower takes its queue owner's concurrency policy, so ${own.join(', ')} must not be given`);
      }
    }
    const choice = choosePolicy(
      input.concurrencyLevel ?? null,
      input.autoRecoverRateLimitErrors ?? true,
      input.rateLimit ?? null,
      this.maxConcurrencyLevel,
    );
    if (!choice.ok) throw badUserInput(choice.problem);

    const id: string = randomUUID();
    const newRow = (borrowFromId: string | null, queueOwnerId: string): ConnectionRow => {
      const now = new Date();
      return {
        id,
        name,
        connectorType: input.connectorType,
        application,
        config,
        credentials: credentials === null ? null : this.cipher.seal(id, credentials),
        borrowFromId,
        queueOwnerId,
        ...policyToColumns(choice.policy),
        // A new connection is ONLINE (the column's default; insertConnection leaves it to the database).
        state: 'ONLINE',
        stateChangedAt: now,
        stateReason: null,
        nextProbeAt: null,
        createdAt: now,
        updatedAt: now,
      };
    };
    const created = (row: ConnectionRow): ConnectionRow => {
      this.logger.info({ connectionId: id, connectorType: input.connectorType, application }, 'connection created');
      return row;
    };
    // Its own queue owner: one INSERT, atomic on its own, touches nothing else.
    if (!borrowing) {
      const row = newRow(null, id);
      await insertConnection(this.sql, row);
      return created(row);
    }
    return this.db.transaction(async (tx) => {
      await lockBorrowGraph(tx);
      const from = await findOrNotFound(tx, ConnectionRow, 'connection', input.borrowConcurrencyFromId as string);
      this.assertSameApplication(application, from);
      const row = newRow(from.id, from.queueOwnerId);
      await insertConnection(typeormQueryable(tx), row);
      return created(row);
    });
  }

  async update(id: string, input: UpdateConnection): Promise<ConnectionRow> {
    if (input.name === null) throw badUserInput('name cannot be null; leave it out to keep it');
    if (input.config === null) throw badUserInput('config cannot be null; leave it out to keep it');
    // A rename leaves config, so the application and the borrow graph, and
    // the credentials alone: one UPDATE does it. New credentials need the
    // connector type to validate; any change of config or credentials (their
    // removal too) probes an OFFLINE connection at once, in the transaction;
    // and a bad name or id must fail as the general path fails (NOT_FOUND
    // before a bad name): those take the general path.
    const name = input.name === undefined ? null : validNameOrNull(input.name);
    if (input.config === undefined && input.credentials === undefined && (input.name === undefined || name !== null) && isWellFormedId(id)) {
      const row = await renameConnection(this.sql, id, { name, updatedAt: new Date() });
      if (!row) throw notFound('connection', id);
      return row;
    }
    return this.db.transaction(async (tx) => {
      // Only a move to another application touches the borrow graph (borrowing
      // is within one application), so only then is the graph lock taken, and
      // taken first, as borrow() takes it, so the two cannot deadlock. Every
      // other edit needs the row's own lock only: a global lock here put every
      // rename and config change of every connection in one line (under
      // `npm run bench -- apiLoad`, most of the API's time was that wait).
      const before = await findOrNotFound(tx, ConnectionRow, 'connection', id);
      const newApplication = input.config === undefined ? before.application : this.application(before.connectorType, this.validConfig(before.connectorType, input.config));
      const moving = newApplication !== before.application;
      if (moving) await lockBorrowGraph(tx);
      const row = await findOrNotFound(tx, ConnectionRow, 'connection', id, 'pessimistic_write');
      if (!moving && row.application !== before.application) throw conflict(`connection "${row.name}" changed meanwhile; try again`);
      const changes: Partial<ConnectionRow> = { updatedAt: new Date() };
      if (input.name !== undefined) changes.name = validName('connection', input.name);
      if (input.config !== undefined) {
        const config = this.validConfig(row.connectorType, input.config);
        const application = this.application(row.connectorType, config);
        if (application !== row.application) {
          await this.assertApplicationMayChange(tx, row, application);
          // Credentials belong to their application: a move without new ones
          // (or null) would send the stored ones wherever the new config points.
          if (input.credentials === undefined) {
            throw badUserInput(
              `this config moves "${row.name}" from ${row.application} to ${application}: credentials belong to their application, so give new credentials (or credentials: null) in the same input`,
            );
          }
        }
        changes.config = config;
        changes.application = application;
      }
      if (input.credentials === null) changes.credentials = null;
      else if (input.credentials !== undefined) {
        changes.credentials = this.cipher.seal(id, this.validCredentials(row.connectorType, input.credentials));
      }
      await tx.update(ConnectionRow, { id }, changes);
      // New config or credentials may be what an OFFLINE connection needed
      // (a fixed baseUrl, a renewed token): its next probe is due now, not
      // after its backoff. A no-op for a connection that is not OFFLINE.
      if (input.config !== undefined || input.credentials !== undefined) await probeNow(typeormQueryable(tx), id);
      return { ...row, ...changes };
    });
  }

  async delete(id: string): Promise<boolean> {
    if (!isWellFormedId(id)) throw notFound('connection', id);
    // The graph lock first (as borrow() takes it), in BEGIN's round trip;
    // then the row's, so that no step, borrower or message can start to
    // refer to it while the references are counted.
    return inTransaction(
      this.sql,
      async (tx) => {
        const { rows } = await tx.query<{ name: string }>(`SELECT name FROM connection WHERE id = $1 FOR UPDATE`, [id]);
        const row = rows[0];
        if (!row) throw notFound('connection', id);
        const { steps, borrowers, live } = await deleteUnreferencedConnection(tx, id);
        if (steps > 0) throw conflict(`connection "${row.name}" is used by ${steps} step(s); replace or remove them first`);
        if (borrowers > 0) throw conflict(`${borrowers} connection(s) borrow from "${row.name}"; stop their borrowing first`);
        // With no steps and no borrowers a queue can still hold messages: a
        // former borrower's running ones stay where they started (and messages
        // of a replaced step finish on their old connection). queue_message
        // references the connection, so deleting now would fail on the foreign key.
        if (live > 0) throw conflict(`${live} message(s) are still in the queue of "${row.name}"; wait for them to finish`);
        return true;
      },
      LOCK_BORROW_GRAPH,
    );
  }

  async setConcurrency(input: SetConcurrency): Promise<ConnectionRow> {
    const choice = choosePolicy(input.level, input.autoRecoverRateLimitErrors, input.rateLimit, this.maxConcurrencyLevel);
    // A valid policy for a connection that does not borrow: one statement
    // (connectionWrites.ts). Otherwise the general path below says what is
    // wrong, in its order: NOT_FOUND, then borrowing, then the policy.
    if (choice.ok && isWellFormedId(input.connectionId)) {
      const row = await setPolicy(this.sql, input.connectionId, policyToColumns(choice.policy), new Date());
      if (row) {
        this.logger.info({ connectionId: row.id, policy: choice.policy }, 'concurrency policy set');
        return row;
      }
    }
    return this.db.transaction(async (tx) => {
      // The row lock is enough: borrow() locks the borrowing connection's row
      // too, so a connection cannot become a borrower while its level is set.
      const row = await findOrNotFound(tx, ConnectionRow, 'connection', input.connectionId, 'pessimistic_write');
      if (row.borrowFromId !== null) {
        throw badUserInput(
          `connection "${row.name}" borrows its concurrency; set it on its queue owner ${row.queueOwnerId} or stop borrowing first`,
        );
      }
      if (!choice.ok) throw badUserInput(choice.problem);
      // Here only when the row changed between the fast path and this lock: the same statement.
      const updated = await setPolicy(typeormQueryable(tx), row.id, policyToColumns(choice.policy), new Date());
      if (!updated) throw new Error(`connection ${row.id} vanished under its row lock`);
      this.logger.info({ connectionId: row.id, policy: choice.policy }, 'concurrency policy set');
      return updated;
    });
  }

  /**
   * Makes `connectionId` use the queue of `fromConnectionId` (null: its own
   * again). The connection's borrowers come along, and every queued message of
   * theirs moves to the new queue owner; messages keep their ids, so FIFO
   * order within the new queue is enqueue order.
   */
  async borrow(connectionId: string, fromConnectionId: string | null): Promise<ConnectionRow> {
    return this.db.transaction(async (tx) => {
      await lockBorrowGraph(tx);
      const row = await findOrNotFound(tx, ConnectionRow, 'connection', connectionId, 'pessimistic_write');
      let borrowFromId: string | null = null;
      let queueOwnerId = row.id;
      if (fromConnectionId !== null) {
        const from = await findOrNotFound(tx, ConnectionRow, 'connection', fromConnectionId);
        if (from.id === row.id) throw badUserInput('a connection cannot borrow from itself');
        this.assertSameApplication(row.application, from);
        const subtree = await subtreeIds(tx, row.id);
        if (subtree.includes(from.id)) {
          throw badUserInput(`"${from.name}" already borrows (directly or through a chain) from "${row.name}": that would be a cycle`);
        }
        borrowFromId = from.id;
        queueOwnerId = from.queueOwnerId;
      }
      const changes = { borrowFromId, queueOwnerId, updatedAt: new Date() };
      await tx.update(ConnectionRow, { id: row.id }, changes);
      await moveSubtreeToQueueOwner(tx, row.id, queueOwnerId);
      this.logger.info({ connectionId: row.id, borrowFromId, queueOwnerId }, 'borrowing changed');
      return { ...row, ...changes };
    });
  }

  async test(id: string, signal?: AbortSignal): Promise<ConnectionTest> {
    const { row } = await this.get(id);
    const connector = this.connectors.get(row.connectorType);
    if (!connector) return { ok: false, message: `connector "${row.connectorType}" is not installed`, latencyMs: null, code: 'UNKNOWN_CONNECTOR' };
    if (!connector.ping) return { ok: true, message: `connector "${row.connectorType}" has no ping; settings are valid`, latencyMs: null, code: null };
    const started = performance.now();
    const timeout = AbortSignal.timeout(TEST_TIMEOUT_MS);
    try {
      const result = await connector.ping({
        config: row.config,
        credentials: this.credentialsOf(row) as Record<string, unknown> | null,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        logger: connectorLogger(this.logger, { connectionId: row.id, call: 'ping' }),
      });
      return {
        ok: result.ok,
        message: result.message ?? null,
        latencyMs: Math.round(performance.now() - started),
        code: result.ok ? null : typeof result.code === 'string' ? result.code : null,
      };
    } catch (error) {
      const code = connectorErrorKind(error) === undefined ? null : String((error as ConnectorError).code);
      return { ok: false, message: error instanceof Error ? error.message : String(error), latencyMs: Math.round(performance.now() - started), code };
    }
  }

  /** The decrypted credentials: only for calls to the external application, never for a response or a log. */
  credentialsOf(row: ConnectionRow): unknown {
    return row.credentials === null ? null : this.cipher.open(row.id, row.credentials);
  }

  private validConfig(type: string, config: unknown): Record<string, unknown> {
    if (config !== null && typeof config === 'object' && !Array.isArray(config)) {
      const secrets = configSecretProblems(config as Record<string, unknown>);
      if (secrets.length > 0) throw badUserInput('config holds what belongs in credentials or cannot be sent', secrets);
    }
    const result = this.connectors.validateConfig(type, config ?? {});
    if (!result.ok) throw badUserInput(`config does not match the ${type} connector's configSchema`, result.problems);
    return result.value;
  }

  private validCredentials(type: string, credentials: unknown): Record<string, unknown> {
    const unsendable = credentialHeaderProblems(credentials);
    if (unsendable.length > 0) throw badUserInput('credentials cannot be sent as HTTP headers', unsendable);
    const result = this.connectors.validateCredentials(type, credentials);
    // Name the problems but never echo the values: they are secrets.
    if (!result.ok) throw badUserInput(`credentials do not match the ${type} connector's credentialsSchema`, result.problems);
    return result.value;
  }

  private application(type: string, config: Record<string, unknown>): string {
    try {
      return (this.connectors.get(type) as NonNullable<ReturnType<ConnectorRegistry['get']>>).application(config);
    } catch (error) {
      throw badUserInput(`the ${type} connector cannot derive an application from config: ${String(error)}`);
    }
  }

  private assertSameApplication(application: string, from: ConnectionRow): void {
    if (from.application !== application) {
      throw badUserInput(`"${from.name}" is a connection to ${from.application}, not ${application}: borrowing stays within one application`);
    }
  }

  /** The borrow graph holds one application per chain; a change of endpoint may not break that. */
  private async assertApplicationMayChange(tx: EntityManager, row: ConnectionRow, application: string): Promise<void> {
    const borrowers = await tx.count(ConnectionRow, { where: { borrowFromId: row.id } });
    if (row.borrowFromId !== null || borrowers > 0) {
      throw conflict(`"${row.name}" shares a queue with other connections of ${row.application}; it cannot move to ${application} while borrowing or lent`);
    }
  }
}
