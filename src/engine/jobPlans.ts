/**
 * The plans (ordered steps) of the jobs this process runs messages of, and
 * the connections they call through. Plans live as long as the job; a
 * connection is re-read after a few seconds so that a changed config or
 * credentials take effect without a restart.
 */
import { loadConnection, loadJobPlan, type CallableConnection, type PlannedStep, type Queryable } from './store';
import type { CredentialCipher } from '../auth/credentialCipher';

export type ReadyConnection = Omit<CallableConnection, 'credentials'> & { credentials: unknown };

const CONNECTION_TTL_MS = 2000;
const MAX_PLANS = 10000;

export class JobPlans {
  private readonly plans = new Map<string, Promise<PlannedStep[]>>();
  /** The retry generation each job's cached plan was loaded for (see RetryOrigin.generation). */
  private readonly generations = new Map<string, string>();
  private readonly connections = new Map<string, { at: number; value: Promise<ReadyConnection | null> }>();

  constructor(
    private readonly db: Queryable,
    private readonly cipher: CredentialCipher,
  ) {}

  /**
   * `generation`: a retried message's; a plan cached before that retry may
   * be older than the flow's steps (they may change once a job is over, and
   * only the process that finished the job forgot its plan), so it is read
   * again, once per generation.
   */
  plan(jobId: string, generation?: string): Promise<PlannedStep[]> {
    if (generation !== undefined && this.generations.get(jobId) !== generation) {
      this.plans.delete(jobId);
      this.generations.set(jobId, generation);
      if (this.generations.size > MAX_PLANS) this.generations.delete(this.generations.keys().next().value as string);
    }
    let plan = this.plans.get(jobId);
    if (!plan) {
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
      plan = loadJobPlan(this.db, jobId);
      plan.catch(() => this.plans.delete(jobId));
      this.plans.set(jobId, plan);
    }
    return plan;
  }

  forget(jobId: string): void {
    this.plans.delete(jobId);
    this.generations.delete(jobId);
  }

  /** The connection as stored now (a probe after a config or credentials change must not use the cached one); later calls get it too. */
  freshConnection(id: string): Promise<ReadyConnection | null> {
    this.connections.delete(id);
    return this.connection(id);
  }

  /** The connection with its credentials opened (held in memory only, never logged). */
  connection(id: string, now = Date.now()): Promise<ReadyConnection | null> {
    const cached = this.connections.get(id);
    if (cached && now - cached.at < CONNECTION_TTL_MS) return cached.value;
    const value = loadConnection(this.db, id).then((c) =>
      c ? { ...c, credentials: c.credentials ? this.cipher.open(c.id, c.credentials) : null } : null,
    );
    value.catch(() => this.connections.delete(id));
    this.connections.set(id, { at: now, value });
    return value;
  }
}
