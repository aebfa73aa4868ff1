/** The p-th percentile of ascending `sorted` (nearest rank, as bench/run.ts reads them). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
