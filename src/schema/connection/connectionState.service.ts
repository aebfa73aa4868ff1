/**
 * An operator's pause and resume of a connection (pauseConnection,
 * resumeConnection). The engine's store makes the change and notifies the
 * queue (src/engine/sql/connectionStateChanges.ts); this validates, runs it
 * in one transaction with the read of the row the mutation returns, then
 * logs and counts what changed.
 *
 * Pausing a borrower holds the borrower only (the claim passes over its
 * messages in place, the owner's others keep flowing); pausing a queue owner
 * holds its whole queue, borrowers included (their state reads as the
 * owner's: effectiveState.ts).
 */
import type { Counter } from 'prom-client';
import type { ConnectionRow } from '../../database/entities';
import { connectionColumns } from '../../database/entityColumns';
import type { Queryable } from '../../database/queryable';
import { inTransaction } from '../../database/transaction';
import { pauseConnection, resumeConnection, type StateChange } from '../../engine';
import type { Logger } from '../../logger';
import type { ConnectionStateChangeReason } from '../../metrics';
import { badUserInput, isWellFormedId, notFound } from '../common/errors';

/** The longest pause reason, in characters: it is shown beside the state in lists. */
export const MAX_PAUSE_REASON_LENGTH = 500;

/** The trimmed reason, null when blank; BAD_USER_INPUT past MAX_PAUSE_REASON_LENGTH (NUL and lone surrogates never get here: http/badInput.ts). */
export function validPauseReason(reason: string | null): string | null {
  const trimmed = reason?.trim() ?? '';
  if (trimmed.length === 0) return null;
  if (trimmed.length > MAX_PAUSE_REASON_LENGTH) {
    throw badUserInput(`reason must be at most ${MAX_PAUSE_REASON_LENGTH} characters (it has ${trimmed.length})`);
  }
  return trimmed;
}

type Operation = { kind: 'pause'; reason: string | null } | { kind: 'resume' };

export class ConnectionStateService {
  constructor(
    private readonly sql: Queryable,
    private readonly logger: Logger,
    private readonly stateChanges: Counter<'connection' | 'to' | 'reason'>,
  ) {}

  /** PAUSED with that reason; NOT_FOUND for an unknown id. */
  pause(id: string, reason: string | null): Promise<ConnectionRow> {
    return this.change(id, { kind: 'pause', reason: validPauseReason(reason) });
  }

  /** PAUSED → ONLINE; an OFFLINE connection is probed now; an ONLINE one is left alone. NOT_FOUND for an unknown id. */
  resume(id: string): Promise<ConnectionRow> {
    return this.change(id, { kind: 'resume' });
  }

  private async change(id: string, operation: Operation): Promise<ConnectionRow> {
    if (!isWellFormedId(id)) throw notFound('connection', id);
    const { row, change } = await inTransaction(this.sql, async (tx) => {
      const change = await run(tx, id, operation);
      if (!change) throw notFound('connection', id);
      const { rows } = await tx.query<ConnectionRow>(`SELECT ${connectionColumns('c')} FROM connection c WHERE c.id = $1`, [id]);
      return { row: rows[0] as ConnectionRow, change };
    });
    this.report(row, change, operation);
    return row;
  }

  private report(row: ConnectionRow, change: StateChange, operation: Operation): void {
    const fields = { connectionId: row.id, name: row.name, queueOwnerId: change.queueOwnerId, from: change.from, to: change.to };
    switch (operation.kind) {
      case 'pause':
        this.logger.info({ ...fields, reason: operation.reason }, 'connection paused');
        this.count(row.id, change, 'paused');
        return;
      case 'resume':
        this.logger.info(fields, change.from === 'OFFLINE' ? 'connection resumed: probing it now' : 'connection resumed');
        this.count(row.id, change, 'resumed');
        return;
      default: {
        const never: never = operation;
        throw new Error(`unknown state operation ${JSON.stringify(never)}`);
      }
    }
  }

  /** Only a change of state counts: a pause of a paused connection (a new reason) or a resume of an ONLINE one does not. */
  private count(connectionId: string, change: StateChange, reason: ConnectionStateChangeReason): void {
    if (change.from !== change.to) this.stateChanges.inc({ connection: connectionId, to: change.to, reason });
  }
}

function run(tx: Queryable, id: string, operation: Operation): Promise<StateChange | null> {
  switch (operation.kind) {
    case 'pause':
      return pauseConnection(tx, id, operation.reason);
    case 'resume':
      return resumeConnection(tx, id);
    default: {
      const never: never = operation;
      throw new Error(`unknown state operation ${JSON.stringify(never)}`);
    }
  }
}
