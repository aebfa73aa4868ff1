/**
 * `fetch` for connector plugins, under the rules the built-in http connector
 * follows (contract: "outbound calls", "Credentials belong to their
 * application"):
 *
 * - every socket is checked against the process's outbound policy
 *   (OUTBOUND_DENY / OUTBOUND_ALLOW) on the address it connects to, after
 *   DNS; a denied call sends nothing and rejects with a PermanentError of code
 *   OUTBOUND_DENIED (throw it on, or let it through: the engine fails the
 *   record at once with that code);
 * - redirects are never followed (`redirect: 'manual'`): a 3xx comes back as
 *   the response, so credentials never travel to another origin. A plugin
 *   may follow a Location itself when it is on the same origin.
 *
 * A plugin that makes its requests another way (its own HTTP client,
 * node:http) is outside the policy: use this one.
 */
import { Agent, fetch as undiciFetch, type RequestInfo, type RequestInit, type Response } from 'undici';
import { policedConnect } from '../outbound/outboundConnector';
import { connectorErrorKind } from './errors';

const agent = new Agent({ connect: policedConnect, keepAliveTimeout: 10000 });

export async function outboundFetch(input: RequestInfo, init: Omit<RequestInit, 'dispatcher' | 'redirect'> = {}): Promise<Response> {
  try {
    return await undiciFetch(input, { ...init, dispatcher: agent, redirect: 'manual' });
  } catch (error) {
    // fetch reports every failure as "fetch failed"; the policy's refusal is its cause.
    const cause = (error as { cause?: unknown }).cause;
    if (connectorErrorKind(cause) === 'permanent') throw cause;
    throw error;
  }
}
