/**
 * The engine's NOTIFY channels are named once, in src/engine/channels.ts:
 * the stored functions, which cannot import a constant, must notify only
 * channels named there, and no TypeScript source spells a channel out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ENGINE_CHANNELS } from '../../src/engine/channels';
import { ENGINE_FUNCTIONS_DIR } from '../../src/engine/store';

const SRC = path.join(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** The channel literals of every pg_notify('…', …) in `text`. */
const notifiedChannels = (text: string): string[] => [...text.matchAll(/pg_notify\(\s*'([^']*)'/g)].map((m) => m[1]!);

describe('engine channels', () => {
  it('are the only channels the stored functions notify', () => {
    const notified = fs
      .readdirSync(ENGINE_FUNCTIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) => notifiedChannels(fs.readFileSync(path.join(ENGINE_FUNCTIONS_DIR, f), 'utf8')).map((channel) => ({ file: f, channel })));
    // Some function notifies: the check below has something to check.
    expect(notified.length).toBeGreaterThan(0);
    for (const n of notified) expect({ ...n, known: (ENGINE_CHANNELS as readonly string[]).includes(n.channel) }).toEqual({ ...n, known: true });
  });

  it('are never spelled out in TypeScript: pg_notify there takes a constant', () => {
    const spelled = sourceFiles(SRC).flatMap((file) =>
      notifiedChannels(fs.readFileSync(file, 'utf8'))
        .filter((channel) => !channel.startsWith('${'))
        .map((channel) => ({ file: path.relative(SRC, file), channel })),
    );
    expect(spelled).toEqual([]);
    // And the constants are what SQL in TypeScript interpolates.
    expect(sourceFiles(SRC).some((file) => /pg_notify\('\$\{QUEUE_CHANNEL\}'/.test(fs.readFileSync(file, 'utf8')))).toBe(true);
  });

  it('have distinct names', () => {
    expect(new Set(ENGINE_CHANNELS).size).toBe(ENGINE_CHANNELS.length);
  });
});
