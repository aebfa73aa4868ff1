/**
 * Select lists that give a plain SQL row the shape of its TypeORM entity
 * (camelCase properties, the same types), for the API's statements that skip
 * TypeORM (pool.ts says why). `t` is the table's alias in the statement.
 * test/database/entityColumns.test.ts checks that each list names every
 * column of its entity.
 */

/** [column, property] of each column of a table. */
type Columns = readonly (readonly [string, string])[];

const CONNECTION: Columns = [
  ['id', 'id'],
  ['name', 'name'],
  ['connector_type', 'connectorType'],
  ['application', 'application'],
  ['config', 'config'],
  ['credentials', 'credentials'],
  ['borrow_from_id', 'borrowFromId'],
  ['queue_owner_id', 'queueOwnerId'],
  ['auto_recover', 'autoRecover'],
  ['concurrency_level', 'concurrencyLevel'],
  ['target_concurrency_level', 'targetConcurrencyLevel'],
  ['rate_limit_requests', 'rateLimitRequests'],
  ['rate_limit_per_ms', 'rateLimitPerMs'],
  ['state', 'state'],
  ['state_changed_at', 'stateChangedAt'],
  ['state_reason', 'stateReason'],
  ['next_probe_at', 'nextProbeAt'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
];

const FLOW: Columns = [
  ['id', 'id'],
  ['name', 'name'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
];

const STEP: Columns = [
  ['id', 'id'],
  ['flow_id', 'flowId'],
  ['name', 'name'],
  ['kind', 'kind'],
  ['position', 'position'],
  ['connection_id', 'connectionId'],
  ['config', 'config'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
];

const JOB: Columns = [
  ['id', 'id'],
  ['flow_id', 'flowId'],
  ['status', 'status'],
  ['created_at', 'createdAt'],
  ['started_at', 'startedAt'],
  ['finished_at', 'finishedAt'],
  ['records_exported', 'recordsExported'],
  ['records_succeeded', 'recordsSucceeded'],
  ['records_failed', 'recordsFailed'],
  ['source_failed', 'sourceFailed'],
  ['open_error_count', 'openErrorCount'],
];

const JOB_ERROR: Columns = [
  ['id', 'id'],
  ['seq', 'seq'],
  ['job_id', 'jobId'],
  ['flow_id', 'flowId'],
  ['step_id', 'stepId'],
  ['connection_id', 'connectionId'],
  ['message', 'message'],
  ['code', 'code'],
  ['record', 'record'],
  ['occurred_at', 'occurredAt'],
  ['state', 'state'],
  ['attempts', 'attempts'],
  ['closed_at', 'closedAt'],
  ['closed_by', 'closedBy'],
  ['retry_of', 'retryOf'],
  ['idempotency_key', 'idempotencyKey'],
];

const API_TOKEN: Columns = [
  ['id', 'id'],
  ['name', 'name'],
  ['role', 'role'],
  ['secret_hash', 'secretHash'],
  ['created_at', 'createdAt'],
  ['last_used_at', 'lastUsedAt'],
  ['revoked_at', 'revokedAt'],
];

/** `prefix` tells the columns of a joined table apart in one row (see splitJoinedRow). */
function selectList(columns: Columns, t: string, prefix = ''): string {
  return columns.map(([column, property]) => `${t}.${column} AS "${prefix}${property}"`).join(', ');
}

export const connectionColumns = (t: string, prefix?: string): string => selectList(CONNECTION, t, prefix);
export const flowColumns = (t: string, prefix?: string): string => selectList(FLOW, t, prefix);
export const stepColumns = (t: string): string => selectList(STEP, t);
export const jobColumns = (t: string): string => selectList(JOB, t);
export const jobErrorColumns = (t: string): string => selectList(JOB_ERROR, t);
export const apiTokenColumns = (t: string): string => selectList(API_TOKEN, t);

/** A row of a join, split: its properties that start with `prefix` (without it), and the others. */
export function splitJoinedRow<Own, Joined>(row: Record<string, unknown>, prefix: string): [Own, Joined] {
  const own: Record<string, unknown> = {};
  const joined: Record<string, unknown> = {};
  for (const key in row) {
    if (key.startsWith(prefix)) joined[key.slice(prefix.length)] = row[key];
    else own[key] = row[key];
  }
  return [own as Own, joined as Joined];
}
