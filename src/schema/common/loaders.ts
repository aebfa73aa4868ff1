/**
 * Per-request batch loaders, so that nested fields (a step's connection, a
 * flow's steps, a connection's queue owner...) cost one query per level, not
 * one per item. Plain SQL on the pool, not TypeORM's find (database/pool.ts
 * says why); the select lists give the rows the entities' shape.
 */
import DataLoader from 'dataloader';
import type { ConnectionRow, FlowRow, JobErrorRow, JobRow, StepRow } from '../../database/entities';
import type { JobErrorStateName } from '../../database/entities/jobError.entity';
import { connectionColumns, flowColumns, jobColumns, stepColumns, splitJoinedRow } from '../../database/entityColumns';
import { errorsOfJobs, jobErrorsById, openErrorsOfFlows } from '../jobError/jobErrorReads';
import type { QueueCounts } from '../connection/queueStats';
import type { Services } from '../services';

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

function byId<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | null)[] {
  const found = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => found.get(id) ?? null);
}

export function createLoaders(services: Services) {
  const { sql } = services;
  const connection = new DataLoader<string, ConnectionRow | null>(async (ids) => {
    const { rows } = await sql.query<ConnectionRow>(`SELECT ${connectionColumns('c')} FROM connection c WHERE c.id = ANY($1::uuid[])`, [ids]);
    return byId(ids, rows);
  });
  // Job.errors(first, state): one loader per argument pair asked for in this request.
  const errorsOfJob = new Map<string, DataLoader<string, JobErrorRow[]>>();
  return {
    connection,
    job: new DataLoader<string, JobRow | null>(async (ids) => {
      const { rows } = await sql.query<JobRow>(`SELECT ${jobColumns('j')} FROM job j WHERE j.id = ANY($1::uuid[])`, [ids]);
      return byId(ids, rows);
    }),
    jobError: new DataLoader<string, JobErrorRow | null>(async (ids) => byId(ids, await jobErrorsById(sql, ids))),
    /** A job's errors in occurrence order, `first` of them, of one state or all. */
    errorsOfJob(state: JobErrorStateName | null, first: number): DataLoader<string, JobErrorRow[]> {
      const key = `${state ?? ''}:${first}`;
      let loader = errorsOfJob.get(key);
      if (!loader) {
        loader = new DataLoader<string, JobErrorRow[]>(async (jobIds) => {
          const byJob = await errorsOfJobs(sql, jobIds, state, first);
          return jobIds.map((id) => byJob.get(id) ?? []);
        });
        errorsOfJob.set(key, loader);
      }
      return loader;
    },
    /** A flow's OPEN errors, from its tally. */
    openErrorsOfFlow: new DataLoader<string, number>(async (ids) => {
      const counts = await openErrorsOfFlows(sql, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    flow: new DataLoader<string, FlowRow | null>(async (ids) => {
      const { rows } = await sql.query<FlowRow>(`SELECT ${flowColumns('f')} FROM flow f WHERE f.id = ANY($1::uuid[])`, [ids]);
      return byId(ids, rows);
    }),
    step: new DataLoader<string, StepRow | null>(async (ids) => {
      const { rows } = await sql.query<StepRow>(`SELECT ${stepColumns('s')} FROM step s WHERE s.id = ANY($1::uuid[])`, [ids]);
      return byId(ids, rows);
    }),
    /** Oldest first. */
    borrowers: new DataLoader<string, ConnectionRow[]>(async (ids) => {
      const { rows } = await sql.query<ConnectionRow>(
        `SELECT ${connectionColumns('c')} FROM connection c WHERE c.borrow_from_id = ANY($1::uuid[]) ORDER BY c.created_at, c.id`,
        [ids],
      );
      const groups = groupBy(rows, (r) => r.borrowFromId as string);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    /**
     * In position order. A flow's steps are nearly always asked for with
     * their connections (a flow page shows where each step goes), so their
     * connections come in the same statement, into the connection loader:
     * one round trip fewer per flow read, for one row per step.
     */
    stepsOfFlow: new DataLoader<string, StepRow[]>(async (ids) => {
      const { rows } = await sql.query<Record<string, unknown>>(
        `SELECT ${stepColumns('s')}, ${connectionColumns('c', 'connection.')}
           FROM step s JOIN connection c ON c.id = s.connection_id
          WHERE s.flow_id = ANY($1::uuid[])
          ORDER BY s.position`,
        [ids],
      );
      const steps = rows.map((row) => {
        const [step, stepConnection] = splitJoinedRow<StepRow, ConnectionRow>(row, 'connection.');
        connection.prime(stepConnection.id, stepConnection);
        return step;
      });
      const groups = groupBy(steps, (r) => r.flowId);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    /** By flow, then position. */
    stepsOfConnection: new DataLoader<string, StepRow[]>(async (ids) => {
      const { rows } = await sql.query<StepRow>(
        `SELECT ${stepColumns('s')} FROM step s WHERE s.connection_id = ANY($1::uuid[]) ORDER BY s.flow_id, s.position`,
        [ids],
      );
      const groups = groupBy(rows, (r) => r.connectionId);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    /** The flows with a step on the connection, once each, by flow id (the order its steps were read in). */
    flowsOfConnection: new DataLoader<string, FlowRow[]>(async (ids) => {
      const { rows } = await sql.query<FlowRow & { connectionId: string }>(
        `SELECT DISTINCT ON (s.connection_id, f.id) s.connection_id AS "connectionId", ${flowColumns('f')}
           FROM step s JOIN flow f ON f.id = s.flow_id
          WHERE s.connection_id = ANY($1::uuid[])
          ORDER BY s.connection_id, f.id`,
        [ids],
      );
      const groups = groupBy(rows, (r) => r.connectionId);
      return ids.map((id) => (groups.get(id) ?? []).map(({ connectionId: _connectionId, ...flow }) => flow));
    }),
    queueCounts: new DataLoader<string, QueueCounts>(async (ownerIds) => {
      const counts = await services.queueStats.forOwners(ownerIds);
      return ownerIds.map((id) => counts.get(id) ?? { queueSize: 0, inFlight: 0 });
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
