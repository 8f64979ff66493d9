/**
 * `register` and `deregister` as commands: progress lines on stderr (or, with `--json`, collected into the one
 * document on stdout), the `--dry-run` plan, the terminal's confirmation before deleting, and exit codes:
 * 0 done (or planned), 1 a step failed or the user declined, 2 invalid config or a refusal (nothing touched).
 *
 * Without a terminal nothing is asked, for register and deregister alike: scripts and CI run them, and what
 * guards deregister is not a prompt but the identity check (register/guard.ts); `--yes` skips the question.
 */
import type { PluginResolver } from '../kube/connect.js';
import type { Redactor } from '../log/logger.js';
import type { FlowPlanEntry } from '../register/guard.js';
import type { RegisterOptions } from '../register/flows.js';

/** The part of the CLI's I/O these commands use (cli.ts's CliIo; declared here so the import runs one way). */
export interface MembershipIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  isTTY?: { stdout?: boolean; stderr?: boolean };
  confirm?: (question: string) => Promise<boolean>;
}

export interface MembershipContext {
  io: MembershipIo;
  json: boolean;
  configArg: string;
  configPath: string;
  redactor: Redactor;
  resolvePlugin: PluginResolver;
}

const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** One plan line: `  delete   clusterrole acr-fleet  (reason)`. */
export function formatFlowPlan(plan: readonly FlowPlanEntry[]): string {
  return plan.map((e) => `  ${e.action.padEnd(9)} ${e.what}${e.reason ? `  (${e.reason})` : ''}\n`).join('');
}

export async function membershipCommand(
  m: MembershipContext,
  command: 'register' | 'deregister',
  flags: { dryRun: boolean; yes: boolean },
  opts: RegisterOptions,
): Promise<number> {
  const [flows, { credentialFromEnv }, { ConfigError, describeError }, { RefusedError }] = await Promise.all([
    import('../register/flows.js'),
    import('../cloud/credentials.js'),
    import('../errors.js'),
    import('../register/guard.js'),
  ]);
  const { io, json, redactor } = m;
  const steps: string[] = [];
  const progress = (line: string) => {
    const safe = redactor.redact(line);
    if (json) steps.push(safe);
    else io.stderr(`${safe}\n`);
  };
  const confirm =
    !flags.yes && !flags.dryRun && io.confirm && io.isTTY?.stderr
      ? async (changes: FlowPlanEntry[]) => {
          io.stderr(`acr-fleet ${command} will change cluster ${opts.cluster}:\n${formatFlowPlan(changes)}`);
          return (await io.confirm?.(`Proceed with ${command} of cluster ${opts.cluster}? [y/N] `)) ?? false;
        }
      : undefined;
  const flow = {
    configDisplay: m.configArg,
    configPath: m.configPath,
    env: io.env,
    credential: credentialFromEnv(io.env),
    resolvePlugin: m.resolvePlugin,
    onSecret: (v: string) => m.redactor.add(v),
    progress,
    dryRun: flags.dryRun,
    ...(confirm ? { confirm } : {}),
  };
  const base = { command, cluster: opts.cluster, dryRun: flags.dryRun };
  let outcome;
  try {
    outcome = command === 'register' ? await flows.register(flow, opts) : await flows.deregister(flow, opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      if (json) {
        const problems = err.problems.map((p) => ({ file: err.file, ...p, severity: 'error' }));
        io.stdout(`${JSON.stringify({ valid: false, problems })}\n`);
      } else io.stderr(`${err.message}\n`);
      return EXIT.invalid;
    }
    const message = `acr-fleet ${command}: ${redactor.redact(describeError(err))}`;
    // A declined confirmation (AbortedError) exits 1: nothing was written, but nothing was done either.
    const code = err instanceof RefusedError ? EXIT.invalid : EXIT.failed;
    if (json) io.stdout(`${JSON.stringify({ ...base, ok: false, error: message, exitCode: code, steps })}\n`);
    else io.stderr(`${message}\n`);
    return code;
  }
  if (flags.dryRun) {
    const plan = outcome.plan ?? [];
    if (json) io.stdout(`${JSON.stringify({ ...base, ok: true, plan, steps })}\n`);
    else
      io.stdout(
        `${command} ${opts.cluster}, dry run (nothing written):\n${plan.length ? formatFlowPlan(plan) : '  nothing to do\n'}`,
      );
    return EXIT.ok;
  }
  if (json) io.stdout(`${JSON.stringify({ ...base, ok: true, steps })}\n`);
  else io.stdout(`${command === 'register' ? 'registered' : 'deregistered'} cluster ${opts.cluster}\n`);
  return EXIT.ok;
}
