/**
 * Regenerates bench/README.md from bench/results/*.json, so no figure in it is copied by hand:
 * - between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`: the run's facts and every table of that result;
 * - between `<!-- fig:NAME.figure -->` and `<!-- /fig -->`: one named figure, for the prose.
 * A marker naming a result or figure that does not exist is an error (so prose cannot cite a number no script made).
 * Run by `npm run bench` after a full run, or alone: `node dist/bench/readme.js`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkResult, markdown, type BenchResult } from './report.js';

const README = fileURLToPath(new URL('../../bench/README.md', import.meta.url));
const resultPath = (name: string) => fileURLToPath(new URL(`../../bench/results/${name}.json`, import.meta.url));

type Stored = BenchResult & { run: { date: string; commit: string; node: string; platform: string; cpus: number; cpuModel: string; loadavg: number[] } };

/** A figure as prose shows it: thousands separated, three significant digits below 100. */
export function formatFigure(n: number): string {
  const digits = Math.abs(n) >= 100 || Number.isInteger(n) ? 0 : Math.abs(n) >= 10 ? 1 : Math.abs(n) >= 1 ? 2 : 3;
  return n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function renderReadme(text: string, load: (bench: string) => Stored): string {
  const block = /<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g;
  const figure = /<!-- fig:([\w-]+)\.(\w+) -->[\s\S]*?<!-- \/fig -->/g;
  return text
    .replace(block, (_, bench: string) => {
      const r = load(bench);
      const { run } = r;
      const facts = `Measured ${run.date.slice(0, 10)} at commit ${run.commit}: ${run.cpus} × ${run.cpuModel}, ${run.platform}, Node ${run.node}, load average ${run.loadavg.join(' / ')}.`;
      return [`<!-- bench:${bench} -->`, facts, '', ...r.tables.map(markdown).flatMap((t) => [t, '']), `<!-- /bench:${bench} -->`].join('\n');
    })
    .replace(figure, (_, bench: string, name: string) => {
      const value = load(bench).figures[name];
      if (value === undefined) throw new Error(`bench/README.md cites ${bench}.${name}, which bench/results/${bench}.json does not have`);
      return `<!-- fig:${bench}.${name} -->${formatFigure(value)}<!-- /fig -->`;
    });
}

/** Rewrites bench/README.md from the stored results; returns a one-line summary. */
export function regenerateReadme(): string {
  const cache = new Map<string, Stored>();
  const load = (bench: string): Stored => {
    let r = cache.get(bench);
    if (!r) {
      r = JSON.parse(readFileSync(resultPath(bench), 'utf8')) as Stored;
      const problems = checkResult(r, bench);
      if (problems.length) throw new Error(`bench/results/${bench}.json: ${problems.join('; ')}`);
      cache.set(bench, r);
    }
    return r;
  };
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8'), load));
  return `bench/README.md regenerated from ${[...cache.keys()].map((b) => `bench/results/${b}.json`).join(', ') || 'no results'}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(regenerateReadme());
