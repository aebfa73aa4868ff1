/**
 * This engine's row in engine_instance (sql/engineInstances.ts), which lets
 * enqueues start messages for it (startOnEnqueue.ts): upserted over the
 * LISTEN connection at start and every ENGINE_REGISTER_EVERY_MS while that
 * connection is up, deleted as soon as it drops (a start announced meanwhile
 * would never reach this process) and when the engine stops.
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { Notifications } from './notifications';
import { registerEngine, unregisterEngine } from './store';
import { ENGINE_ALIVE_MS, ENGINE_REGISTER_EVERY_MS } from './startOnEnqueue';

/** A stopping engine does not wait longer than this for its row's delete (the database may be gone; the row expires anyway). */
const UNREGISTER_TIMEOUT_MS = 1000;

export class EngineRegistration {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    /** The LISTEN connection: what hears sluice_start, and what the row names. */
    private readonly listen: Pick<Notifications, 'listening' | 'query'>,
    readonly engineId: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renew(), ENGINE_REGISTER_EVERY_MS);
    this.timer.unref();
  }

  /** The LISTEN connection dropped: no enqueue may count on this engine until it is back (the next renewal). */
  listenLost(): void {
    void unregisterEngine(this.pool, this.engineId).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deleted = unregisterEngine(this.pool, this.engineId).catch((error: unknown) =>
      this.logger.warn({ err: error }, 'removing this engine from engine_instance failed; it expires by itself'),
    );
    await Promise.race([deleted, new Promise((r) => setTimeout(r, UNREGISTER_TIMEOUT_MS).unref())]);
  }

  private async renew(): Promise<void> {
    if (!this.listen.listening) return;
    try {
      await registerEngine(this.listen, this.engineId, this.leaseMs, ENGINE_ALIVE_MS);
    } catch (error) {
      this.logger.warn({ err: error }, 'renewing this engine in engine_instance failed; retrying');
    }
  }
}
