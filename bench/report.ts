/**
 * The one way a bench reports: its tables (printed as Markdown) and its figures, written as JSON with the facts of
 * the run (machine, Node, commit, load average) to bench/results/NAME.json, from which bench/README.md's tables are
 * generated. `--quick` (smoke runs in CI) writes to bench/results/quick/ instead, so it never replaces a real result.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export type Cell = string | number;
export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** One line under the table: what the baseline is, what the ratio means. */
  note?: string;
}
export interface BenchResult {
  /** File name of the bench without extension (`runtime` for bench/runtime.ts). */
  bench: string;
  tables: Table[];
  /** Named figures the README prose may cite (`p50RestartMs`, `ratioVsRaw`, ...). */
  figures: Record<string, number>;
}

export const quick = process.argv.includes('--quick');

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function markdown(table: Table): string {
  const line = (cells: Cell[]) => `| ${cells.map(String).join(' | ')} |`;
  const out = [`**${table.title}**`, '', line(table.columns), line(table.columns.map(() => '---')), ...table.rows.map(line)];
  if (table.note) out.push('', table.note);
  return out.join('\n');
}

/** Prints the tables and writes the JSON result; returns the file written. */
export function report(result: BenchResult): string {
  for (const t of result.tables) console.log(`\n${markdown(t)}\n`);
  const dir = fileURLToPath(new URL(quick ? '../../bench/results/quick/' : '../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${result.bench}.json`;
  const run = {
    date: new Date().toISOString(),
    commit: commit(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    quick,
  };
  writeFileSync(file, `${JSON.stringify({ ...result, run }, null, 2)}\n`);
  return file;
}

/** The shape of bench/results/*.json, checked by the README generator and by the `--quick` smoke run. */
export function checkResult(json: unknown, bench: string): string[] {
  const problems: string[] = [];
  const r = json as Partial<BenchResult & { run: Record<string, unknown> }> | null;
  if (!r || typeof r !== 'object') return [`${bench}: not a JSON object`];
  if (r.bench !== bench) problems.push(`${bench}: "bench" is ${JSON.stringify(r.bench)}`);
  if (!Array.isArray(r.tables) || r.tables.length === 0) problems.push(`${bench}: no tables`);
  for (const [i, t] of (Array.isArray(r.tables) ? r.tables : []).entries()) {
    if (typeof t?.title !== 'string' || !Array.isArray(t.columns) || !Array.isArray(t.rows)) problems.push(`${bench}: table ${i} lacks title, columns or rows`);
    else if (t.rows.length === 0 || t.rows.some((row) => !Array.isArray(row) || row.length !== t.columns.length)) problems.push(`${bench}: table "${t.title}" has no rows or a row of the wrong width`);
  }
  const figures = r.figures && typeof r.figures === 'object' ? Object.entries(r.figures) : null;
  if (!figures || figures.length === 0) problems.push(`${bench}: no figures`);
  for (const [k, v] of figures ?? []) if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`${bench}: figure ${k} is not a finite number`);
  for (const k of ['date', 'commit', 'node', 'platform', 'cpus', 'loadavg']) if (r.run?.[k] === undefined) problems.push(`${bench}: run.${k} missing`);
  return problems;
}
