/** What plugin authors import. Add exports here with intention: this is a public surface. */
export { SDK_VERSION, defineConnector } from './connector';
export type {
  Connector,
  ConnectorSteps,
  CallContext,
  StepCallContext,
  ConnectorLogger,
  JsonSchema,
  JsonRecord,
  PingResult,
  ExportPage,
  ExportStep,
  DownloadStep,
  LookupStep,
  ImportStep,
} from './connector';
export { ConnectorError, RateLimitedError, TransientError, PermanentError, connectorErrorKind } from './errors';
export type { ConnectorErrorKind } from './errors';
export { STEP_KINDS } from './stepKind';
export type { StepKindName } from './stepKind';
export { outboundFetch } from './outboundFetch';
