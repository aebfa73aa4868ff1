/**
 * The span of one connector call (tracing.ts): named after the connector
 * and step kind, with the message's idempotency key (the `Idempotency-Key`
 * an import sends), its job, step, connection and attempt, and how the call
 * ended: an error's kind and code. With tracing off the call runs as it is.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { connectorErrorKind } from '../connectors/sdk';
import { tracer, tracingOn } from '../tracing';
import type { ClaimedMessage } from './message';
import type { PlannedStep } from './store';

export async function callSpan<T>(message: ClaimedMessage, step: PlannedStep, connectorType: string, run: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return run();
  const span = tracer().startSpan(`${connectorType} ${step.kind}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'sluice.idempotency_key': message.idempotencyKey,
      'sluice.message.id': message.id,
      'sluice.message.attempt': message.attempts,
      'sluice.job.id': message.jobId,
      'sluice.step.id': step.id,
      'sluice.step.kind': step.kind,
      'sluice.connection.id': message.connectionId,
      'sluice.queue_owner.id': message.queueOwnerId,
      'sluice.connector.type': connectorType,
    },
  });
  try {
    return await run();
  } catch (error) {
    let kind = 'unknown';
    let code = 'unknown';
    try {
      kind = connectorErrorKind(error) ?? 'unknown';
      code = String((error as { code?: unknown }).code ?? 'unknown');
    } catch {
      /* what a plugin threw cannot be read: still an error */
    }
    span.setAttributes({ 'sluice.error.kind': kind, 'sluice.error.code': code });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${kind} ${code}` });
    throw error;
  } finally {
    span.end();
  }
}
