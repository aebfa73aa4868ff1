/** The http connector's settings, as its schemas (schemas.ts) allow them. */
export interface HttpConfig {
  baseUrl: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  ping?: { path?: string };
}

export type HttpCredentials =
  | { type: 'bearer'; token: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'header'; name: string; value: string };
