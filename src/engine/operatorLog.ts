/**
 * The engine's log lines an on-call engineer works from, each naming what it
 * is about by name and id:
 *
 * - `record failed`: one line per record that failed for good (a JobError),
 *   with its job, flow, step, connection, code, HTTP status and attempts;
 *   `source failed` for an export or download that failed (the job fails).
 * - `job finished`: one line per job this process finished, with its counts.
 * - `level in use a → b`: every change auto-recovery made to a queue's level.
 *
 * Written after the outcomes' commit, so a line means the JobError or the
 * job's end is in the database. The names are read then (one statement per
 * kind per committed batch that needs them), not cached: a renamed
 * connection is logged by its new name. Never rejects; a name that cannot be
 * read is logged as null rather than losing the line.
 *
 * No record's content is logged (it is the business's data, and may hold
 * anything): the JobError keeps it, readable through the API.
 */
import type { Logger } from '../logger';
import type { EngineMetrics } from './engineMetrics';
import type { Outcome } from './outcome';
import type { Queryable } from '../database/queryable';
import { connectionNames, jobSummaries, type JobSummary, type LevelChange, type PlannedStep } from './store';

/** The contract's `HTTP_<status>` codes (the http connector's permanent errors; plugins may use them too). */
function httpStatusOf(code: string): number | null {
  const match = /^HTTP_(\d{3})$/.exec(code);
  return match ? Number(match[1]) : null;
}

async function orEmpty<K, V>(read: Promise<Map<K, V>>, logger: Logger, what: string): Promise<Map<K, V>> {
  try {
    return await read;
  } catch (error) {
    logger.warn({ err: error }, `reading ${what} for the log failed; logged without them`);
    return new Map();
  }
}

export class OperatorLog {
  constructor(
    private readonly db: Queryable,
    private readonly logger: Logger,
    private readonly metrics: EngineMetrics,
  ) {}

  /**
   * After a commit of `outcomes` that finished `finishedJobs`. `steps` gives
   * a job's plan (in memory: the call that failed loaded it); it is asked
   * before this returns the first time, so the caller may forget the plans
   * of finished jobs right after calling.
   */
  async committed(outcomes: Outcome[], finishedJobs: string[], steps: (jobId: string) => Promise<PlannedStep[]>): Promise<void> {
    const failures = outcomes.filter((o): o is Extract<Outcome, { kind: 'done' }> => o.kind === 'done' && o.errors.length > 0);
    if (failures.length === 0 && finishedJobs.length === 0) return;
    // The plans now, before the caller forgets those of finished jobs.
    const plans = new Map(failures.map((o) => [o.message.jobId, steps(o.message.jobId)]));
    const jobIds = [...new Set([...failures.map((o) => o.message.jobId), ...finishedJobs])];
    const connectionIds = [...new Set(failures.map((o) => o.message.connectionId))];
    const [jobs, names] = await Promise.all([
      orEmpty(jobSummaries(this.db, jobIds), this.logger, 'jobs'),
      orEmpty(connectionNames(this.db, connectionIds), this.logger, 'connection names'),
    ]);
    for (const outcome of failures) await this.failed(outcome, jobs.get(outcome.message.jobId), names, plans.get(outcome.message.jobId));
    for (const id of finishedJobs) this.finished(id, jobs.get(id));
  }

  private async failed(
    outcome: Extract<Outcome, { kind: 'done' }>,
    job: JobSummary | undefined,
    names: Map<string, string>,
    steps: Promise<PlannedStep[]> | undefined,
  ): Promise<void> {
    const { message } = outcome;
    const plan = (await steps?.catch(() => undefined)) ?? [];
    for (const error of outcome.errors) {
      const step = plan.find((s) => s.id === error.stepId);
      const source = outcome.delta.sourceFailed;
      this.logger.warn(
        {
          jobId: message.jobId,
          flowId: job?.flowId ?? null,
          flowName: job?.flowName ?? null,
          stepId: error.stepId,
          stepPosition: step?.position ?? null,
          stepKind: step?.kind ?? null,
          connectionId: message.connectionId,
          connectionName: names.get(message.connectionId) ?? null,
          queueOwnerId: message.queueOwnerId,
          messageId: message.id,
          code: error.code,
          httpStatus: httpStatusOf(error.code),
          attempts: message.attempts,
          reason: error.message,
        },
        source ? 'source failed; the job fails' : 'record failed',
      );
    }
  }

  private finished(jobId: string, job: JobSummary | undefined): void {
    const status = job?.status;
    if (status === 'COMPLETED' || status === 'FAILED') this.metrics.jobFinished(status);
    this.logger.info(
      {
        jobId,
        flowId: job?.flowId ?? null,
        flowName: job?.flowName ?? null,
        status: status ?? null,
        recordsExported: job?.recordsExported ?? null,
        recordsSucceeded: job?.recordsSucceeded ?? null,
        recordsFailed: job?.recordsFailed ?? null,
        durationMs: job?.durationMs ?? null,
      },
      'job finished',
    );
  }

  /** A change of a queue's level in use (auto-recovery), naming the queue owner. */
  /** A connection's state changed (connectionHealth.ts): the operator's line, by name, with why. */
  async stateChanged(connectionId: string, to: 'OFFLINE' | 'ONLINE', reason: string, detail: string | null): Promise<void> {
    const names = await orEmpty(connectionNames(this.db, [connectionId]), this.logger, 'connection names');
    const name = names.get(connectionId) ?? connectionId;
    const line = to === 'OFFLINE'
      ? `connection ${name} is OFFLINE (${reason}): ${detail ?? 'no detail'}; nothing of it starts until a probe answers`
      : `connection ${name} is ONLINE again (${reason}); its messages start in order`;
    (to === 'OFFLINE' ? this.logger.warn : this.logger.info).call(this.logger, { connectionId, connectionName: names.get(connectionId) ?? null, state: to, reason }, line);
  }

  async levelChanged(queueOwnerId: string, change: LevelChange): Promise<void> {
    const names = await orEmpty(connectionNames(this.db, [queueOwnerId]), this.logger, 'connection names');
    this.logger.info(
      { queueOwnerId, connectionId: queueOwnerId, connectionName: names.get(queueOwnerId) ?? null, ...change },
      `level in use ${change.from} → ${change.to} (${change.reason})`,
    );
  }
}
