/**
 * The engine's store: the only code that runs engine SQL. The dispatcher,
 * the completion batch, the engine's timers and, through src/engine/index.ts,
 * the API speak to the database in queue terms through these names and
 * nothing else; test/engine/storeBoundary.test.ts keeps it so.
 *
 * Each statement lives in its own module in sql/ (its header says what it
 * locks and why); the stored functions some of them call are in
 * sql/functions/, one `.sql` file each (docs/engine-sql.md lists them).
 *
 *   enqueue         messages behind those queued; one into an idle queue starts at once
 *   claim           the head of one queue, within the level across processes; and a prefetch
 *   complete        a batch of outcomes, in one round trip
 *   cancelJobs      a cancel's share: waiting messages dropped, running calls told to abort
 *   moveQueued      a borrow change's share: waiting messages join the new queue owner's queue
 *   countQueued     queue sizes and calls in flight per queue owner, from the tally
 *   recordCallFailure, takeDueProbes, claimProbe, probeSucceeded, probeFailed
 *                   connection state: the outage detector and the probes
 *   pauseConnection, resumeConnection, probeNow
 *                   an operator's changes of connection state
 */
export { enqueueMessages as enqueue, notifyQueues } from './sql/enqueueMessages';
export { claim, type Claim, type ClaimRequest } from './sql/claim';
export { completeMessages as complete, type CompletionResult, type SlotEnd } from './sql/completeMessages';
export { cancelJobs } from './sql/cancelJobs';
export { moveQueued } from './sql/moveQueued';
export { queueTallies as countQueued, queuedPerOwner, rollUpQueueTally, type QueueTally } from './sql/queueTally';
export { extendLeases, requeueExpired } from './sql/leases';
export { queuesWithWork } from './sql/queuesWithWork';
export { recordRateLimits, type LevelChange, type RateLimitSample, type RecordedRateLimits } from './sql/recordRateLimits';
export { registerEngine, unregisterEngine, type ListenConnection } from './sql/engineInstances';
export { loadJobPlan, type PlannedStep } from './sql/loadJobPlan';
export { loadConnection, type CallableConnection } from './sql/loadConnection';
export { connectionNames } from './sql/connectionNames';
export { jobSummaries, type JobSummary } from './sql/jobSummaries';
export { recordCallFailure, type FailedCall, type RecordedFailure } from './sql/recordCallFailure';
export { takeDueProbes, claimProbe, probeSucceeded, probeFailed, probePostponed, extendProbeLeases, type DueProbe } from './sql/probes';
export { pauseConnection, resumeConnection, probeNow, connectionStates, type StateChange } from './sql/connectionStateChanges';
export { ENGINE_FUNCTIONS_DIR, engineFunctionFiles } from './sql/functionFiles';
export type { Queryable } from './sql/queryable';
