/**
 * The installed command: `bin/acr-fleet.js` runs the JavaScript compiled into lib/ (by `npm ci`'s `prepare`),
 * in a plain `node` with no TypeScript loader, and files it finds from `import.meta.url` (package.json, for
 * `--version`) resolve from the compiled output.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { compileCli } from '../scripts/compile-cli.mjs';
import { ADMIN_KUBECONFIG, sandbox } from './support/sandbox.js';
import { NEW_CLUSTER } from './support/fleet.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin/acr-fleet.js');

/** Runs the command as a shell would: a fresh `node`, no loader flags, the given environment only. */
async function acrFleet(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test.before(async () => {
  await compileCli();
});

test('the compiled command prints the package version, found from its own location', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.deepEqual(await acrFleet(['--version'], ROOT), { code: 0, stdout: `${pkg.version}\n`, stderr: '' });
});

test('the compiled command validates a fleet in a plain node process', async (t) => {
  const s = await sandbox(t);
  const r = await acrFleet(['validate', '--config', 'fleet.yaml'], s.dir);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /fleet\.yaml/);
});

test("the compiled register applies the cluster's RBAC", async (t) => {
  const s = await sandbox(t);
  const kube = await s.startCluster();
  await s.adminKubeconfig(kube, { token: 'admin-token-compiled', contextName: NEW_CLUSTER });
  const env = s.operatorEnv(
    [
      'kms:CreateSecret',
      'kms:PutSecretValue',
      'kms:GetSecretValue',
      'cr:GetAuthorizationToken',
      'cr:ListInstanceEndpoint',
    ],
    'operator',
  );
  const r = await acrFleet(
    [
      'register',
      '--cluster',
      'new-1',
      '--kubeconfig',
      ADMIN_KUBECONFIG,
      '--registries',
      'hz-personal',
      '--allow-private-address',
    ],
    s.dir,
    env,
  );
  t.is(r.code, 0, r.stderr);
  t.truthy(kube.get('clusterroles', undefined, 'acr-fleet'), 'the ClusterRole exists');
});
