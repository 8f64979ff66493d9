/** Process entry of the `acr-fleet` command: real stdio, real environment, real exit code. */
import { createInterface } from 'node:readline/promises';
import { describeError } from '../errors.js';
import { runCli } from './cli.js';

// A reader that stops early (`acr-fleet --help | head`) closes the pipe: that is not a failure of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    isTTY: { stdout: process.stdout.isTTY, stderr: process.stderr.isTTY },
    // Only a terminal is asked (register/deregister before deleting); a pipe or CI has no one to answer.
    ...(process.stdin.isTTY
      ? {
          confirm: async (question: string) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^y(es)?$/i.test((await rl.question(question)).trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  });
} catch (err) {
  process.stderr.write(`acr-fleet: ${describeError(err)}\n`);
  process.exitCode = 1;
}
