import { ALLOWED_IMPORTS, REQUIRED_EXPORTS } from '../step-abi.js';
import type { FuncType, ModuleInfo } from './binary.js';
import { StepLoadError } from './step-load-error.js';

const sig = (t: { params: string[]; results: string[] }) => `(${t.params.join(', ')}) -> (${t.results.join(', ')})`;
const same = (a: FuncType | undefined, b: FuncType) => !!a && sig(a) === sig(b);

/** ABI checks on an inspected module; throws a StepLoadError naming the first offending import or export. Pure. */
export function checkAbi(info: ModuleInfo, maxMemoryPages: number): void {
  for (const imp of info.imports) {
    // ABI: a step may import only flotilla.emit/log/now_ms and env.abort; anything else is rejected by name.
    const allowed = ALLOWED_IMPORTS.find((a) => a.module === imp.module && a.name === imp.name);
    if (!allowed || imp.kind !== 'func') {
      throw new StepLoadError(`forbidden import "${imp.module}.${imp.name}" (${imp.kind}): a step may import only ${ALLOWED_IMPORTS.map((a) => `${a.module}.${a.name}`).join(', ')}`);
    }
    if (!same(imp.type, allowed)) {
      throw new StepLoadError(`import "${imp.module}.${imp.name}" has signature ${imp.type ? sig(imp.type) : '?'}, ABI 1 requires ${sig(allowed)}`);
    }
  }
  const memory = info.exports.find((e) => e.name === 'memory');
  if (!memory || memory.kind !== 'memory') throw new StepLoadError('missing export "memory": a step must export its linear memory');
  for (const want of REQUIRED_EXPORTS) {
    const got = info.exports.find((e) => e.name === want.name);
    if (!got) {
      if (want.optional) continue;
      throw new StepLoadError(`missing export "${want.name}": ABI 1 requires ${want.name}${sig(want)}`);
    }
    if (got.kind !== 'func' || !same(got.type, want)) {
      throw new StepLoadError(`export "${want.name}" must be a function ${sig(want)}`);
    }
  }
  if (info.memories.length !== 1) throw new StepLoadError(`a step must define exactly one memory (found ${info.memories.length})`);
  if (info.memories[0].min > maxMemoryPages) {
    throw new StepLoadError(`memory starts at ${info.memories[0].min} pages, over the manifest limit of ${maxMemoryPages} pages`);
  }
}

