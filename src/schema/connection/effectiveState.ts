/**
 * The state a connection shows (Connection.state, QueueStats.state): a
 * connection's messages start only while it and its queue owner are ONLINE
 * (the claim, src/engine/sql/functions/sluice_claim.sql), so it
 * shows its own state, or its queue owner's when the owner is not ONLINE —
 * state, reason, since when and the next probe all from the same row, so
 * that they never disagree. The SQL twin is liveUpdates.ts's snapshot.
 */
import type { ConnectionRow } from '../../database/entities';

export type StateFields = Pick<ConnectionRow, 'state' | 'stateChangedAt' | 'stateReason' | 'nextProbeAt'>;

/** `owner`: the row of `own.queueOwnerId` (null when it is `own` itself, or was not found). */
export function effectiveState(own: ConnectionRow, owner: ConnectionRow | null): StateFields {
  return owner !== null && owner.id !== own.id && owner.state !== 'ONLINE' ? owner : own;
}
