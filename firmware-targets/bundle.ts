import { build } from 'esbuild';

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
    define: {
      'process.env.FLOTILLA_TARGET': JSON.stringify(opts.targetName),
      // ESM dependencies (node-cron 4) read import.meta.url, which is empty in a CJS bundle; give them the bundle's.
      'import.meta.url': '__flotilla_bundle_url',
    },
    banner: { js: 'var __flotilla_bundle_url = require("url").pathToFileURL(__filename).href;' },
  });
}
