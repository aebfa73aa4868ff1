/**
 * loadJobPlan: the steps of a job's flow, in order. Steps cannot change while
 * a job of the flow is queued or running (the API refuses, or cancels the
 * jobs), so a process may keep the plan for the job's whole life.
 */
import type { StepKindName } from '../../connectors/sdk/stepKind';
import type { JsonObject } from '../../json';
import type { Queryable } from './queryable';

export interface PlannedStep {
  id: string;
  kind: StepKindName;
  position: number;
  connectionId: string;
  config: JsonObject;
}

export async function loadJobPlan(db: Queryable, jobId: string): Promise<PlannedStep[]> {
  const { rows } = await db.query<{ id: string; kind: StepKindName; position: number; connection_id: string; config: JsonObject }>(
    `SELECT s.id, s.kind, s.position, s.connection_id, s.config
       FROM step s JOIN job j ON j.flow_id = s.flow_id
      WHERE j.id = $1
      ORDER BY s.position`,
    [jobId],
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, position: r.position, connectionId: r.connection_id, config: r.config }));
}
