/**
 * `npm run bench [-- --only NAME[,NAME] --quick]`: runs each benchmark in its own process, one after the other;
 * each prints its tables and writes bench/results/NAME.json (bench/report.ts). A full run then regenerates
 * bench/README.md's tables from those results (bench/readme.ts). `--quick` is CI's smoke test: small variants,
 * results in bench/results/quick/, and a check that every bench wrote a well-formed result (nothing about speed).
 * Add a bench by appending its file name (without .ts) here.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkResult, quick } from './report.js';
import { regenerateReadme } from './readme.js';

// One bench a line, so that benches added side by side merge without a conflict.
const BENCHES = [
  'runtime',
  'restart-latency',
  'footprint',
  'federation',
  'dashboard',
  'metering',
  'enrolment',
  'rollout',
  'cluster-load',
  'spool',
  'logs',
  'agent-release',
];

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',').filter(Boolean) : BENCHES;
const unknown = only.filter((n) => !BENCHES.includes(n));
if (unknown.length || only.length === 0) {
  console.error(`bench: unknown bench ${unknown.join(', ') || '(none given)'}; known: ${BENCHES.join(', ')}`);
  process.exit(2);
}

const resultFile = (name: string) => fileURLToPath(new URL(`../../bench/results/${quick ? 'quick/' : ''}${name}.json`, import.meta.url));
const failed: string[] = [];
for (const name of only) {
  console.log(`\n=== bench/${name}${quick ? ' (quick)' : ''} ===\n`);
  rmSync(resultFile(name), { force: true }); // a stale result must not pass for this run's
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${name}.js`, import.meta.url)), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed.push(`${name}: exited with ${r.status ?? r.signal}`);
    continue;
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(resultFile(name), 'utf8'));
  } catch (err) {
    failed.push(`${name}: no readable result (${(err as Error).message})`);
    continue;
  }
  failed.push(...checkResult(json, name));
}
if (!quick && failed.length === 0) console.log(`\n${regenerateReadme()}`);
for (const f of failed) console.error(`bench: ${f}`);
process.exitCode = failed.length ? 1 : 0;
