/** The built-in `http` connector: any JSON-over-HTTP API. */
import { defineConnector, SDK_VERSION } from '../sdk';
import { joinUrl, requestHeaders } from './requestHeaders';
import { httpConfigSchema, httpCredentialsSchema } from './schemas';
import { downloadStep, exportStep, importStep, lookupStep } from './steps';
import type { HttpConfig, HttpCredentials } from './types';

/** A ping is a health check: never wait as long as a data call may. */
const PING_TIMEOUT_CAP_MS = 10000;

export const httpConnector = defineConnector<HttpConfig, HttpCredentials>({
  sdkVersion: SDK_VERSION,
  type: 'http',
  displayName: 'HTTP (JSON API)',
  version: '1.0.0',
  configSchema: httpConfigSchema,
  credentialsSchema: httpCredentialsSchema,
  steps: { EXPORT: exportStep, DOWNLOAD: downloadStep, LOOKUP: lookupStep, IMPORT: importStep },
  application: (config) => new URL(config.baseUrl).origin,
  async ping({ config, credentials, signal }) {
    const url = joinUrl(config.baseUrl, config.ping?.path ?? '/');
    const timeout = AbortSignal.timeout(Math.min(config.timeoutMs ?? 30000, PING_TIMEOUT_CAP_MS));
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers: requestHeaders(config, credentials),
        signal: AbortSignal.any([signal, timeout]),
      });
      await response.body?.cancel();
      return response.ok
        ? { ok: true, message: `HTTP ${response.status}` }
        : { ok: false, message: `HTTP ${response.status} from ${url.origin}${url.pathname}` };
    } catch (error) {
      if (timeout.aborted) return { ok: false, message: `no answer from ${url.origin} within ${PING_TIMEOUT_CAP_MS} ms` };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { ok: false, message: `cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? String(error)}` };
    }
  },
});
