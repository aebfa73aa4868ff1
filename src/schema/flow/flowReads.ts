/**
 * A flow with its steps and each step's connection, in one statement: what
 * a flow page reads (`flow { steps { connection { ... } } }`). The resolver
 * primes the request's loaders with them, so the steps and connection fields
 * read nothing more; reading them by level cost two more round trips per
 * flow read, and a round trip (a socket write and a read) is most of what an
 * API request costs (`npm run bench -- apiLoad`). A query that asks for no
 * step still reads them: a few rows, against a round trip saved for the
 * queries that do.
 */
import type { ConnectionRow, FlowRow, StepRow } from '../../database/entities';
import { connectionColumns, flowColumns, splitJoinedRow, stepColumns } from '../../database/entityColumns';
import type { Queryable } from '../../database/queryable';

export interface FlowWithSteps {
  flow: FlowRow;
  /** In position order. */
  steps: { step: StepRow; connection: ConnectionRow }[];
}

/** $1: the flow's id. One row per step (one with null steps for a flow without any); no locks. */
export async function flowWithSteps(sql: Queryable, id: string): Promise<FlowWithSteps | null> {
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT ${flowColumns('f', 'flow.')}, ${stepColumns('s')}, ${connectionColumns('c', 'connection.')}
       FROM flow f
       LEFT JOIN step s ON s.flow_id = f.id
       LEFT JOIN connection c ON c.id = s.connection_id
      WHERE f.id = $1
      ORDER BY s.position`,
    [id],
  );
  if (rows.length === 0) return null;
  const [, flow] = splitJoinedRow<unknown, FlowRow>(rows[0] as Record<string, unknown>, 'flow.');
  const steps = rows.flatMap((row) => {
    if (row.id === null) return [];
    const [rest, connection] = splitJoinedRow<Record<string, unknown>, ConnectionRow>(row, 'connection.');
    const [step] = splitJoinedRow<StepRow, unknown>(rest, 'flow.');
    return [{ step, connection }];
  });
  return { flow, steps };
}
