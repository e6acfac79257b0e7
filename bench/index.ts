/**
 * `npm run bench`: runs every benchmark in its own process, one after the other (each prints its own table).
 * Add a bench by appending its file name (without .ts) here.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES = ['runtime', 'restart-latency', 'federation'];

let failed = 0;
for (const name of BENCHES) {
  console.log(`\n=== bench/${name} ===\n`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${name}.js`, import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
