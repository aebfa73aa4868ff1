/** The contract's enums, registered once with type-graphql. */
import { registerEnumType } from 'type-graphql';

export enum Role {
  ADMINISTER = 'ADMINISTER',
  MANAGE = 'MANAGE',
  MONITOR = 'MONITOR',
}
registerEnumType(Role, {
  name: 'Role',
  description:
    'What a bearer token may do. ADMINISTER and MANAGE may change settings and run flows; MONITOR may only read and subscribe; only ADMINISTER manages tokens.',
});

export enum StepKind {
  EXPORT = 'EXPORT',
  DOWNLOAD = 'DOWNLOAD',
  LOOKUP = 'LOOKUP',
  IMPORT = 'IMPORT',
}
registerEnumType(StepKind, {
  name: 'StepKind',
  description: 'What a flow step does with its connection.',
  valuesConfig: {
    EXPORT: { description: 'Source: reads pages of records, one request at a time.' },
    DOWNLOAD: { description: 'Source: fetches a file (CSV, NDJSON or JSON) and emits its rows as records.' },
    LOOKUP: { description: 'Per record: fetches extra data and merges it into the record.' },
    IMPORT: { description: 'Per record (or batch): writes the record to the destination.' },
  },
});

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELED = 'CANCELED',
}
registerEnumType(JobStatus, { name: 'JobStatus' });

export enum JobErrorState {
  OPEN = 'OPEN',
  RETRIED = 'RETRIED',
  RESOLVED = 'RESOLVED',
}
registerEnumType(JobErrorState, {
  name: 'JobErrorState',
  description: 'Where a failed record stands.',
  valuesConfig: {
    OPEN: { description: 'Waiting for an operator: retry it, or resolve it.' },
    RETRIED: { description: 'Its record was sent again (retryJobErrors). A retry that fails again is a new OPEN error.' },
    RESOLVED: { description: 'Closed by an operator without a retry (resolveJobErrors).' },
  },
});

/** Same values as the connection table's `state` column (ConnectionStateName). */
export enum ConnectionState {
  ONLINE = 'ONLINE',
  OFFLINE = 'OFFLINE',
  PAUSED = 'PAUSED',
}
registerEnumType(ConnectionState, {
  name: 'ConnectionState',
  description: "Whether a connection's messages are starting.",
  valuesConfig: {
    ONLINE: { description: 'Messages start as the level and limits allow.' },
    OFFLINE: {
      description:
        "The application stopped answering (network errors, timeouts or 5xx on\nconsecutive calls), or refused the connection's credentials (HTTP 401).\nNothing of it starts; the calls that failed while it went offline keep their\nattempt; a probe retests it with backoff, and its messages start again, in\norder, once it answers. No record fails because an application is away.",
    },
    PAUSED: { description: 'Held by an operator (pauseConnection): nothing of it starts until resumeConnection.' },
  },
});
