import { dirname } from 'node:path';
import { build, type Plugin } from 'esbuild';

/**
 * Optional dependencies the agent's libraries probe with `try { require(x) } catch {}` (ws: native speed-ups, debug:
 * colours). None is installed for the targets, so each becomes a module that throws as a missing one would; left as
 * a bare require, a SEA warns at start-up that it cannot load modules from disk.
 */
const ABSENT_OPTIONAL = ['bufferutil', 'utf-8-validate', 'supports-color'];

const absentOptional: Plugin = {
  name: 'absent-optional',
  setup(b) {
    const filter = new RegExp(`^(${ABSENT_OPTIONAL.join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'absent-optional' }));
    b.onLoad({ filter: /.*/, namespace: 'absent-optional' }, (args) => ({
      contents: `throw Object.assign(new Error("Cannot find module '${args.path}'"), { code: 'MODULE_NOT_FOUND' });`,
      loader: 'js',
    }));
  },
};

/**
 * Library modules an agent never runs, replaced by small stand-ins: they would only sit in its heap as source text
 * and function data (measured in bench/README.md, footprint). The agent speaks mqtt:// and mqtts:// only (its
 * `--coordinator` option says so), so mqtt.js's WebSocket and SOCKS transports go; zod keeps its English messages
 * and drops its other locales and the JSON Schema importer.
 */
const TRIMMED: { path: RegExp; contents: string }[] = [
  { path: /[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/]ws\.js$/, contents: 'const no = () => { throw new Error("flotilla-agent: WebSocket transports are not built in"); }; exports.streamBuilder = no; exports.browserStreamBuilder = no;' },
  { path: /[\\/]mqtt[\\/]build[\\/]lib[\\/]connect[\\/]socks\.js$/, contents: 'exports.default = () => { throw new Error("flotilla-agent: SOCKS proxies are not built in"); };' },
  { path: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/, contents: 'export { default as en } from "./en.js";' },
  { path: /[\\/]zod[\\/]v4[\\/]classic[\\/]from-json-schema\.js$/, contents: 'export function fromJSONSchema() { throw new Error("flotilla-agent: fromJSONSchema is not built in"); }' },
];

const trimmed: Plugin = {
  name: 'trimmed',
  setup(b) {
    for (const { path, contents } of TRIMMED) b.onLoad({ filter: path }, (args) => ({ contents, loader: 'js', resolveDir: dirname(args.path) }));
  },
};

/**
 * The agent as one CommonJS file (SEA and Debian's Node both run a single CJS script). The target's name is
 * compiled in as `process.env.FLOTILLA_TARGET`, which agent/health.ts reports.
 */
export async function bundleAgent(opts: { entry: string; targetName: string; nodeMajor: number; outfile: string }): Promise<void> {
  await build({
    entryPoints: [opts.entry],
    outfile: opts.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${opts.nodeMajor}`,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [absentOptional, trimmed],
    // `step build` loads the AssemblyScript compiler lazily; an authoring tool, never shipped to devices.
    external: ['assemblyscript', 'assemblyscript/*'],
    define: {
      'process.env.FLOTILLA_TARGET': JSON.stringify(opts.targetName),
      // ESM dependencies (node-cron 4) read import.meta.url, which is empty in a CJS bundle; give them the bundle's.
      'import.meta.url': '__flotilla_bundle_url',
    },
    banner: { js: 'var __flotilla_bundle_url = require("url").pathToFileURL(__filename).href;' },
  });
}
