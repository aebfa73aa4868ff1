/** The built-in `http` connector: any JSON-over-HTTP API. */
import { connectorErrorKind, defineConnector, SDK_VERSION, type ConnectorError } from '../sdk';
import { httpCall } from './httpCall';
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
  // testConnection pings `/` when no ping is configured; a probe of an
  // OFFLINE connection uses the ping only when the config names its path.
  pingConfigured: (config) => typeof config.ping?.path === 'string',
  // Through httpCall, as every data call: the same outbound policy and the
  // same redirect rule (same origin only), since a ping carries the credentials.
  async ping({ config, credentials, signal }) {
    const url = joinUrl(config.baseUrl, config.ping?.path ?? '/');
    const timeoutMs = Math.min(config.timeoutMs ?? 30000, PING_TIMEOUT_CAP_MS);
    try {
      const result = await httpCall({ method: 'GET', url, headers: requestHeaders(config, credentials), timeoutMs, signal });
      return { ok: true, message: `HTTP ${result.status}` };
    } catch (error) {
      if (signal.aborted || connectorErrorKind(error) === undefined) throw error;
      const { code, message } = error as ConnectorError;
      // The status, not the body: a ping's answer is shown to every role.
      const status = /^HTTP_(\d{3})$/.exec(code);
      const redirect = status && /\(a redirect[^)]*\)/.exec(message);
      return {
        ok: false,
        code,
        message: status ? `HTTP ${status[1]} from ${url.origin}${url.pathname}${redirect ? ` ${redirect[0]}` : ''}` : message,
      };
    }
  },
});
