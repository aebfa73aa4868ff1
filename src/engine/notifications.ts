/**
 * One LISTEN connection per process. PostgreSQL delivers a NOTIFY at commit
 * to every listener, in every process; a dropped connection is reopened, and
 * the engine's poll covers what was said while it was down.
 */
import { Client } from 'pg';
import type { Logger } from '../logger';

const RECONNECT_MS = 1000;

export class Notifications {
  private client: Client | null = null;
  private closed = false;
  private listeningNow = false;

  constructor(
    private readonly url: string,
    private readonly channels: string[],
    /** `senderPid`: the PostgreSQL backend that sent it. */
    private readonly onNotify: (channel: string, payload: string, senderPid: number) => void,
    private readonly logger: Logger,
    /** The LISTEN connection was lost: nothing said meanwhile reaches this process. */
    private readonly onDown?: () => void,
  ) {}

  /** Whether the LISTEN connection is up: what is notified now reaches this process. */
  get listening(): boolean {
    return this.listeningNow;
  }

  /** A statement on the LISTEN connection itself (one that must name the backend that hears the notifications). */
  async query(text: string, values?: unknown[]): Promise<void> {
    const client = this.client;
    if (!client || !this.listeningNow) throw new Error('the LISTEN connection is down');
    await client.query(text, values);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.url, application_name: 'sluice-listen' });
    const retry = (error?: unknown): void => {
      if (this.client !== client) return;
      this.client = null;
      this.listeningNow = false;
      this.onDown?.();
      client.removeAllListeners();
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
      setTimeout(() => void this.connect().catch((e: unknown) => retry(e)), RECONNECT_MS).unref();
    };
    client.on('notification', (n) => this.onNotify(n.channel, n.payload ?? '', n.processId));
    client.on('error', retry);
    client.on('end', () => retry());
    this.client = client;
    try {
      await client.connect();
      for (const channel of this.channels) await client.query(`LISTEN ${channel}`);
      if (this.client === client) this.listeningNow = true;
    } catch (error) {
      retry(error);
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.listeningNow = false;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
