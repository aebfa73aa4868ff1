/**
 * The jobs canceled lately, as this process heard of them (the cancel
 * channel's NOTIFY). A claim that committed just before a cancel can hand the
 * dispatcher a message of the canceled job after the cancel's abort() ran
 * over the calls in flight: the dispatcher asks here before it starts one.
 * A cancel older than `keepMs` no longer matters: a message claimed before it
 * started long ago.
 */
const KEEP_MS = 10 * 60 * 1000;

export class RecentCancels {
  private readonly at = new Map<string, number>();

  constructor(private readonly keepMs = KEEP_MS) {}

  remember(jobId: string, now = Date.now()): void {
    this.at.delete(jobId); // re-inserted at the end, keeping the map in time order
    this.at.set(jobId, now);
    // Maps iterate in insertion order: the oldest come first.
    for (const [id, when] of this.at) {
      if (now - when < this.keepMs) break;
      this.at.delete(id);
    }
  }

  has(jobId: string): boolean {
    return this.at.has(jobId);
  }
}
