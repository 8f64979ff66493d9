/** Drives the CLI in-process as a shell would: argv in; exit code, stdout and stderr out. */
import { runCli } from '../../src/entry/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every byte any CLI run printed in this test process, for the "no secret is ever printed" checks. */
export const printed: string[] = [];

/** `tty` says which streams the CLI should believe are terminals (default: neither, as in a pipe). */
export async function cli(
  args: string[],
  opts: {
    cwd: string;
    env?: Record<string, string>;
    tty?: { stdout?: boolean; stderr?: boolean };
    /** What a person at the terminal answers when asked (register/deregister before deleting). */
    answer?: string;
    /** The questions asked, for the test to read. */
    asked?: string[];
  },
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { ...opts.env },
    cwd: opts.cwd,
    ...(opts.tty ? { isTTY: opts.tty } : {}),
    ...(opts.answer !== undefined
      ? {
          confirm: (question: string) => {
            opts.asked?.push(question);
            return Promise.resolve(/^y(es)?$/i.test(opts.answer ?? ''));
          },
        }
      : {}),
  });
  printed.push(stdout, stderr);
  return { code, stdout, stderr };
}
