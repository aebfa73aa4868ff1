/** What a flow step does with its connection (the GraphQL enum StepKind). */
export const STEP_KINDS = ['EXPORT', 'DOWNLOAD', 'LOOKUP', 'IMPORT'] as const;
export type StepKindName = (typeof STEP_KINDS)[number];

/** Source steps read records; they may only stand first in a flow. */
export const SOURCE_STEP_KINDS: readonly StepKindName[] = ['EXPORT', 'DOWNLOAD'];
export const RECORD_STEP_KINDS: readonly StepKindName[] = ['LOOKUP', 'IMPORT'];
