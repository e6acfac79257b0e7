// Bundles the dashboard (coordinator/dashboard/web) into dist/dashboard with esbuild: content-hashed assets
// (served as immutable) plus an index.html that names them (served no-cache). Run by `npm run build` after the
// web code has been typechecked (tsc -p coordinator/dashboard/web).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'dist/dashboard');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'coordinator/dashboard/web/main.ts' },
  bundle: true,
  format: 'esm',
  // EventSource, ResizeObserver, optional chaining: every browser since 2020.
  target: 'es2020',
  minify: true,
  sourcemap: 'linked',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = (ext) => {
  const hit = outputs.find(([path, o]) => o.entryPoint !== undefined && path.endsWith(ext)) ?? outputs.find(([path]) => path.endsWith(ext) && basename(path).startsWith('main-'));
  if (!hit) throw new Error(`dashboard build: no ${ext} output`);
  return relative(out, join(root, hit[0]));
};
const js = entry('.js');
const css = entry('.css');

const icon =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='6' fill='%230f172a'/%3E%3Cpath d='M6 21h20l-3 5H9z' fill='%2360a5fa'/%3E%3Cpath d='M15 6v13H8z' fill='%23e2e8f0'/%3E%3Cpath d='M17 9v10h7z' fill='%2394a3b8'/%3E%3C/svg%3E";
writeFileSync(
  join(out, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flotilla dashboard</title>
<link rel="icon" href="${icon}">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Flotilla dashboard needs JavaScript. The same data is available from the HTTP API (docs/api.md).</noscript>
</body>
</html>
`,
);

for (const [path, o] of outputs) if (!path.endsWith('.map')) console.log(`dashboard: ${relative(root, join(root, path))} ${(o.bytes / 1024).toFixed(1)} KiB`);
