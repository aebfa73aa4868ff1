/**
 * Tracing with OpenTelemetry: a span per GraphQL request (http/accessLog.ts)
 * and one per connector call (engine/runMessage.ts), the call's with the
 * message's idempotency key, so that a trace finds the request an API
 * received. Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then spans are exported in
 * batches over OTLP/HTTP (protobuf-free JSON) by the SDK's own exporter.
 *
 * Off, nothing is recorded and `tracer()` is never asked for a span: the
 * engine's hot path pays one boolean check per call.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { BUILD_INFO } from './buildInfo';

export interface Tracing {
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
}

let on = false;

/** Whether spans are recorded: only then do the instrumented places make them. */
export function tracingOn(): boolean {
  return on;
}

export function tracer(): Tracer {
  return trace.getTracer('sluice', BUILD_INFO.version);
}

export type TracingTarget =
  /** OTLP over HTTP to this URL (…/v1/traces), in batches. */
  | { kind: 'otlp'; url: string }
  /** Every span to this exporter as it ends (tests: InMemorySpanExporter). */
  | { kind: 'exporter'; exporter: SpanExporter };

/** Registers the process's tracer provider (once per process). */
export function startTracing(target: TracingTarget, attributes: Record<string, string> = {}): Tracing {
  let processor;
  switch (target.kind) {
    case 'otlp':
      processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: target.url }));
      break;
    case 'exporter':
      processor = new SimpleSpanProcessor(target.exporter);
      break;
    default: {
      const unreachable: never = target;
      throw new Error(`unknown tracing target ${JSON.stringify(unreachable)}`);
    }
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'sluice', 'service.version': BUILD_INFO.version, ...attributes }),
    spanProcessors: [processor],
  });
  provider.register();
  on = true;
  return {
    async shutdown() {
      on = false;
      await provider.shutdown();
      trace.disable();
    },
  };
}
