/**
 * queueSize and inFlight of queue owners, read from the queue_message table
 * that the engine fills. One statement for any number of owners; both counts
 * use the partial indexes on queued and running messages.
 */
import type { DataSource } from 'typeorm';

export interface QueueCounts {
  queueSize: number;
  inFlight: number;
}

export class QueueStatsReader {
  constructor(private readonly db: DataSource) {}

  async forOwners(ownerIds: readonly string[]): Promise<Map<string, QueueCounts>> {
    const rows: { queue_owner_id: string; queued: string; running: string }[] = await this.db.query(
      `SELECT queue_owner_id,
              count(*) FILTER (WHERE state = 'queued')  AS queued,
              count(*) FILTER (WHERE state = 'running') AS running
         FROM queue_message
        WHERE queue_owner_id = ANY($1::uuid[])
        GROUP BY queue_owner_id`,
      [ownerIds],
    );
    const counts = new Map<string, QueueCounts>(ownerIds.map((id) => [id, { queueSize: 0, inFlight: 0 }]));
    for (const r of rows) counts.set(r.queue_owner_id, { queueSize: Number(r.queued), inFlight: Number(r.running) });
    return counts;
  }
}
