/**
 * Flows and their steps. A flow's steps are a dense, 0-based sequence whose
 * first step is a source (EXPORT or DOWNLOAD) and whose others are LOOKUP or
 * IMPORT. Steps may not change under a running job: those requests get
 * CONFLICT (replaceConnection is the one edit that cancels the jobs instead).
 */
import { randomUUID } from 'node:crypto';
import { In, type DataSource, type EntityManager } from 'typeorm';
import type { ConnectorRegistry } from '../../connectors/registry';
import { RECORD_STEP_KINDS, SOURCE_STEP_KINDS, type StepKindName } from '../../connectors/sdk/stepKind';
import { ConnectionRow, FlowRow, JobRow, StepRow } from '../../database/entities';
import type { JsonObject } from '../../json';
import { ACTIVE_JOB_STATUSES } from '../../database/entities/job.entity';
import { badUserInput, conflict, isWellFormedId, notFound } from '../common/errors';
import { poolOf } from '../../database/pool';
import { flowColumns } from '../../database/entityColumns';
import type { Queryable } from '../../database/queryable';
import { flowWithSteps, type FlowWithSteps } from './flowReads';
import { findOrNotFound } from '../common/ids';
import type { Page } from '../common/paging';
import { validName } from '../common/names';
import { cancelActiveJobs } from '../job/cancelJobs';
import { retryOnDeadlock } from '../../database/retryOnDeadlock';

export interface StepSpec {
  name: string;
  kind: StepKindName;
  connectionId: string;
  config?: unknown;
}

export interface UpdateStep {
  name?: string | null;
  connectionId?: string | null;
  config?: unknown;
}

export interface ReplaceConnectionResult {
  flow: FlowRow;
  replacedSteps: StepRow[];
  canceledJobs: JobRow[];
}

/** The shape rule every flow keeps: a source first, record steps after. */
function assertSequence(kinds: StepKindName[]): void {
  kinds.forEach((kind, position) => {
    const allowed = position === 0 ? SOURCE_STEP_KINDS : RECORD_STEP_KINDS;
    if (!allowed.includes(kind)) {
      throw badUserInput(
        position === 0
          ? `the first step must be EXPORT or DOWNLOAD (a source), not ${kind}`
          : `step ${position} is ${kind}, but only the first step may be a source; later steps are LOOKUP or IMPORT`,
      );
    }
  });
}

export class FlowService {
  /** Plain SQL for the reads (database/pool.ts). */
  private readonly sql: Queryable;

  constructor(
    private readonly db: DataSource,
    private readonly connectors: ConnectorRegistry,
  ) {
    this.sql = poolOf(db);
  }

  /**
   * Oldest first, paged as connections are (common/paging.ts); NOT_FOUND
   * when `after` names no flow. $1: after (or null), $2: first (or null: all).
   */
  async list(page: Page = { first: null, after: null }): Promise<FlowRow[]> {
    const { rows } = await this.sql.query<FlowRow>(
      `SELECT ${flowColumns('f')} FROM flow f
        WHERE $1::uuid IS NULL OR (f.created_at, f.id) > (SELECT a.created_at, a.id FROM flow a WHERE a.id = $1::uuid)
        ORDER BY f.created_at, f.id
        LIMIT $2::int`,
      [page.after, page.first],
    );
    // An empty page may mean an `after` that names nothing: ask only then.
    if (rows.length === 0 && page.after !== null && page.first !== 0) {
      const { rows: named } = await this.sql.query(`SELECT 1 FROM flow WHERE id = $1`, [page.after]);
      if (named.length === 0) throw notFound('flow', page.after);
    }
    return rows;
  }

  /** The flow with its steps and their connections (flowReads.ts), or NOT_FOUND. */
  async getWithSteps(id: string): Promise<FlowWithSteps> {
    if (!isWellFormedId(id)) throw notFound('flow', id);
    const found = await flowWithSteps(this.sql, id);
    if (!found) throw notFound('flow', id);
    return found;
  }

  async create(name: string, specs: StepSpec[]): Promise<FlowRow> {
    const flowName = validName('flow', name);
    assertSequence(specs.map((s) => s.kind));
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const flow = tx.create(FlowRow, { id: randomUUID(), name: flowName, createdAt: now, updatedAt: now });
      const steps: StepRow[] = [];
      for (const [position, spec] of specs.entries()) {
        steps.push(await this.newStep(tx, flow.id, position, spec, now));
      }
      await tx.insert(FlowRow, flow);
      if (steps.length > 0) await tx.insert(StepRow, steps);
      return flow;
    });
  }

  async update(id: string, name: string | null | undefined): Promise<FlowRow> {
    if (name === null) throw badUserInput('name cannot be null; leave it out to keep it');
    return this.db.transaction(async (tx) => {
      const flow = await findOrNotFound(tx, FlowRow, 'flow', id, 'pessimistic_write');
      if (name === undefined) return flow;
      const changes = { name: validName('flow', name), updatedAt: new Date() };
      await tx.update(FlowRow, { id }, changes);
      return { ...flow, ...changes };
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const flow = await this.lockFlowWithoutActiveJobs(tx, id, 'deleted');
      // Steps, jobs, job errors and queue messages go with it (ON DELETE CASCADE).
      await tx.delete(FlowRow, { id: flow.id });
      return true;
    });
  }

  async addStep(flowId: string, spec: StepSpec, position: number | null | undefined): Promise<StepRow> {
    return this.db.transaction(async (tx) => {
      const flow = await this.lockFlowWithoutActiveJobs(tx, flowId, 'changed');
      const steps = await this.stepsOf(tx, flow.id);
      const at = position ?? steps.length;
      if (!Number.isInteger(at) || at < 0 || at > steps.length) {
        throw badUserInput(`position must be from 0 to ${steps.length} (the flow has ${steps.length} step(s))`);
      }
      const kinds = steps.map((s) => s.kind);
      kinds.splice(at, 0, spec.kind);
      assertSequence(kinds);
      const now = new Date();
      const step = await this.newStep(tx, flow.id, at, spec, now);
      // The unique (flow_id, position) constraint is deferred to commit, so shifting in place is safe.
      await tx.query(`UPDATE step SET position = position + 1 WHERE flow_id = $1 AND position >= $2`, [flow.id, at]);
      await tx.insert(StepRow, step);
      await tx.update(FlowRow, { id: flow.id }, { updatedAt: now });
      return step;
    });
  }

  async updateStep(id: string, input: UpdateStep): Promise<StepRow> {
    if (input.name === null) throw badUserInput('name cannot be null; leave it out to keep it');
    if (input.connectionId === null) throw badUserInput('connectionId cannot be null; leave it out to keep it');
    if (input.config === null) throw badUserInput('config cannot be null; leave it out to keep it');
    const newConnectionId = input.connectionId;
    return this.db.transaction(async (tx) => {
      const step = await this.lockStepOfIdleFlow(tx, id);
      const changes: Partial<StepRow> = { updatedAt: new Date() };
      if (input.name !== undefined) changes.name = validName('step', input.name);
      let connection = await findOrNotFound(tx, ConnectionRow, 'connection', step.connectionId);
      if (newConnectionId !== undefined && newConnectionId !== step.connectionId) {
        const next = await findOrNotFound(tx, ConnectionRow, 'connection', newConnectionId, 'pessimistic_read');
        if (next.application !== connection.application) {
          throw badUserInput(`a step may only move to a connection of the same application (${connection.application}), not ${next.application}`);
        }
        connection = next;
        changes.connectionId = next.id;
      }
      if (input.config !== undefined || changes.connectionId !== undefined) {
        changes.config = this.validStepConfig(connection, step.kind, input.config !== undefined ? input.config : step.config);
      }
      await tx.update(StepRow, { id }, changes);
      await tx.update(FlowRow, { id: step.flowId }, { updatedAt: changes.updatedAt });
      return { ...step, ...changes };
    });
  }

  async removeStep(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const step = await this.lockStepOfIdleFlow(tx, id);
      const kinds = (await this.stepsOf(tx, step.flowId)).filter((s) => s.id !== step.id).map((s) => s.kind);
      assertSequence(kinds);
      await tx.delete(StepRow, { id: step.id });
      await tx.query(`UPDATE step SET position = position - 1 WHERE flow_id = $1 AND position > $2`, [step.flowId, step.position]);
      await tx.update(FlowRow, { id: step.flowId }, { updatedAt: new Date() });
      return true;
    });
  }

  /**
   * Points every step of the flow that uses `connectionId` at `newConnectionId`
   * and cancels the flow's queued and running jobs, in one transaction.
   */
  async replaceConnection(flowId: string, connectionId: string, newConnectionId: string): Promise<ReplaceConnectionResult> {
    // It cancels jobs, so it can meet a claim as cancelJob does (retryOnDeadlock.ts).
    return retryOnDeadlock(() => this.db.transaction(async (tx) => {
      const flow = await findOrNotFound(tx, FlowRow, 'flow', flowId, 'pessimistic_write');
      const old = await findOrNotFound(tx, ConnectionRow, 'connection', connectionId);
      const next = await findOrNotFound(tx, ConnectionRow, 'connection', newConnectionId, 'pessimistic_read');
      if (old.id === next.id) throw badUserInput('the new connection is the one the steps already use');
      if (old.application !== next.application) {
        throw badUserInput(`connections can only be replaced by one of the same application: ${old.application} is not ${next.application}`);
      }
      const affected = await tx.find(StepRow, { where: { flowId: flow.id, connectionId: old.id }, order: { position: 'ASC' } });
      if (affected.length === 0) throw badUserInput(`no step of flow "${flow.name}" uses connection "${old.name}"`);
      const now = new Date();
      const replacedSteps = affected.map((s) => ({ ...s, connectionId: next.id, config: this.validStepConfig(next, s.kind, s.config), updatedAt: now }));
      for (const s of replacedSteps) await tx.update(StepRow, { id: s.id }, { connectionId: s.connectionId, config: s.config, updatedAt: now });
      const canceledJobs = await cancelActiveJobs(tx, { flowId: flow.id });
      await tx.update(FlowRow, { id: flow.id }, { updatedAt: now });
      return { flow: { ...flow, updatedAt: now }, replacedSteps, canceledJobs };
    }));
  }

  private stepsOf(tx: EntityManager, flowId: string): Promise<StepRow[]> {
    return tx.find(StepRow, { where: { flowId }, order: { position: 'ASC' } });
  }

  /** Locks the flow row (serializing step edits with runFlow) and refuses while a job of it is queued or running. */
  private async lockFlowWithoutActiveJobs(tx: EntityManager, flowId: string, verb: string): Promise<FlowRow> {
    const flow = await findOrNotFound(tx, FlowRow, 'flow', flowId, 'pessimistic_write');
    const active = await tx.count(JobRow, { where: { flowId: flow.id, status: In([...ACTIVE_JOB_STATUSES]) } });
    if (active > 0) throw conflict(`flow "${flow.name}" has ${active} queued or running job(s); cancel them before it is ${verb}`);
    return flow;
  }

  /**
   * The step, read again once its flow is locked and known to have no active
   * job. The copy read to find the flow may be stale by then: an edit that held
   * the lock meanwhile may have shifted or removed the step, and shifting the
   * others from a stale position leaves a gap or a duplicate position.
   */
  private async lockStepOfIdleFlow(tx: EntityManager, id: string): Promise<StepRow> {
    const { flowId } = await findOrNotFound(tx, StepRow, 'step', id);
    await this.lockFlowWithoutActiveJobs(tx, flowId, 'changed');
    return findOrNotFound(tx, StepRow, 'step', id);
  }

  /**
   * The connection is read FOR SHARE: a deleteConnection (FOR UPDATE) racing
   * this edit either commits first (then this is NOT_FOUND) or waits for this
   * commit and then counts the new step (CONFLICT), instead of the step's
   * foreign key failing as an internal error.
   */
  private async newStep(tx: EntityManager, flowId: string, position: number, spec: StepSpec, now: Date): Promise<StepRow> {
    const connection = await findOrNotFound(tx, ConnectionRow, 'connection', spec.connectionId, 'pessimistic_read');
    return tx.create(StepRow, {
      id: randomUUID(),
      flowId,
      name: validName('step', spec.name),
      kind: spec.kind,
      position,
      connectionId: connection.id,
      config: this.validStepConfig(connection, spec.kind, spec.config),
      createdAt: now,
      updatedAt: now,
    });
  }

  private validStepConfig(connection: ConnectionRow, kind: StepKindName, config: unknown): JsonObject {
    const result = this.connectors.validateStepConfig(connection.connectorType, kind, config ?? {});
    if (result === undefined) {
      const connector = this.connectors.get(connection.connectorType);
      const supported = connector ? this.connectors.supportedStepKinds(connector).join(', ') : 'none';
      throw badUserInput(`the ${connection.connectorType} connector of "${connection.name}" does not support ${kind} steps (it supports ${supported})`);
    }
    if (!result.ok) throw badUserInput(`${kind} step config does not match the ${connection.connectorType} connector's schema`, result.problems);
    return result.value;
  }
}
