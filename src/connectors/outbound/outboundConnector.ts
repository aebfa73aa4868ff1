/**
 * The socket factory of every outbound HTTP call (undici's `connect`
 * option): resolves the host itself, checks the address against the outbound
 * policy, and connects to that very address — so what is checked is what is
 * connected to, and a DNS answer cannot change between the check and the
 * connect. A denied call fails before any byte is sent.
 *
 * With several addresses for a name, the first one the policy allows (in the
 * resolver's order) is used; none allowed is OUTBOUND_DENIED, naming the first.
 */
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { currentOutboundPolicy, OutboundDeniedError } from './outboundPolicy';

const plainConnect = buildConnector({});

export const policedConnect: buildConnector.connector = (options, callback) => {
  const policy = currentOutboundPolicy();
  const host = options.hostname;
  const deny = (address: string, why: string): void =>
    callback(new OutboundDeniedError(`the call to ${host === address ? address : `${host} (${address})`} was not made: ${why}`), null);
  if (isIP(host) !== 0) {
    const refusal = policy.refusal(host);
    if (refusal) return deny(host, refusal);
    return plainConnect(options, callback);
  }
  lookup(host, { all: true, verbatim: true }, (error, addresses) => {
    if (error) return callback(error, null);
    const allowed = addresses.find((a) => policy.refusal(a.address) === null);
    if (!allowed) {
      const first = addresses[0]?.address ?? host;
      return deny(first, policy.refusal(first) ?? 'no address');
    }
    // The resolved address is connected to; TLS still checks the name's certificate.
    plainConnect({ ...options, hostname: allowed.address, servername: options.servername ?? host }, callback);
  });
};
