/**
 * `npm run build`: the deployable code for Function Compute in `dist/`: one bundled ES module
 * (`index.mjs` from `src/entry/index.ts`, handlers `index.handler` and `index.webhook`) and the fleet config it reads (`fleet.yaml`). The config comes
 * from $ACR_FLEET_CONFIG, else ./fleet.yaml; it is validated before anything is written.
 */
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deployProblems, scheduleProblem } from '../src/config/deploy.js';
import { loadFleet } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BuildResult {
  outDir: string;
  bundle: string;
  bytes: number;
}

/** Bundles the FC handlers into `outDir` and ships `config` (when given) as `outDir/fleet.yaml`. */
export async function buildFunction(outDir: string, config?: string): Promise<BuildResult> {
  if (config) await loadFleet({ file: config, env: { FC_REGION: process.env.FC_REGION ?? 'cn-hangzhou' } });
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const bundle = path.join(outDir, 'index.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'src/entry/index.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    // The @alicloud SDKs are CommonJS and require() Node built-ins; give the ES module a require.
    banner: {
      js: "import { createRequire as __acrFleetCreateRequire } from 'node:module'; const require = __acrFleetCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  if (config) await copyFile(config, path.join(outDir, 'fleet.yaml'));
  return { outDir, bundle, bytes: (await stat(bundle)).size };
}

/**
 * The same validation as `acr-fleet validate`, plus the deployed function's own refusals (file kubeconfigs,
 * loopback endpoints) and `ACR_FLEET_SCHEDULE` as FC's cron: every problem at once, as a ConfigError.
 */
export async function checkDeploy(config: string | undefined, schedule: string | undefined): Promise<void> {
  const problems = [];
  if (config) {
    const fleet = await loadFleet({ file: config, env: { FC_REGION: process.env.FC_REGION ?? 'cn-hangzhou' } });
    problems.push(...deployProblems(fleet));
  }
  if (problems.length) throw new ConfigError(config ?? 'fleet.yaml', problems);
  const why = schedule === undefined ? undefined : scheduleProblem(schedule);
  if (why) throw new ConfigError('ACR_FLEET_SCHEDULE', [{ path: '', message: why }]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = process.env.ACR_FLEET_CONFIG ?? 'fleet.yaml';
  const exists = await stat(config).then(
    () => true,
    () => false,
  );
  if (!exists && !process.argv.includes('--no-config')) {
    console.error(
      `acr-fleet build: ${config}: file not found (set ACR_FLEET_CONFIG, create ./fleet.yaml, or pass --no-config to build the code alone)`,
    );
    process.exit(2);
  }
  try {
    // `npm run build` (and so `s deploy`/`s preview`, whose pre-actions run it) ships nothing the function would refuse.
    await checkDeploy(exists ? config : undefined, process.env.ACR_FLEET_SCHEDULE);
    const result = await buildFunction(path.join(ROOT, 'dist'), exists ? config : undefined);
    console.log(
      `dist/index.mjs: ${(result.bytes / 1024).toFixed(0)} KiB${exists ? `; dist/fleet.yaml from ${config}` : ' (no fleet.yaml shipped)'}`,
    );
  } catch (err) {
    // One line per problem, each `file: key.path: message`.
    const lines = err instanceof Error ? err.message.split('\n') : [String(err)];
    for (const line of lines) console.error(`acr-fleet build: ${line}`);
    process.exit(2);
  }
}
