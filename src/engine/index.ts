/**
 * The engine's public surface: everything outside src/engine (the API in
 * src/schema, src/app.ts, src/main.ts, src/database) imports the engine from
 * here and nowhere else (test/engine/storeBoundary.test.ts checks it). Add
 * exports to this file with intention: each is a promise to its callers.
 */

// The engine of one process, and what it reports.
export { QueueEngine, type EngineOptions, type WaitingApiRequests } from './engine';
export { createEngineMetrics, type EngineMetrics } from './engineMetrics';
export { foldQueueTally } from './queueTallyFolding';

// What the API asks of the engine's store, inside its own transactions.
export { enqueue, cancelJobs, moveQueued, countQueued, type QueueTally } from './store';
// Connection state: an operator's pause and resume, a probe at once after a config or credentials change, every connection's own state (the gauge).
export { pauseConnection, resumeConnection, probeNow, connectionStates, type StateChange } from './store';
export { firstSourcePayload, type MessagePayload, type NewMessage, type RetryOrigin } from './message';

// A queue owner's concurrency policy: the API validates and stores it, the engine obeys it.
export { choosePolicy, policyFromColumns, policyToColumns, type PolicyColumns, type RateLimit } from './concurrencyPolicy';

// The channels the engine's commits notify, and a LISTEN connection for them (live updates).
export { CANCEL_CHANNEL, JOB_CHANNEL, QUEUE_CHANNEL, START_CHANNEL, STATE_CHANNEL } from './channels';
export { Notifications } from './notifications';

// The stored functions' files, for the repeatable step that applies them after the migrations.
export { engineFunctionFiles } from './store';
