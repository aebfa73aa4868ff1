/** What plugin authors import. Add exports here with intention: this is a public surface. */
export { SDK_VERSION, defineConnector } from './connector';
export type { Connector, CallContext, ConnectorLogger, JsonSchema, PingResult, StepDefinition } from './connector';
export { ConnectorError, RateLimitedError, TransientError, PermanentError } from './errors';
export { STEP_KINDS } from './stepKind';
export type { StepKindName } from './stepKind';
