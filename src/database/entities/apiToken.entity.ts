import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RoleName } from '../../auth/role';

/** A bearer token. Only the SHA-256 of its secret is stored. */
@Entity('api_token')
export class ApiTokenRow {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') role!: RoleName;
  /** SHA-256 of the bearer secret: secrets are random 32 bytes, so an unsalted fast hash is enough. */
  @Column('bytea', { name: 'secret_hash' }) secretHash!: Buffer;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
}
