import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__SLUICE_TEST_PG__;
  if (!state) return;
  await state.pg.stop();
  fs.rmSync(state.dir, { recursive: true, force: true });
}
