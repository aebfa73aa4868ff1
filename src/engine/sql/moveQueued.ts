/**
 * moveQueued: the engine's share of a borrow change, inside the caller's
 * transaction, once it has pointed the connections at their new queue
 * owner: their waiting messages join that owner's queue (keeping their ids,
 * so their order among themselves), and at commit its dispatchers in every
 * process are woken rather than at their next poll. Running messages finish
 * where they started, and so do prefetched ones (leased to a process, which
 * may be starting them in its slots right now): given back, they go to the
 * queue their connection uses then (sluice_claim.sql). One statement (the UPDATE is a data-modifying CTE).
 */
import { QUEUE_CHANNEL } from '../channels';
import type { Queryable } from './queryable';

export async function moveQueued(tx: Queryable, connectionIds: readonly string[], queueOwnerId: string): Promise<void> {
  await tx.query(
    `WITH moved AS (
       UPDATE queue_message SET queue_owner_id = $2
        WHERE connection_id = ANY($1::uuid[]) AND state = 'queued' AND (lease_id IS NULL OR run_after <= now()) AND queue_owner_id <> $2
     )
     SELECT pg_notify('${QUEUE_CHANNEL}', $2::text)`,
    [connectionIds, queueOwnerId],
  );
}
