/**
 * Issue 17: the CLI installs outside the clone. `npm pack` ships what package.json's `files` names (the compiled
 * lib/, never the tests, a user's fleet.yaml or dist/), and `npm i -g` of that tarball gives a working command.
 *
 * The package is staged in a temporary folder (package.json and the files it names, lib/ compiled there) so that
 * this test never races bin.test.ts, which recompiles the repository's own lib/.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { compileCli } from '../scripts/compile-cli.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

test('npm pack ships lib/ and no tests, fleet.yaml or dist/, and npm i -g of it gives a working acr-fleet', async (t) => {
  const work = await mkdtemp(path.join(tmpdir(), 'acr-fleet-pack-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    files: string[];
  };
  const stage = path.join(work, 'stage');
  await cp(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
  // Everything at the top of the repository, so that `files` (not this test) decides what is shipped.
  for (const entry of ['bin', 'schema', 'infra', 'examples', 's.yaml', 'README.md', 'test', 'src']) {
    await cp(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
  }
  await cp(path.join(ROOT, 'examples/fleet.yaml'), path.join(stage, 'fleet.yaml'));
  await compileCli(path.join(stage, 'lib'));

  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: stage,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  if (!packed) return t.fail('npm pack reported nothing');
  const files = packed.files.map((f) => f.path);
  t.true(files.includes('lib/entry/main.js'), 'the compiled CLI is shipped');
  t.true(files.includes('bin/acr-fleet.js'));
  t.deepEqual(
    files.filter((f) => /^(test|src|dist)\//.test(f) || f === 'fleet.yaml' || f === 'tsconfig.json'),
    [],
    'no tests, sources, bundle or user config',
  );

  const prefix = path.join(work, 'prefix');
  await run(
    'npm',
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      path.join(work, packed.filename),
    ],
    { cwd: work },
  );
  const version = await run(path.join(prefix, 'bin', 'acr-fleet'), ['--version'], {
    cwd: work,
    env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  });
  t.is(version.stdout, `${pkg.version}\n`);
});
