/**
 * `npm start`: a local sandbox fleet (three emulated clusters, an Enterprise Edition and a Personal
 * Edition registry) driven through the real CLI: the plan of a first run, the run, a second run (a
 * fleet in steady state costs three requests per cluster and writes nothing), then the plan after the
 * config changed.
 *
 * `npm start -- --keep` leaves the sandbox running afterwards and prints how to point the CLI at it (its
 * emulated credentials go to a 0600 file in the sandbox folder, never to the terminal), until Ctrl-C.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/entry/cli.js';
import { startSandbox } from '../test/support/sandbox.js';

const sandbox = await startSandbox();
const io = {
  stdout: (t: string) => process.stdout.write(t),
  stderr: (t: string) => process.stderr.write(t),
  env: { ...process.env, ...sandbox.env },
  cwd: sandbox.dir,
  isTTY: { stdout: process.stdout.isTTY, stderr: process.stderr.isTTY },
};
const run = async (args: string[], note = '') => {
  process.stdout.write(`\n$ acr-fleet ${args.join(' ')}${note ? `   # ${note}` : ''}\n`);
  return runCli(args, io);
};
try {
  process.stdout.write(`Sandbox fleet in ${sandbox.dir}\n`);
  let code = await run(['refresh', '--config', 'fleet.yaml', '--dry-run']);
  code ||= await run(['refresh', '--config', 'fleet.yaml']);
  code ||= await run(['refresh', '--config', 'fleet.yaml'], 'again: nothing to write');
  await sandbox.editConfig((doc) => {
    const clusters = doc.clusters as { name: string; watchNamespace?: unknown; registries?: string[] }[];
    for (const c of clusters) {
      if (c.name === 'bj-prod-1') c.watchNamespace = ['payments'];
      if (c.name === 'hz-dev-1') c.registries = ['hz-personal', 'acme-ee'];
    }
  });
  code ||= await run(
    ['refresh', '--config', 'fleet.yaml', '--dry-run'],
    'after: bj-prod-1 watches payments only, hz-dev-1 also uses acme-ee',
  );
  process.exitCode = code;
  if (process.argv.includes('--keep')) await keep();
} finally {
  await sandbox.close();
}

/** Writes the sandbox's environment to a file, says how to use it, and waits for Ctrl-C (or SIGTERM). */
async function keep(): Promise<void> {
  const envFile = path.join(sandbox.dir, 'sandbox.env');
  const lines = Object.entries(sandbox.env).map(([k, v]) => `export ${k}='${v}'`);
  await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  const bin = fileURLToPath(new URL('../bin/acr-fleet.js', import.meta.url));
  process.stdout.write(
    [
      '',
      `The sandbox keeps running (emulated clusters and cloud). In another terminal:`,
      `  cd ${sandbox.dir} && . ./sandbox.env`,
      `  node ${bin} refresh --config fleet.yaml --dry-run`,
      'Press Ctrl-C to stop it.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('Sandbox stopped.\n');
}
