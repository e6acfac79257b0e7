// After `stryker run` (npm run test:mutation): the mutation score of every mutated file, failing under 85% on any
// one of them (Stryker's own `thresholds.break` only judges the total). Reads reports/mutation/mutation.json.
import { readFileSync } from 'node:fs';

const MIN = 85;
const report = JSON.parse(readFileSync(new URL('../reports/mutation/mutation.json', import.meta.url), 'utf8'));
const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
let low = 0;
for (const [file, { mutants }] of Object.entries(report.files)) {
  const valid = mutants.filter((m) => VALID.has(m.status));
  const score = valid.length ? (100 * valid.filter((m) => DETECTED.has(m.status)).length) / valid.length : 100;
  const survivors = valid.filter((m) => !DETECTED.has(m.status)).map((m) => m.location.start.line);
  console.log(`${score.toFixed(1).padStart(6)} %  ${file}${survivors.length ? `  (survivors at lines ${[...new Set(survivors)].join(', ')})` : ''}`);
  if (score < MIN) low++;
}
if (low) {
  console.error(`mutation score under ${MIN}% in ${low} file(s): kill the survivors with a test, or mark an equivalent mutant with a // Stryker disable comment saying why`);
  process.exit(1);
}
