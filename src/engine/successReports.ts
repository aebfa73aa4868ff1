/**
 * Which successes auto-recovery must hear of, and when. A queue below its
 * target climbs back on its successes (limit/recovery.ts), and each report is
 * a transaction on the queue owner's row (sql/recordRateLimits.ts). Reported
 * one or two at a time, against a hidden limit (where the level is below its
 * target for good) that was a transaction of four statements for every call
 * or two, each statement a socket write, the dearest thing a call does here
 * (`npm run bench -- hiddenConcurrency` with BENCH_SERVER_NODE_ARGS=--cpu-prof).
 *
 * So successes wait here until there are as many as it takes to change the
 * level or the ceiling (as the last report's state says), or until the
 * oldest has waited MAX_WAIT_MS: other processes' successes count toward
 * the same threshold, and the state may have moved since.
 */
export const MAX_WAIT_MS = 250;

interface Owner {
  /** Successes that could change the level or ceiling, as of the last report. */
  needed: number;
  unreported: number;
  /** When the oldest unreported success came (performance.now()). */
  oldestAt: number;
}

export class SuccessReports {
  private readonly owners = new Map<string, Owner>();

  /** A report for `owner` was recorded: `needed` more successes may change its level; null: it is not recovering (at its target, or auto-recovery off). */
  recorded(owner: string, needed: number | null): void {
    if (needed === null) {
      this.owners.delete(owner);
      return;
    }
    const o = this.owners.get(owner);
    if (o) o.needed = needed;
    else this.owners.set(owner, { needed, unreported: 0, oldestAt: 0 });
  }

  /** A call of `owner` succeeded; counted only while it recovers. */
  succeeded(owner: string, now: number): void {
    const o = this.owners.get(owner);
    if (!o) return;
    if (o.unreported === 0) o.oldestAt = now;
    o.unreported++;
  }

  /** Takes the reports due now: [owner, successes]. */
  takeDue(now: number): [string, number][] {
    const due: [string, number][] = [];
    for (const [owner, o] of this.owners) {
      if (o.unreported > 0 && (o.unreported >= o.needed || now - o.oldestAt >= MAX_WAIT_MS)) {
        due.push([owner, o.unreported]);
        o.unreported = 0;
      }
    }
    return due;
  }

  /** In how many ms the next report falls due by age alone; null: none waits. */
  nextDueIn(now: number): number | null {
    let soonest: number | null = null;
    for (const o of this.owners.values()) {
      if (o.unreported === 0) continue;
      const inMs = Math.max(0, o.oldestAt + MAX_WAIT_MS - now);
      soonest = soonest === null ? inMs : Math.min(soonest, inMs);
    }
    return soonest;
  }
}
