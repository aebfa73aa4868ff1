import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../../json';

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
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
