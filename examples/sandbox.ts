/**
 * `npm start`: one refresh of a local sandbox fleet (three emulated clusters, an Enterprise Edition
 * and a Personal Edition registry), through the real CLI, then a second run to show that a fleet in
 * steady state costs three requests per cluster and writes nothing.
 */
import { runCli } from '../src/entry/cli.js';
import { startSandbox } from '../test/support/sandbox.js';

const sandbox = await startSandbox();
const io = {
  stdout: (t: string) => process.stdout.write(t),
  stderr: (t: string) => process.stderr.write(t),
  env: { ...process.env, ...sandbox.env },
  cwd: sandbox.dir,
};
try {
  process.stdout.write(`Sandbox fleet in ${sandbox.dir}\n\n$ acr-fleet refresh --config fleet.yaml\n`);
  const first = await runCli(['refresh', '--config', 'fleet.yaml'], io);
  process.stdout.write(`\n$ acr-fleet refresh --config fleet.yaml   # again: nothing to write\n`);
  const second = await runCli(['refresh', '--config', 'fleet.yaml'], io);
  process.exitCode = first || second;
} finally {
  await sandbox.close();
}
