// `npm run build:cli` (and `prepare`, so `npm ci` runs it): compiles src/**/*.ts file by file into lib/,
// keeping the module layout, so `bin/acr-fleet.js` starts from JavaScript (no TypeScript loader at run
// time), lazy `import()`s stay lazy, and paths built from import.meta.url (src/register/flows.ts:
// ../../infra/kubernetes/*.yaml) resolve from lib/ exactly as from src/. Types are checked by `npm test`
// (tsc --noEmit), not here: esbuild only strips them.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Compiles every src/**\/*.ts into `outDir` (default lib/). */
export async function compileCli(outDir = path.join(ROOT, 'lib')) {
  const src = path.join(ROOT, 'src');
  const entryPoints = (await readdir(src, { recursive: true }))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(src, f));
  await rm(outDir, { recursive: true, force: true });
  await build({
    entryPoints,
    outdir: outDir,
    outbase: src,
    bundle: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return { outDir, files: entryPoints.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files } = await compileCli();
  console.log(`lib/: ${files} modules compiled for bin/acr-fleet.js`);
}
