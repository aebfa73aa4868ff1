/**
 * What one token may hold open over WebSocket, across all its sockets in
 * this process: at most `maxSockets` sockets and `maxSubscriptions`
 * operations running at once (subscriptions, and queries or mutations not
 * answered yet). Each subscription holds LISTEN fan-out and a stream's
 * buffer; without a bound per token, 5 sockets × 100 subscriptions made
 * /healthz time out.
 *
 * Operations are counted from graphql-ws's own record of each socket's
 * running operations (`ctx.subscriptions`, which it keeps exact: an
 * operation is in it from its subscribe message until it ends, whichever
 * way it ends), so nothing here can drift from what really runs.
 */
export interface OpenSocket {
  /** graphql-ws's running operations of the socket, by id. */
  readonly subscriptions: Record<string, unknown>;
}

export class SubscriptionCaps {
  private readonly socketsByToken = new Map<string, Set<OpenSocket>>();

  constructor(
    readonly maxSockets: number,
    readonly maxSubscriptions: number,
  ) {}

  /** Registers a socket authenticated with `tokenId`; false (nothing registered) when the token holds maxSockets already. */
  admit(tokenId: string, socket: OpenSocket): boolean {
    const sockets = this.socketsByToken.get(tokenId) ?? new Set<OpenSocket>();
    if (sockets.size >= this.maxSockets) return false;
    sockets.add(socket);
    this.socketsByToken.set(tokenId, sockets);
    return true;
  }

  /** The socket closed (idempotent). */
  release(tokenId: string, socket: OpenSocket): void {
    const sockets = this.socketsByToken.get(tokenId);
    if (!sockets) return;
    sockets.delete(socket);
    if (sockets.size === 0) this.socketsByToken.delete(tokenId);
  }

  /** Operations the token runs now over all its sockets (one being subscribed included). */
  runningOperations(tokenId: string): number {
    let running = 0;
    for (const socket of this.socketsByToken.get(tokenId) ?? []) running += Object.keys(socket.subscriptions).length;
    return running;
  }
}
