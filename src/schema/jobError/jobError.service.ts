/**
 * Failed records: read them, retry them from the step where they failed, or
 * resolve them. Every retry and resolve is logged with the token's name and
 * how many errors it closed.
 */
import type { Logger } from '../../logger';
import type { JsonRecord } from '../../connectors/sdk';
import type { JobErrorRow } from '../../database/entities';
import { inTransaction } from '../../database/transaction';
import { retryOnDeadlock } from '../../database/retryOnDeadlock';
import type { Queryable } from '../../database/queryable';
import { badUserInput, conflict, isWellFormedId, notFound } from '../common/errors';
import { validFirst } from '../job/job.service';
import { checkFilterIds, filterConditions, listJobErrors, type ErrorFilter } from './jobErrorReads';
import { resolveBatch } from './resolveJobErrors';
import { canceledJob, retryBatch, type Replacement } from './retryJobErrors';

/** The most ids one retryJobErrors or resolveJobErrors takes (a filter has no such bound). */
export const MAX_IDS = 1000;
/** Errors retried per transaction when a filter picks them: each batch commits its messages and its RETRIED errors together. */
export const RETRY_BATCH = 1000;

export type RetrySelection = { ids: string[]; record: JsonRecord | null } | { filter: ErrorFilter };

export class JobErrorService {
  constructor(
    private readonly sql: Queryable,
    private readonly logger: Logger,
  ) {}

  list(filter: ErrorFilter | null | undefined, first: number | null | undefined, after: string | null | undefined): Promise<JobErrorRow[]> {
    return listJobErrors(this.sql, filter, validFirst(first, 50), after);
  }

  /** The errors retried, in the order they were kept. */
  async retry(selection: RetrySelection, tokenName: string): Promise<JobErrorRow[]> {
    const retried = 'ids' in selection ? await this.retryIds(selection.ids, selection.record, tokenName) : await this.retryFilter(selection.filter, tokenName);
    this.logger.info({ tokenName, errors: retried.length, by: 'ids' in selection ? 'ids' : 'filter' }, 'job errors retried');
    return retried;
  }

  async resolve(ids: string[], tokenName: string): Promise<JobErrorRow[]> {
    const unique = await this.checkIds(ids);
    const resolved = await retryOnDeadlock(() =>
      inTransaction(this.sql, async (tx) => {
        const rows = await resolveBatch(tx, unique, tokenName);
        // Another operator closed one between the check and the lock: all or nothing.
        if (rows.length < unique.length) throw badUserInput('some of these job errors were closed meanwhile; only OPEN errors can be resolved');
        return rows;
      }),
    );
    this.logger.info({ tokenName, errors: resolved.length }, 'job errors resolved');
    return resolved;
  }

  /** All or nothing: every id an OPEN error whose step exists, else the whole retry is refused. */
  private async retryIds(ids: string[], record: JsonRecord | null, tokenName: string): Promise<JobErrorRow[]> {
    if (record !== null && ids.length !== 1) throw badUserInput(`record replaces the record of one error; ${ids.length} ids were given`);
    if (record !== null && (typeof record !== 'object' || Array.isArray(record))) throw badUserInput('record must be a JSON object');
    const unique = await this.checkIds(ids);
    const { rows: orphans } = await this.sql.query<{ id: string }>(
      `SELECT id FROM job_error WHERE id = ANY($1::uuid[]) AND step_id IS NULL`,
      [unique],
    );
    if (orphans[0]) throw conflict(`the step of job error ${orphans[0].id} was removed from its flow; it cannot be retried (resolve it instead)`);
    const replacement: Replacement = record === null ? null : { record };
    return retryOnDeadlock(() =>
      inTransaction(this.sql, async (tx) => {
        const rows = await retryBatch(tx, unique, tokenName, replacement);
        if (rows.length < unique.length) throw badUserInput('some of these job errors were closed meanwhile; only OPEN errors can be retried');
        return rows;
      }),
    );
  }

  /**
   * Every OPEN error the filter matches when the retry starts, however many,
   * RETRY_BATCH per transaction, in the order they were kept. Errors opened
   * while it runs (a retried record that fails again, say) are left for the
   * next retry: a retry that kept finding its own failures would never end.
   */
  private async retryFilter(filter: ErrorFilter, tokenName: string): Promise<JobErrorRow[]> {
    if (filter.state && filter.state !== 'OPEN') throw badUserInput(`only OPEN errors can be retried; the filter asks for ${filter.state}`);
    const params: unknown[] = [];
    const conditions = [...filterConditions({ ...filter, state: 'OPEN' }, params)].join(' AND ');
    const { rows: bounds } = await this.sql.query<{ last: string | null; orphan: string | null; canceled: string | null }>(
      `SELECT max(e.seq)::text AS last,
              (array_agg(e.id) FILTER (WHERE e.step_id IS NULL))[1] AS orphan,
              (array_agg(j.id) FILTER (WHERE j.status = 'CANCELED'))[1] AS canceled
         FROM job_error e JOIN job j ON j.id = e.job_id
        WHERE ${conditions}`,
      params,
    );
    const last = bounds[0]?.last ?? null;
    const orphan = bounds[0]?.orphan ?? null;
    if (orphan !== null) {
      throw conflict(`the step of job error ${orphan} was removed from its flow; it cannot be retried (resolve it, or narrow the filter)`);
    }
    if (bounds[0]?.canceled) throw canceledJob(bounds[0].canceled);
    if (last === null) {
      await checkFilterIds(this.sql, filter);
      return [];
    }
    const retried: JobErrorRow[] = [];
    let after = '0';
    for (;;) {
      const batch = await retryOnDeadlock(() =>
        inTransaction(this.sql, async (tx) => {
          const { rows } = await tx.query<{ id: string; seq: string }>(
            `SELECT e.id, e.seq FROM job_error e
              WHERE ${conditions} AND e.seq > $${params.length + 1}::bigint AND e.seq <= $${params.length + 2}::bigint
              ORDER BY e.seq
              LIMIT ${RETRY_BATCH}`,
            [...params, after, last],
          );
          const lastSeen = rows.length > 0 ? rows[rows.length - 1]!.seq : null;
          return { lastSeen, rows: await retryBatch(tx, rows.map((r) => r.id), tokenName, null) };
        }),
      );
      retried.push(...batch.rows);
      if (batch.lastSeen === null) break;
      after = batch.lastSeen;
    }
    return retried;
  }

  /** The ids, once each; NOT_FOUND for one that names no error, BAD_USER_INPUT for one that is not OPEN. */
  private async checkIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) throw badUserInput('give at least one job error id');
    const unique = [...new Set(ids)];
    if (unique.length > MAX_IDS) throw badUserInput(`at most ${MAX_IDS} ids at once, got ${unique.length}; use a filter for more`);
    for (const id of unique) if (!isWellFormedId(id)) throw notFound('job error', id);
    const { rows } = await this.sql.query<{ id: string; state: string }>(`SELECT id, state FROM job_error WHERE id = ANY($1::uuid[])`, [unique]);
    const states = new Map(rows.map((r) => [r.id, r.state]));
    for (const id of unique) {
      const state = states.get(id);
      if (state === undefined) throw notFound('job error', id);
      if (state !== 'OPEN') throw badUserInput(`job error ${id} is ${state}; only OPEN errors can be retried or resolved`);
    }
    return unique;
  }
}
