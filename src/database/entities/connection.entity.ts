import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../../json';

export type ConnectionStateName = 'ONLINE' | 'OFFLINE' | 'PAUSED';

/**
 * A connection and its concurrency policy. The policy columns of a borrower
 * are kept but not in force: its queue owner's policy governs it, and its own
 * comes back if it stops borrowing.
 */
@Entity('connection')
export class ConnectionRow {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text', { name: 'connector_type' }) connectorType!: string;
  /** Derived from config by the connector; borrowing and replacing stay within one application. */
  @Column('text') application!: string;
  @Column('jsonb') config!: JsonObject;
  /** AES-256-GCM sealed JSON (see auth/credentialCipher.ts); null when none are stored. */
  @Column('bytea', { nullable: true }) credentials!: Buffer | null;
  @Column('uuid', { name: 'borrow_from_id', nullable: true }) borrowFromId!: string | null;
  /** The end of the borrow chain (itself when not borrowing); kept in step with borrow_from_id. */
  @Column('uuid', { name: 'queue_owner_id' }) queueOwnerId!: string;
  @Column('boolean', { name: 'auto_recover' }) autoRecover!: boolean;
  /** The level in force now: the fixed level, or with auto-recovery the level in use; null is burst. */
  @Column('int', { name: 'concurrency_level', nullable: true }) concurrencyLevel!: number | null;
  /** With auto-recovery, the level it climbs back to; null otherwise. */
  @Column('int', { name: 'target_concurrency_level', nullable: true }) targetConcurrencyLevel!: number | null;
  @Column('int', { name: 'rate_limit_requests', nullable: true }) rateLimitRequests!: number | null;
  @Column('int', { name: 'rate_limit_per_ms', nullable: true }) rateLimitPerMs!: number | null;
  /**
   * ONLINE, OFFLINE (set by the engine) or PAUSED (by an operator): the
   * connection's own state; its messages start only while it and its queue
   * owner are ONLINE. The engine's detector and probe columns
   * (migrations/1765600000000-ConnectionState.ts) are the engine's alone.
   */
  @Column('text') state!: ConnectionStateName;
  @Column('timestamptz', { name: 'state_changed_at' }) stateChangedAt!: Date;
  /** Why it is OFFLINE (never a secret), or the operator's reason for the pause. */
  @Column('text', { name: 'state_reason', nullable: true }) stateReason!: string | null;
  /** While OFFLINE: when the next probe may go out. */
  @Column('timestamptz', { name: 'next_probe_at', nullable: true }) nextProbeAt!: Date | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
