/**
 * Every migration, in order. Append-only: never edit one that has landed.
 * Stored functions are not migrations: src/engine/sql/functions/*.sql, applied
 * after these by src/database/sqlFunctions.ts.
 */
import { Foundation1763890000000 } from './1763890000000-Foundation';
import { QueueEngine1763900000000 } from './1763900000000-QueueEngine';
import { CompleteMessagesFunction1763910000000 } from './1763910000000-CompleteMessagesFunction';
import { QueueTally1763920000000 } from './1763920000000-QueueTally';
import { ClaimSaysWhenDrained1763930000000 } from './1763930000000-ClaimSaysWhenDrained';
import { ReservedMessages1763940000000 } from './1763940000000-ReservedMessages';
import { RateLimitEpisodes1763950000000 } from './1763950000000-RateLimitEpisodes';
import { ClaimSkipsLockedReservations1763960000000 } from './1763960000000-ClaimSkipsLockedReservations';
import { StartOnEnqueue1763970000000 } from './1763970000000-StartOnEnqueue';
import { ClaimReadsTheHead1763980000000 } from './1763980000000-ClaimReadsTheHead';
import { CredentialsKeyCheck1765200000000 } from './1765200000000-CredentialsKeyCheck';
import { SqlFunctionFiles1765400000000 } from './1765400000000-SqlFunctionFiles';
import { FailedRecords1765500000000 } from './1765500000000-FailedRecords';
import { ConnectionState1765600000000 } from './1765600000000-ConnectionState';
import { OneWayIn1765700000000 } from './1765700000000-OneWayIn';

export const migrations = [
  Foundation1763890000000,
  QueueEngine1763900000000,
  CompleteMessagesFunction1763910000000,
  QueueTally1763920000000,
  ClaimSaysWhenDrained1763930000000,
  ReservedMessages1763940000000,
  RateLimitEpisodes1763950000000,
  ClaimSkipsLockedReservations1763960000000,
  StartOnEnqueue1763970000000,
  ClaimReadsTheHead1763980000000,
  CredentialsKeyCheck1765200000000,
  SqlFunctionFiles1765400000000,
  FailedRecords1765500000000,
  ConnectionState1765600000000,
  OneWayIn1765700000000,
];
