import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { ConnectionRow } from '../../database/entities';
import { ConnectionState } from '../common/enums';
import { DateTimeScalar, JSONScalar } from '../common/scalars';
import { PLAIN_FIELDS } from '../common/plainFields';

@ObjectType({ ...PLAIN_FIELDS, description: 'A limit of requests per time window, enforced on top of the concurrency level.' })
export class RateLimit {
  @Field(() => Int) requests!: number;
  @Field(() => Int) perMilliseconds!: number;
}

@ObjectType({
  ...PLAIN_FIELDS,
  description:
    'Credentials plus an endpoint, backed by a persisted FIFO queue. Every request made through a connection is one message in that queue; at most `concurrencyLevel` messages run at once.',
})
export class Connection {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() connectorType!: string;
  @Field({ description: 'Identity of the external endpoint (for http: the origin of baseUrl).' }) application!: string;
  @Field(() => JSONScalar, { description: "Non-secret settings, validated against the connector's configSchema." })
  config!: Record<string, unknown>;
  @Field({ description: 'Credentials are write-only: this says whether any are stored, never what they are.' })
  hasCredentials!: boolean;
  @Field(() => Int, { nullable: true, description: 'Maximum messages processed in parallel, in force now; null means burst mode.' })
  concurrencyLevel!: number | null;
  @Field() autoRecoverRateLimitErrors!: boolean;
  @Field(() => Int, { nullable: true }) targetConcurrencyLevel!: number | null;
  @Field(() => RateLimit, { nullable: true }) rateLimit!: RateLimit | null;
  @Field(() => Connection, { nullable: true }) borrowConcurrencyFrom!: Connection | null;
  @Field(() => [Connection]) borrowers!: Connection[];
  @Field(() => Connection) queueOwner!: Connection;
  @Field(() => Int) queueSize!: number;
  @Field(() => Int) inFlight!: number;
  @Field(() => ConnectionState, {
    description:
      "Whether its messages start. A connection's messages start only while it and\nits queue owner are ONLINE: this is the connection's own state, or its queue\nowner's when the owner is not ONLINE. An application that stops answering\ntakes the queue owner OFFLINE (the whole shared queue waits); refused\ncredentials take only the connection whose credentials they are.",
  })
  state!: ConnectionState;
  @Field(() => DateTimeScalar) stateChangedAt!: Date;
  @Field(() => String, { nullable: true, description: 'Why it is OFFLINE (the last error, never a secret), or the reason given to pauseConnection.' })
  stateReason!: string | null;
  @Field(() => DateTimeScalar, { nullable: true, description: 'While OFFLINE: when the next probe goes out.' }) nextProbeAt!: Date | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;

  /** The stored row, for field resolvers; never exposed as a field (it holds sealed credentials). */
  row!: ConnectionRow;

  static from(row: ConnectionRow): Connection {
    const c = new Connection();
    c.row = row;
    c.id = row.id;
    c.name = row.name;
    c.connectorType = row.connectorType;
    c.application = row.application;
    c.config = row.config;
    c.hasCredentials = row.credentials !== null;
    c.createdAt = row.createdAt;
    c.updatedAt = row.updatedAt;
    return c;
  }
}

@ObjectType(PLAIN_FIELDS)
export class ConnectionTestResult {
  @Field() ok!: boolean;
  @Field(() => String, { nullable: true }) message!: string | null;
  @Field(() => Int, { nullable: true }) latencyMs!: number | null;
  @Field(() => String, {
    nullable: true,
    description: 'When not ok, a machine code where there is one: OUTBOUND_DENIED, CREDENTIALS_UNREADABLE, HTTP_<status>, TIMEOUT, NETWORK.',
  })
  code!: string | null;
}

@ObjectType({ ...PLAIN_FIELDS, description: "A snapshot of one connection's queue, streamed by the queueSize subscription." })
export class QueueStats {
  @Field(() => ID) connectionId!: string;
  @Field(() => ID) queueOwnerId!: string;
  @Field(() => Int) queueSize!: number;
  @Field(() => Int) inFlight!: number;
  @Field(() => Int, { nullable: true }) concurrencyLevel!: number | null;
  @Field(() => ConnectionState, { description: 'As Connection.state.' }) state!: ConnectionState;
  @Field(() => DateTimeScalar) at!: Date;
}
