/**
 * `npm start`: a local sandbox fleet (three emulated clusters, an Enterprise Edition and a Personal
 * Edition registry) driven through the real CLI: the plan of a first run, the run, a second run (a
 * fleet in steady state costs three requests per cluster and writes nothing), then the plan after the
 * config changed.
 */
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
} finally {
  await sandbox.close();
}
