/**
 * `node dist/bench/cpuProfileTop.js <file.cpuprofile> [count] [fromS] [toS]`:
 * the top self-time functions of a V8 CPU profile (what `--cpu-prof` writes,
 * e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"), as a
 * Markdown table, and the same time grouped twice: by where the sampled code
 * lives (the engine, the http connector, undici, pg, node's own, GC), and by
 * its owner, the nearest caller in Sluice or a library (a `writev` under pg
 * is pg's). fromS–toS (seconds from the profile's start) keeps one stretch,
 * e.g. a measurement without the server's start; the busy time per second is
 * printed to choose it.
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type Frame = ProfileNode['callFrame'];

/** Code of Sluice or of a library (not node's own, nor a pseudo-frame): the owner of what it calls. */
const isOwner = (f: Frame): boolean => f.url.includes('/dist/src/') || f.url.includes('/node_modules/');

/** Where a frame's code lives, first match wins: the groups a reader of the engine asks about. */
const GROUPS: [string, (f: Frame) => boolean][] = [
  ['(idle)', (f) => f.functionName === '(idle)'],
  ['(garbage collector)', (f) => f.functionName === '(garbage collector)'],
  ['(program: native, unattributed)', (f) => f.functionName === '(program)'],
  ['Sluice engine (src/engine)', (f) => f.url.includes('/dist/src/engine/')],
  ['Sluice http connector (src/connectors)', (f) => f.url.includes('/dist/src/connectors/')],
  ['Sluice, other (src/)', (f) => f.url.includes('/dist/src/')],
  ['undici', (f) => f.url.includes('/node_modules/undici/')],
  ['pg (driver)', (f) => /\/node_modules\/(pg|pg-protocol|pg-pool)\//.test(f.url)],
  ['typeorm', (f) => f.url.includes('/node_modules/typeorm/')],
  ['graphql / Apollo', (f) => /\/node_modules\/(graphql|@apollo|type-graphql)\//.test(f.url)],
  ['other node_modules', (f) => f.url.includes('/node_modules/')],
  ['node internals (net, http, streams, timers)', (f) => f.url.startsWith('node:') || f.url === ''],
  ['other', () => true],
];

function main(): void {
  const [file, countArg, fromArg, toArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: node dist/bench/cpuProfileTop.js <file.cpuprofile> [count] [fromS] [toS]');
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fromUs = Number(fromArg ?? 0) * 1e6;
  const toUs = toArg === undefined ? Infinity : Number(toArg) * 1e6;
  const selfUs = new Map<number, number>();
  const busyPerSecond: number[] = [];
  let atUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    atUs += us;
    const second = Math.floor(atUs / 1e6);
    if (byId.get(id)?.callFrame.functionName !== '(idle)') busyPerSecond[second] = (busyPerSecond[second] ?? 0) + us;
    if (atUs >= fromUs && atUs < toUs) selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  const totalUs = [...selfUs.values()].reduce((s, x) => s + x, 0);
  const idleUs = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((s, [, us]) => s + us, 0);

  // Self time per function (name + file + line), summed over every node it appears as.
  const byFunction = new Map<string, number>();
  const byGroup = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    let owner: number | undefined = id;
    while (owner !== undefined && !isOwner(byId.get(owner)!.callFrame)) owner = parent.get(owner);
    const ownerGroup = GROUPS.find(([, test]) => test(owner === undefined ? frame : byId.get(owner)!.callFrame))![0];
    byOwner.set(ownerGroup, (byOwner.get(ownerGroup) ?? 0) + us);
    const where = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'} ${where}${where ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const group = GROUPS.find(([, test]) => test(frame))![0];
    byGroup.set(group, (byGroup.get(group) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number): string => `${((100 * us) / busyUs).toFixed(1)} %`;
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).filter(([k]) => !k.startsWith('(idle)')).slice(0, Number(countArg ?? 20));
  const table = (rows: Map<string, number>): string =>
    [...rows]
      .filter(([g]) => g !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([g, us]) => `| ${g} | ${(us / 1000).toFixed(0)} ms | ${pct(us)} |`)
      .join('\n');
  process.stdout.write(
    `busy ms per second of the profile: ${busyPerSecond.map((us, s) => `${s}:${Math.round((us ?? 0) / 1000)}`).join(' ')}\n` +
      `kept ${(totalUs / 1e6).toFixed(2)} s (${fromArg ?? 0}–${toArg ?? 'end'} s), busy ${(busyUs / 1e6).toFixed(2)} s (shares below are of the busy time)\n\n` +
      `| self time | share | function |\n| --- | --- | --- |\n` +
      top.map(([k, us]) => `| ${(us / 1000).toFixed(0)} ms | ${pct(us)} | \`${k}\` |`).join('\n') +
      `\n\n| where the sampled code lives | self time | share |\n| --- | --- | --- |\n` +
      table(byGroup) +
      `\n\n| owner (nearest caller in Sluice or a library) | self time | share |\n| --- | --- | --- |\n` +
      table(byOwner) +
      '\n',
  );
}

main();
