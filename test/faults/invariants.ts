/**
 * What Sluice promises whatever goes wrong (issue #7: the fault suite), as
 * one assertion a fault test states in one line once its job has ended:
 *
 * 1. The job reached a final state, and its counts add up: every record the
 *    source holds was exported, and each is either a success or a failure.
 * 2. No record is lost: every record reached the application (was imported)
 *    or is kept as a JobError with a code and a message; a success is a
 *    record the application has.
 * 3. Duplicates only as at-least-once allows: every request for one record,
 *    retries and reruns included, carried the same Idempotency-Key, and no
 *    two records shared one.
 * 4. The connection's level was never exceeded, as the application saw it
 *    (requests in flight at once, replayed in the order they happened).
 *
 * Works with the recording API (test/support/recordingApi.ts) and a flow that
 * exports `orders(n)` and imports one record per request.
 */
import type { JobView } from '../support/flows';
import type { RecordingApi } from '../support/recordingApi';

export interface FaultRun {
  api: RecordingApi;
  /** The job as the API shows it once it ended (waitForJob). */
  job: JobView;
  /** The ids of the records the source holds (`orders(n)`: 1..n). */
  recordIds: number[];
  /** The level of the connection the requests go through. */
  level: number;
  /** Which of the application's requests go through that connection: all of them unless said otherwise. */
  through?: (path: string) => boolean;
  /** Where records are imported (the import step's path). */
  importPath?: string;
}

export interface FaultRunSummary {
  /** Ids of the records the application took in more than once (the same key each time). */
  importedTwice: number[];
  /** Ids of the records kept as JobErrors. */
  failed: number[];
}

const FINAL = ['COMPLETED', 'FAILED', 'CANCELED'];

const idOf = (record: unknown): number | undefined => (record as { id?: unknown } | null)?.id as number | undefined;
const sorted = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);

/** The records of one import body: one record, or a batch. */
function recordsOf(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body];
}

export function expectFaultInvariants(run: FaultRun): FaultRunSummary {
  const { api, job, recordIds, level } = run;
  const importPath = run.importPath ?? '/import';
  const isImport = (path: string): boolean => path === importPath || path.startsWith(`${importPath}?`);

  // 1. A final state, with counts that add up.
  expect(FINAL).toContain(job.status);
  expect(job.recordsExported).toBe(recordIds.length);
  expect(job.recordsSucceeded + job.recordsFailed).toBe(job.recordsExported);

  // 2. Every record imported or kept as a JobError that says why.
  const recordErrors = job.errors.filter((e) => idOf(e.record) !== undefined);
  for (const e of recordErrors) {
    expect(e.code).toMatch(/\S/);
    expect(e.message).toMatch(/\S/);
  }
  const failed = recordErrors.map((e) => idOf(e.record) as number);
  expect(failed).toHaveLength(new Set(failed).size); // one JobError per failed record
  expect(failed).toHaveLength(job.recordsFailed);
  const imported = new Set(api.imported.flatMap(recordsOf).map(idOf));
  const succeeded = recordIds.filter((id) => !failed.includes(id));
  expect(succeeded.filter((id) => !imported.has(id))).toEqual([]);
  expect(succeeded).toHaveLength(job.recordsSucceeded);

  // 3. One Idempotency-Key per record, on every request for it; none shared.
  const keysById = new Map<number, Set<string>>();
  for (const r of api.requests.filter((req) => isImport(req.path))) {
    for (const record of recordsOf(JSON.parse(r.body) as unknown)) {
      const id = idOf(record) as number;
      keysById.set(id, (keysById.get(id) ?? new Set()).add(String(r.headers['idempotency-key'] ?? '')));
    }
  }
  for (const [id, keys] of keysById) {
    expect({ id, keys: [...keys] }).toEqual({ id, keys: [expect.stringMatching(/\S/)] });
  }
  const keys = [...keysById.values()].map((k) => [...k][0]);
  expect(new Set(keys).size).toBe(keys.length);

  // 4. Never more than the level in flight at the application.
  expect(api.peakInFlight(run.through ?? (() => true))).toBeLessThanOrEqual(level);

  const timesImported = new Map<number, number>();
  for (const id of api.imported.flatMap(recordsOf).map(idOf)) {
    if (id !== undefined) timesImported.set(id, (timesImported.get(id) ?? 0) + 1);
  }
  return {
    importedTwice: sorted([...timesImported].filter(([, n]) => n > 1).map(([id]) => id)),
    failed: sorted(failed),
  };
}
