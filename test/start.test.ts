/**
 * Issue 17: `npm start -- --keep` keeps the sandbox running and says how to point the CLI at it; what it prints
 * works as written (the environment file, the folder, a refresh against the kept emulators), and Ctrl-C stops it.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('npm start -- --keep leaves a sandbox the printed commands can refresh, until Ctrl-C', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', 'examples/sandbox.ts', '--keep'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${out}`)));
  });
  const dir = /^ {2}cd (\S+) && \. \.\/sandbox\.env$/m.exec(out)?.[1];
  if (!dir) return t.fail(out);
  const envFile = path.join(dir, 'sandbox.env');
  t.is((await stat(envFile)).mode & 0o777, 0o600, 'the emulated credentials are for the user only');
  const env = Object.fromEntries(
    [...(await readFile(envFile, 'utf8')).matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
  );
  t.false(out.includes(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET ?? '<none>'), 'no secret on the terminal');

  const refresh = await promisify(execFile)(
    process.execPath,
    [
      `--import=${import.meta.resolve('tsx')}`,
      path.join(ROOT, 'src/entry/main.ts'),
      'refresh',
      '--config',
      'fleet.yaml',
      '--dry-run',
      '--json',
    ],
    { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } },
  );
  const report = JSON.parse(refresh.stdout) as { summary: { clusters: number; ok: number } };
  t.like(report.summary, { clusters: 3, ok: 3 });

  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.regex(out, /Sandbox stopped\.\n$/);
});
