/**
 * queueSize and inFlight of queue owners, from the tally the queue_message
 * triggers keep (src/engine/sql/queueTally.ts): exact, and cheap at any
 * queue length. One statement for any number of owners.
 */
import type { Queryable } from '../../database/queryable';
import { countQueued } from '../../engine';

export interface QueueCounts {
  queueSize: number;
  inFlight: number;
}

export class QueueStatsReader {
  constructor(private readonly sql: Queryable) {}

  async forOwners(ownerIds: readonly string[]): Promise<Map<string, QueueCounts>> {
    const tallies = await countQueued(this.sql, ownerIds);
    return new Map([...tallies].map(([owner, t]) => [owner, { queueSize: t.queued, inFlight: t.running }]));
  }
}
