/**
 * Per-request batch loaders, so that nested fields (a step's connection, a
 * flow's steps, a connection's queue owner...) cost one query per level, not
 * one per item.
 */
import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { ConnectionRow, FlowRow, StepRow } from '../../database/entities';
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

export function createLoaders(services: Services) {
  const { db } = services;
  return {
    connection: new DataLoader<string, ConnectionRow | null>(async (ids) => {
      const rows = await db.getRepository(ConnectionRow).findBy({ id: In([...ids]) });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    flow: new DataLoader<string, FlowRow | null>(async (ids) => {
      const rows = await db.getRepository(FlowRow).findBy({ id: In([...ids]) });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    borrowers: new DataLoader<string, ConnectionRow[]>(async (ids) => {
      const rows = await db.getRepository(ConnectionRow).find({ where: { borrowFromId: In([...ids]) }, order: { createdAt: 'ASC', id: 'ASC' } });
      const groups = groupBy(rows, (r) => r.borrowFromId as string);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    stepsOfFlow: new DataLoader<string, StepRow[]>(async (ids) => {
      const rows = await db.getRepository(StepRow).find({ where: { flowId: In([...ids]) }, order: { position: 'ASC' } });
      const groups = groupBy(rows, (r) => r.flowId);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    stepsOfConnection: new DataLoader<string, StepRow[]>(async (ids) => {
      const rows = await db.getRepository(StepRow).find({ where: { connectionId: In([...ids]) }, order: { flowId: 'ASC', position: 'ASC' } });
      const groups = groupBy(rows, (r) => r.connectionId);
      return ids.map((id) => groups.get(id) ?? []);
    }),
    queueCounts: new DataLoader<string, QueueCounts>(async (ownerIds) => {
      const counts = await services.queueStats.forOwners(ownerIds);
      return ownerIds.map((id) => counts.get(id) ?? { queueSize: 0, inFlight: 0 });
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
