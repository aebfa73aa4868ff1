/**
 * The outbound policy (contract: "outbound calls"): which addresses a
 * connection call, ping or redirect may connect to. Checked on the address a
 * socket is about to connect to, after DNS (outboundConnector.ts), so a name
 * that resolves to a denied address is denied by that address.
 *
 * Matching is Node's own `net.BlockList`, one per list. An IPv4-mapped IPv6
 * address (::ffff:127.0.0.1) is checked as the IPv4 address it carries: the
 * socket reaches that IPv4 host, and an IPv4 rule must hold for it. The
 * unspecified addresses (0.0.0.0, ::) are checked as the loopback address
 * they reach when connected to (127.0.0.1, ::1), so they are no way around a
 * rule for loopback.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import { outboundRanges, type CidrRange, type OutboundRanges } from '../../config';
import { PermanentError } from '../sdk/errors';

/** Why a call was not made: sends nothing, never retried, kept as the JobError's code. */
export class OutboundDeniedError extends PermanentError {
  override name = 'OutboundDeniedError';
  constructor(message: string) {
    super(message, 'OUTBOUND_DENIED');
  }
}

function blockListOf(ranges: CidrRange[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family);
  return list;
}

/**
 * The address a socket connecting to `address` reaches: `::ffff:a.b.c.d` and
 * `::ffff:xxxx:xxxx` the IPv4 address they carry, 0.0.0.0 and :: this
 * host's loopback; anything else unchanged.
 */
export function unmapped(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::' || /^(0{1,4}:){7}0{1,4}$/.test(address) || address === '::0') return '::1';
  const match = /^::ffff:(?:0{1,4}:)?(.+)$/i.exec(address);
  if (!match) return address;
  const rest = match[1]!;
  if (isIPv4(rest)) return unmapped(rest);
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
  if (!hex) return address;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return unmapped(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
}

export class OutboundPolicy {
  private readonly deny: BlockList;
  private readonly allow: BlockList | null;

  constructor(readonly ranges: OutboundRanges) {
    this.deny = blockListOf(ranges.deny);
    this.allow = ranges.allow === null ? null : blockListOf(ranges.allow);
  }

  /** null when `address` (an IP address) may be reached; else why not, naming the variable to change. */
  refusal(address: string): string | null {
    const ip = unmapped(address);
    const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    if (isIP(ip) === 0) return `${address} is not an IP address`;
    if (this.deny.check(ip, family)) return `${ip} is in OUTBOUND_DENY (${this.ranges.deny.map((r) => r.text).join(',')})`;
    if (this.allow && !this.allow.check(ip, family)) {
      return `${ip} is not in OUTBOUND_ALLOW (${(this.ranges.allow ?? []).map((r) => r.text).join(',')})`;
    }
    return null;
  }
}

/**
 * The process's policy, kept under a registered symbol so that a plugin's own
 * copy of the SDK (outboundFetch) sees the one the server installed. One per
 * process: the policy is process configuration, read once at start.
 */
const CURRENT = Symbol.for('sluice.outbound-policy');
type Holder = { [CURRENT]?: OutboundPolicy };

/** Called once at start (app.ts) with the configured ranges. */
export function installOutboundPolicy(ranges: OutboundRanges): OutboundPolicy {
  const policy = new OutboundPolicy(ranges);
  (globalThis as Holder)[CURRENT] = policy;
  return policy;
}

/** The installed policy; before any start, the default (link-local denied), never "allow everything". */
export function currentOutboundPolicy(): OutboundPolicy {
  const holder = globalThis as Holder;
  holder[CURRENT] ??= new OutboundPolicy(outboundRanges({}));
  return holder[CURRENT];
}
