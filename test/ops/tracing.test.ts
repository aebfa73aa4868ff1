/**
 * OpenTelemetry spans, caught by the SDK's InMemorySpanExporter: one per
 * GraphQL request over HTTP (named after its operation, a child of the
 * caller's traceparent), one per connector call with the message's
 * idempotency key, the very key the API received as Idempotency-Key.
 */
import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { loadConfig } from '../../src/config';
import { startTracing, tracingOn, type Tracing } from '../../src/tracing';
import { createExportImportFlow, createHttpConnection, runFlow, waitForJob } from '../support/flows';
import { orders, useRecordingApi } from '../support/recordingApi';
import { useTestSluice } from '../support/sluice';
import { createTestDatabase } from '../support/database';
import { startFakeApi } from '../support/fakeApi';
import { graphqlClient } from '../support/graphqlClient';
import { startSluiceProcess, stopSluiceProcesses } from '../support/sluiceProcess';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;

// Before the server starts, as main.ts does it.
beforeAll(() => {
  tracing = startTracing({ kind: 'exporter', exporter });
});
afterAll(async () => {
  await tracing.shutdown();
  expect(tracingOn()).toBe(false);
});

describe('tracing', () => {
  const s = useTestSluice({ engine: true });
  const api = useRecordingApi();

  it('makes a span per GraphQL request, a child of the caller’s trace', async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${s.adminSecret}`,
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ query: 'query WhoAmI { viewer { role } }' }),
    });
    expect(response.status).toBe(200);
    await response.text();
    const spans = exporter.getFinishedSpans().filter((span) => span.name === 'graphql query WhoAmI');
    expect(spans).toHaveLength(1);
    expect(spans[0]?.spanContext().traceId).toBe(traceId);
    expect(spans[0]?.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'WhoAmI', 'sluice.token.name': 'bootstrap-admin' });
  });

  it('makes a span per connector call, with the idempotency key the API received', async () => {
    api.options.orders = orders(5);
    const conn = await createHttpConnection(s, api.url, { concurrencyLevel: 2 });
    exporter.reset();
    const job = await waitForJob(s, await runFlow(s, await createExportImportFlow(s, conn)), 30000);
    expect(job).toMatchObject({ status: 'COMPLETED', recordsSucceeded: 5 });

    const calls = exporter.getFinishedSpans().filter((span) => span.attributes['sluice.job.id'] === job.id);
    const imports = calls.filter((span) => span.name === 'http IMPORT');
    expect(calls.filter((span) => span.name === 'http EXPORT')).toHaveLength(1);
    expect(imports).toHaveLength(5);
    expect(imports.map((span) => span.attributes['sluice.idempotency_key']).sort()).toEqual([...api.importKeys].sort());
    for (const span of imports) expect(span.attributes).toMatchObject({ 'sluice.connection.id': conn, 'sluice.step.kind': 'IMPORT', 'sluice.message.attempt': 1 });
    expect(exporter.getFinishedSpans().some((span) => span.name === 'graphql mutation')).toBe(true); // runFlow, anonymous
  });
});

describe('tracing over OTLP', () => {
  afterAll(stopSluiceProcesses);

  it('is off unless an OTLP endpoint is set; OTEL_EXPORTER_OTLP_ENDPOINT is a base for /v1/traces', () => {
    const key = randomBytes(32).toString('base64');
    const base = { DATABASE_URL: 'postgres://localhost/x', CREDENTIALS_KEY: key };
    expect(loadConfig(base).otlpTracesEndpoint).toBeNull();
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpTracesEndpoint).toBe('http://collector:4318/v1/traces');
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/traces' }).otlpTracesEndpoint).toBe('http://c:4318/traces');
    expect(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http/);
  });

  it('exports the spans of a server process to the collector at OTEL_EXPORTER_OTLP_ENDPOINT, the last ones at shutdown', async () => {
    const collector = await startFakeApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    try {
      const adminSecret = `admin-${randomBytes(16).toString('hex')}`;
      const p = await startSluiceProcess(
        { databaseUrl: await createTestDatabase(), credentialsKey: randomBytes(32).toString('base64') },
        { ROLE: 'api', BOOTSTRAP_ADMIN_TOKEN: adminSecret, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
        60000,
      );
      await graphqlClient(p.url, adminSecret).ok('query ExportedOne { viewer { role } }');
      p.signal('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
      const exports = collector.requests.filter((r) => r.method === 'POST' && r.path === '/v1/traces');
      expect(exports.length).toBeGreaterThan(0);
      expect(exports.map((r) => r.body).join('')).toContain('graphql query ExportedOne');
    } finally {
      await collector.close();
    }
  }, 90000);
});
