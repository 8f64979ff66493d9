/**
 * The `acr-fleet` command line, on commander. `runCli` takes its I/O as arguments so tests drive it
 * exactly as a shell would (argv in; stdout, stderr and exit code out), terminal or not.
 *
 * Exit codes: 0 every cluster ok; 1 at least one cluster failed; 2 invalid config or usage.
 *
 * Only commander and this folder's formatting load up front: each command imports what it needs
 * (config, SDKs, the Kubernetes client) when it runs, so `acr-fleet --help` starts fast.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { Fleet } from '../config/resolve.js';
import type { Level, Redactor } from '../log/logger.js';
import type { PolicyOptions } from '../policy/print.js';
import type { RegisterOptions } from '../register/flows.js';
import { formatReport, Progress, styleFor, terminalSafe } from './output.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** stderr as given, for the live progress line's own control sequences (runCli filters `stderr`). */
  rawStderr?: (text: string) => void;
  /** Which streams are terminals: live progress and colour happen only there. Absent: neither. */
  isTTY?: { stdout?: boolean; stderr?: boolean };
  /** Asks a yes/no question on the terminal (absent without one): register/deregister confirm deletes. */
  confirm?: (question: string) => Promise<boolean>;
}

export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** Options every command that reads fleet.yaml takes. */
interface CommonOptions {
  config?: string;
  json?: boolean;
  logLevel?: Level;
}

/** A usage error raised by commander, with the command it belongs to (for the `--help` hint). */
class UsageError extends Error {
  constructor(
    readonly commander: CommanderError,
    readonly commandPath: string,
  ) {
    super(commander.message);
  }
}

/** Runs one CLI invocation and returns its exit code. */
export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  // Whatever reaches the terminal, remote text inside acr-fleet's own messages included, can move no cursor,
  // set no title and write no clipboard (OSC 52): only newlines, tabs and colour pass.
  const io: CliIo = {
    ...given,
    stdout: (t) => given.stdout(terminalSafe(t)),
    stderr: (t) => given.stderr(terminalSafe(t)),
    // The live progress line draws itself with \r and an erase; it makes its own text safe (output.ts).
    rawStderr: given.rawStderr ?? given.stderr,
  };
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  // commander answers `help <unknown>` with the whole usage; an unknown command is one line, as everywhere else.
  const [first, topic] = argv;
  if (first === 'help' && topic !== undefined && !program.commands.some((c) => c.name() === topic)) {
    io.stderr(`acr-fleet: unknown command ${topic} (see acr-fleet --help)\n`);
    return EXIT.invalid;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const { commander } = err;
    // --help and --version print and succeed; help shown because no command was given is a usage error.
    if (commander.code === 'commander.helpDisplayed' || commander.code === 'commander.version') return EXIT.ok;
    if (commander.code === 'commander.help') return commander.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    io.stderr(`acr-fleet: ${usageMessage(commander.message)} (see ${err.commandPath} --help)\n`);
    return EXIT.invalid;
  }
  return code;
}

/** commander's `error: unknown option '--bogus'\n(Did you mean --json?)` as one line. */
function usageMessage(message: string): string {
  return message
    .replace(/^error: /, '')
    .replace(/'([^']*)'/g, '$1')
    .replace(/\n\(Did you mean (.*)\?\)$/, '; did you mean $1?')
    .replace(/\.$/, '');
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command('acr-fleet')
    .description('Keep every cluster of a fleet able to pull private images from Alibaba Cloud Container Registry.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 a cluster failed, 2 invalid config or usage.\nRun acr-fleet COMMAND --help for the options of one command.',
    );
  configure(program, io, 'acr-fleet');

  const command = (name: string, description: string) => {
    const cmd = program.command(name).description(description).helpOption('-h, --help', 'show help');
    configure(cmd, io, `acr-fleet ${name}`);
    return cmd;
  };
  const run = (fn: () => Promise<number>) => async () => setCode(await fn());

  const validate = withCommon(
    command('validate', 'Check fleet.yaml (or, with --configmap, an add-on ConfigMap) and report every problem'),
  )
    .option('--configmap <file>', 'an acr-configuration ConfigMap manifest to check for migration')
    .option('--cluster <name>', "with --configmap: check it against what fleet.yaml allows this cluster's ConfigMap");
  validate.action(
    run(() => {
      const o = validate.opts<CommonOptions & { configmap?: string; cluster?: string }>();
      if (o.cluster !== undefined && !o.configmap) {
        io.stderr('acr-fleet: --cluster needs --configmap (see acr-fleet validate --help)\n');
        return Promise.resolve(EXIT.invalid);
      }
      return o.configmap ? validateConfigMap(context(io, o), o.configmap, o.cluster) : validateFleet(context(io, o));
    }),
  );

  const refresh = withCommon(command('refresh', 'Refresh ACR pull Secrets in every registered cluster'))
    .option('--dry-run', 'read everything, write nothing, print the plan: each change and why')
    .addOption(
      new Option('--cluster <glob>', 'only clusters whose name matches (repeatable; globs such as hz-*)').argParser(
        collect,
      ),
    );
  refresh.action(
    run(() => {
      const o = refresh.opts<CommonOptions & { dryRun?: boolean; cluster?: string[] }>();
      return refreshFleetCommand(context(io, o), o.dryRun ?? false, o.cluster ?? []);
    }),
  );

  const policy = withConfig(
    command(
      'policy',
      "Print the least-privilege RAM policy the function's role needs for fleet.yaml, and what each cluster's Kubernetes RBAC allows",
    ),
  )
    .option('--account-id <id>', 'the account that owns the resources (default: *)')
    .option('--kubernetes', "print the clusters' RBAC manifests instead (YAML, each rule with its reason)")
    .option('--webhook', "print the webhook function's own, smaller RAM policy instead (ACR_FLEET_WEBHOOK_ROLE_ARN)")
    .option('--operator', 'print the RAM policy of the operator who registers ACK clusters instead')
    .option('--function-role-arn <arn>', "with --operator: the function's role (default: $ACR_FLEET_FUNCTION_ROLE_ARN)")
    .addOption(new Option('--cluster <name>', "only this cluster's RBAC (repeatable)").argParser(collect));
  policy.action(
    run(() => {
      const o = policy.opts<
        CommonOptions & {
          accountId?: string;
          kubernetes?: boolean;
          webhook?: boolean;
          cluster?: string[];
          operator?: boolean;
          functionRoleArn?: string;
        }
      >();
      const functionName = io.env.ACR_FLEET_FUNCTION_NAME;
      const functionRoleArn = o.functionRoleArn ?? io.env.ACR_FLEET_FUNCTION_ROLE_ARN;
      return policyCommand(context(io, o), {
        ...(o.accountId ? { accountId: o.accountId } : {}),
        kubernetes: o.kubernetes ?? false,
        ...(o.webhook ? { webhook: true } : {}),
        ...(o.operator ? { operator: true } : {}),
        ...(functionRoleArn ? { functionRoleArn } : {}),
        ...(o.cluster ? { clusters: o.cluster } : {}),
        ...(functionName ? { functionName } : {}),
      });
    }),
  );

  const membershipOptions = (cmd: Command) =>
    withCommon(cmd)
      .option('--cluster <name>', 'the cluster')
      .option('--kubeconfig <file>', 'an admin kubeconfig (used once, never stored or printed)')
      .option('--kms-secret <name>', 'KMS secret for its kubeconfig (default: acr-fleet/NAME)')
      .option(
        '--ack-cluster-id <id>',
        'an ACK cluster, reached with your own RAM identity: no kubeconfig, nothing in KMS',
      )
      .option(
        '--function-role-arn <arn>',
        "with ACK clusters: the function's RAM role (default: $ACR_FLEET_FUNCTION_ROLE_ARN)",
      )
      .option('--dry-run', 'read everything, write nothing, print the plan: what would be created, changed, deleted')
      .option('-y, --yes', 'do not ask before deleting (a terminal is asked otherwise)');
  type MembershipOptions = CommonOptions & {
    cluster: string;
    kubeconfig: string;
    kmsSecret?: string;
    ackClusterId?: string;
    functionRoleArn?: string;
    region?: string;
    discovered?: boolean;
    dryRun?: boolean;
    yes?: boolean;
  };
  /** --cluster and --kubeconfig are required unless the cluster is an ACK one (same text as commander's). */
  const missingOption = (o: MembershipOptions, name: string) => {
    if (o.ackClusterId || o.discovered) return undefined;
    const missing = !o.cluster ? '--cluster <name>' : !o.kubeconfig ? '--kubeconfig <file>' : undefined;
    return missing && `acr-fleet: required option ${missing} not specified (see acr-fleet ${name} --help)\n`;
  };
  /**
   * The ACK flows (src/register/ack.ts) have no plan, JSON document or question yet: refuse those flags rather
   * than write while the operator asked for a preview (and never delete from a terminal without --yes).
   */
  const ackUnsupported = (o: MembershipOptions, name: string) => {
    const flag = o.dryRun ? '--dry-run' : o.json ? '--json' : undefined;
    if (flag)
      return `acr-fleet ${name}: ${flag} is not supported with --ack-cluster-id or --discovered yet; nothing done\n`;
    if (name === 'deregister' && io.isTTY?.stdout && !o.yes)
      return `acr-fleet deregister: ACK clusters are removed without a question only with --yes; nothing done\n`;
    return undefined;
  };
  const membershipOf = (o: MembershipOptions) => ({
    cluster: o.cluster,
    adminKubeconfig: path.resolve(io.cwd, o.kubeconfig),
    adminKubeconfigDisplay: o.kubeconfig,
    ...(o.kmsSecret ? { kmsSecret: o.kmsSecret } : {}),
  });

  const register = membershipOptions(
    command(
      'register',
      "Install acr-fleet's least-privilege identity in a cluster (with an admin kubeconfig, once), store its kubeconfig in KMS and add the cluster to fleet.yaml",
    ),
  )
    .option('--with-configmap', 'also let it read kube-system/acr-configuration (settings: configmap)')
    .option('--webhook', 'also install the admission webhook (new ServiceAccounts get the Secret at once)')
    .option(
      '--registries <names>',
      'fleet.yaml registries it gets (with --with-configmap: its ConfigMap may pick among); required for a new cluster',
    )
    .option('--allow-private-address', 'its API server is at a loopback address (kubeconfig: { allowPrivateAddress })')
    .option(
      '--allow-no-admission-policy',
      'register on a server without the ValidatingAdmissionPolicy API (before Kubernetes 1.28): RBAC alone then fences the identity',
    )
    .option('--region <region>', 'with --ack-cluster-id: its region (default: regionId)')
    .option('--discovered', 'every cluster discovery: finds that is not registered yet (ACK, no kubeconfig)');
  register.action(
    run(() => {
      const o = register.opts<
        MembershipOptions & {
          withConfigmap?: boolean;
          webhook?: boolean;
          registries?: string;
          allowPrivateAddress?: boolean;
          allowNoAdmissionPolicy?: boolean;
        }
      >();
      const usage = missingOption(o, 'register');
      if (usage) return Promise.resolve((io.stderr(usage), EXIT.invalid));
      if (o.ackClusterId || o.discovered) {
        const unsupported = ackUnsupported(o, 'register');
        if (unsupported) return Promise.resolve((io.stderr(unsupported), EXIT.invalid));
        return ackMembership(context(io, o), 'register', { ...o, webhook: o.webhook ?? false });
      }
      return membership(context(io, o), 'register', o, {
        ...membershipOf(o),
        configmap: o.withConfigmap ?? false,
        webhook: o.webhook ?? false,
        ...(o.allowNoAdmissionPolicy ? { allowNoAdmissionPolicy: true } : {}),
        ...(o.registries !== undefined ? { registries: splitNames(o.registries) } : {}),
        ...(o.allowPrivateAddress ? { allowPrivateAddress: true } : {}),
      });
    }),
  );

  const deregister = membershipOptions(
    command(
      'deregister',
      "Remove acr-fleet's Secrets, imagePullSecrets entries, identity and KMS secret from a cluster, and the cluster from fleet.yaml",
    ),
  );
  deregister.action(
    run(() => {
      const o = deregister.opts<MembershipOptions>();
      const usage = missingOption(o, 'deregister');
      if (usage) return Promise.resolve((io.stderr(usage), EXIT.invalid));
      if (o.ackClusterId) {
        const unsupported = ackUnsupported(o, 'deregister');
        if (unsupported) return Promise.resolve((io.stderr(unsupported), EXIT.invalid));
        return ackMembership(context(io, o), 'deregister', o);
      }
      return membership(context(io, o), 'deregister', o, membershipOf(o));
    }),
  );

  return program;
}

/** Output to the CLI's io; errors thrown (not exited) as UsageError naming the command. */
function configure(cmd: Command, io: CliIo, commandPath: string): void {
  cmd
    // Help wraps at 80 columns wherever it is printed, so what tests and the README show is what people see.
    .configureOutput({
      writeOut: (t) => io.stdout(t),
      writeErr: (t) => io.stderr(t),
      outputError: () => undefined,
      getOutHelpWidth: () => 80,
      getErrHelpWidth: () => 80,
    })
    .exitOverride((err) => {
      throw new UsageError(err, commandPath);
    })
    .showSuggestionAfterError(true);
}

function withConfig(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'fleet file (default: $ACR_FLEET_CONFIG or ./fleet.yaml)')
    .addOption(
      new Option('--log-level <level>', 'log detail on stderr')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    );
}

function withCommon(cmd: Command): Command {
  return withConfig(cmd).option('--json', 'print one JSON object on stdout; logs become JSON lines on stderr');
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** `a, b,a` → `[a, b]`. */
const splitNames = (value: string) => [...new Set(value.split(',').map((s) => s.trim()))].filter(Boolean);

/** The version in package.json, found upwards from this file (sources and compiled output alike). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'acr-fleet' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

interface Ctx {
  io: CliIo;
  json: boolean;
  configArg: string;
  configPath: string;
  level: Level;
}

function context(io: CliIo, o: CommonOptions): Ctx {
  const configArg = o.config ?? io.env.ACR_FLEET_CONFIG ?? 'fleet.yaml';
  return {
    io,
    json: o.json ?? false,
    configArg,
    configPath: path.resolve(io.cwd, configArg),
    level: o.logLevel ?? 'info',
  };
}

async function load(ctx: Ctx): Promise<Fleet | undefined> {
  const [{ loadFleet }, { ConfigError }] = await Promise.all([import('../config/load.js'), import('../errors.js')]);
  try {
    return await loadFleet({ file: ctx.configArg, path: ctx.configPath, env: ctx.io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // --json: validate's one shape on stdout and nothing else (issue 17); text: the problems on stderr.
    if (ctx.json) {
      const problems = err.problems.map((p) => ({
        file: err.file,
        path: p.path,
        message: p.message,
        severity: 'error',
      }));
      ctx.io.stdout(`${JSON.stringify({ valid: false, problems })}\n`);
    } else ctx.io.stderr(`${err.message}\n`);
    return undefined;
  }
}

/**
 * `validate`: one pass, every problem at once (errors and warnings), each `file: key.path: message`. With
 * `--json`, exactly one document `{"valid","problems":[{file,path,message,severity}]}` on stdout, whatever
 * went wrong (a missing file, a YAML syntax error), and nothing else.
 */
async function validateFleet(ctx: Ctx): Promise<number> {
  const [{ checkFleet }, { formatProblem }] = await Promise.all([import('../config/load.js'), import('../errors.js')]);
  const file = ctx.configArg;
  let result: Awaited<ReturnType<typeof checkFleet>>;
  try {
    const text = await readText(ctx.configPath, file);
    result = checkFleet(text, { file, path: ctx.configPath, env: ctx.io.env, checkFiles: true });
  } catch (err) {
    const { ConfigError } = await import('../errors.js');
    if (!(err instanceof ConfigError)) throw err;
    result = { problems: err.problems.map((p) => ({ ...p, severity: 'error' as const })) };
  }
  const { problems, fleet } = result;
  // What discovery finds now, listed with the caller's credentials; a failed listing exits 1.
  const sources = fleet?.discovery?.length ? (await discovered(ctx, fleet)).sources : [];
  if (ctx.json) {
    const listed = problems.map((p) => ({ file, path: p.path, message: p.message, severity: p.severity }));
    const discovery = sources.length ? { discovery: sources } : {};
    ctx.io.stdout(`${JSON.stringify({ valid: fleet !== undefined, problems: listed, ...discovery })}\n`);
  } else {
    for (const p of problems)
      ctx.io.stderr(
        `${formatProblem(file, p.severity === 'warning' ? { path: p.path, message: `warning: ${p.message}` } : p)}\n`,
      );
    if (fleet)
      ctx.io.stdout(`${file}: valid (${fleet.registries.length} registries, ${fleet.clusters.length} clusters)\n`);
  }
  if (!fleet) return EXIT.invalid;
  if (!sources.length) return EXIT.ok;
  const { describeSource, discoveryFailed } = await import('./discovery.js');
  if (!ctx.json)
    for (const s of sources) {
      ctx.io.stdout(`${file}: ${s.label}: ${describeSource(s)}\n`);
      for (const e of s.errors ?? []) ctx.io.stderr(`${file}: ${e}\n`);
    }
  return discoveryFailed(sources) ? EXIT.failed : EXIT.ok;
}

/** The fleet with what `discovery:` finds, listed with the caller's own credentials (none listed without it). */
async function discovered(ctx: Ctx, fleet: Fleet) {
  const [{ discoverFleet }, { credentialFromEnv }] = await Promise.all([
    import('./discovery.js'),
    import('../cloud/credentials.js'),
  ]);
  return discoverFleet(fleet, credentialFromEnv(ctx.io.env));
}

/** A redactor that already knows the caller's own AccessKey secret and STS token. */
async function envRedactor(env: CliIo['env']): Promise<Redactor> {
  const { Redactor } = await import('../log/logger.js');
  const redactor = new Redactor();
  redactor.add(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  redactor.add(env.ALIBABA_CLOUD_SECURITY_TOKEN);
  // DEBUG=httpx:* prints the SDKs' requests: through this redactor too.
  (await import('./debug-output.js')).routeDebugOutput(redactor);
  return redactor;
}

/** Credential plugins of local kubeconfigs (`exec`): client-node runs them, loaded only when one is met. */
const localPlugins = async (text: string, source: string, baseDir?: string, onSecret?: (value: string) => void) =>
  (await import('../kube/client-node-config.js')).pluginEndpoint(text, source, baseDir, onSecret);

/** `--log-level debug`: one line per request, with its retry reason; never a header value or a body. */
function debugRequest(log: import('../log/logger.js').Logger) {
  return (e: import('../log/requests.js').RequestEvent) =>
    log.debug(
      e.retry
        ? `${e.api}: ${e.method} ${e.path}: retry (${e.retry})`
        : `${e.api}: ${e.method} ${e.path} ${e.status || 'no answer'} (${e.durationMs} ms)`,
      { event: e.retry ? 'retry' : 'request', ...e },
    );
}

/**
 * Resolves the caller's credential before anything runs: an empty chain is one line naming the variables and
 * the chain's order, exit 2, no request sent and nothing retried (issue 17).
 */
async function credentialReady(
  ctx: Ctx,
  credential: import('../cloud/credentials.js').CredentialClient,
): Promise<boolean> {
  const { requireCredential, NoCredentialsError } = await import('../cloud/credentials.js');
  try {
    await requireCredential(credential);
    return true;
  } catch (err) {
    if (!(err instanceof NoCredentialsError)) throw err;
    if (ctx.json)
      ctx.io.stdout(`${JSON.stringify({ ok: false, error: `acr-fleet: ${err.message}`, exitCode: EXIT.invalid })}\n`);
    else ctx.io.stderr(`acr-fleet: ${err.message}\n`);
    return false;
  }
}

async function membership(
  ctx: Ctx,
  command: 'register' | 'deregister',
  o: { dryRun?: boolean; yes?: boolean },
  opts: RegisterOptions,
): Promise<number> {
  const [{ membershipCommand }, { credentialFromEnv }] = await Promise.all([
    import('./membership.js'),
    import('../cloud/credentials.js'),
  ]);
  if (!(await credentialReady(ctx, credentialFromEnv(ctx.io.env)))) return EXIT.invalid;
  return membershipCommand(
    { ...ctx, redactor: await envRedactor(ctx.io.env), resolvePlugin: localPlugins },
    command,
    { dryRun: o.dryRun ?? false, yes: o.yes ?? false },
    opts,
  );
}

/** register/deregister of ACK clusters with the operator's own RAM identity (src/register/ack.ts). */
async function ackMembership(
  ctx: Ctx,
  command: 'register' | 'deregister',
  o: {
    cluster?: string;
    ackClusterId?: string;
    region?: string;
    discovered?: boolean;
    functionRoleArn?: string;
    webhook?: boolean;
    allowNoAdmissionPolicy?: boolean;
  },
): Promise<number> {
  const [ack, { credentialFromEnv }, { ConfigError, describeError }] = await Promise.all([
    import('../register/ack.js'),
    import('../cloud/credentials.js'),
    import('../errors.js'),
  ]);
  const redactor = await envRedactor(ctx.io.env);
  const flow = {
    configDisplay: ctx.configArg,
    configPath: ctx.configPath,
    env: ctx.io.env,
    credential: credentialFromEnv(ctx.io.env),
    onSecret: (v: string) => redactor.add(v),
    progress: (line: string) => ctx.io.stderr(`${redactor.redact(line)}\n`),
  };
  const common = {
    ...(o.ackClusterId ? { clusterId: o.ackClusterId } : {}),
    ...(o.functionRoleArn ? { functionRoleArn: o.functionRoleArn } : {}),
  };
  try {
    if (command === 'deregister') {
      const name = await ack.deregisterAck(flow, common);
      ctx.io.stdout(`deregistered cluster ${name}\n`);
      return EXIT.ok;
    }
    const result = await ack.registerAck(flow, {
      ...common,
      ...(o.region ? { region: o.region } : {}),
      ...(o.cluster ? { name: o.cluster } : {}),
      ...(o.discovered ? { discovered: true } : {}),
      ...(o.allowNoAdmissionPolicy ? { allowNoAdmissionPolicy: true } : {}),
      webhook: o.webhook ?? false,
    });
    for (const name of result.registered) ctx.io.stdout(`registered cluster ${name}\n`);
    if (!result.registered.length) ctx.io.stdout('nothing to register\n');
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.io.stderr(`${err.message}\n`);
      return EXIT.invalid;
    }
    ctx.io.stderr(`acr-fleet ${command}: ${redactor.redact(describeError(err))}\n`);
    return EXIT.failed;
  }
}

async function policyCommand(ctx: Ctx, opts: PolicyOptions): Promise<number> {
  const loaded = await load(ctx);
  if (!loaded) return EXIT.invalid;
  const { fleet, sources } = await discovered(ctx, loaded);
  const { policyOutput } = await import('../policy/print.js');
  const { describeSource, discoveryFailed } = await import('./discovery.js');
  for (const s of sources) {
    ctx.io.stderr(`discovery: ${s.label}: ${describeSource(s)}\n`);
    for (const e of s.errors ?? []) ctx.io.stderr(`acr-fleet policy: ${e}\n`);
  }
  // A failed listing would leave its clusters out of the policy: no document rather than a short one.
  if (discoveryFailed(sources)) return EXIT.failed;
  const out = policyOutput(fleet, opts);
  if ('error' in out) {
    ctx.io.stderr(`acr-fleet policy: ${out.error}\n`);
    // A fleet RAM cannot hold in one document fails like a run; bad options are usage errors.
    return out.code ?? EXIT.invalid;
  }
  ctx.io.stdout(out.stdout);
  ctx.io.stderr(out.stderr);
  return EXIT.ok;
}

/**
 * Checks an add-on ConfigMap manifest the way a `settings: configmap` cluster would read it; with
 * `--cluster NAME`, also against what fleet.yaml allows that cluster (every refused entry named, exit 2).
 */
async function validateConfigMap(ctx: Ctx, file: string, clusterName: string | undefined): Promise<number> {
  const [{ configMapContext, parseAcrConfiguration, readAcrConfiguration }, { parseYaml }, { DEFAULTS }, errors] =
    await Promise.all([
      import('../config/configmap.js'),
      import('../config/load.js'),
      import('../config/resolve.js'),
      import('../errors.js'),
    ]);
  const { ConfigError } = errors;
  const fail = (err: InstanceType<typeof ConfigError>) => {
    if (ctx.json) {
      const problems = err.problems.map((p) => ({ file: err.file, ...p, severity: 'error' }));
      ctx.io.stdout(`${JSON.stringify({ valid: false, problems })}\n`);
    } else ctx.io.stderr(`${err.message}\n`);
    return EXIT.invalid;
  };
  try {
    const manifest = parseYaml(await readText(path.resolve(ctx.io.cwd, file), file), file) as {
      kind?: unknown;
      data?: unknown;
    } | null;
    if (
      !manifest ||
      manifest.kind !== 'ConfigMap' ||
      (manifest.data !== undefined && (typeof manifest.data !== 'object' || manifest.data === null))
    ) {
      throw new ConfigError(file, [
        {
          path: '',
          message: 'expected a ConfigMap manifest (kubectl -n kube-system get configmap acr-configuration -o yaml)',
        },
      ]);
    }
    const data = Object.fromEntries(
      Object.entries((manifest.data ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    if (clusterName !== undefined) {
      const { loadFleet } = await import('../config/load.js');
      const fleet = await loadFleet({ file: ctx.configArg, path: ctx.configPath, env: ctx.io.env });
      const cluster = fleet.clusters.find((c) => c.name === clusterName);
      if (!cluster) throw new ConfigError(ctx.configArg, [{ path: '', message: `no cluster named ${clusterName}` }]);
      const { settings, registries, refused, warnings } = parseAcrConfiguration(
        data,
        file,
        configMapContext(cluster, fleet),
      );
      const problems = [
        ...refused.map((message) => ({ path: `cluster ${clusterName}`, message, severity: 'error' })),
        ...warnings.map((message) => ({ path: `cluster ${clusterName}`, message, severity: 'warning' })),
      ];
      if (ctx.json)
        ctx.io.stdout(
          `${JSON.stringify({ valid: !refused.length, problems: problems.map((p) => ({ file, ...p })), registries: registries.map((r) => r.name), ...settings })}\n`,
        );
      else {
        for (const p of problems)
          ctx.io.stderr(`${file}: ${p.path}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}\n`);
        if (!refused.length)
          ctx.io.stdout(
            `${file}: valid for cluster ${clusterName} (${registries.length} registries: ${registries.map((r) => r.name).join(', ')})\n`,
          );
      }
      return refused.length ? EXIT.invalid : EXIT.ok;
    }
    const region = ctx.io.env.ALIBABA_CLOUD_REGION_ID ?? ctx.io.env.FC_REGION ?? '<cluster region>';
    const { settings, requested } = readAcrConfiguration(data, file, {
      clusterName: 'cluster',
      regionId: region,
      excludeNamespaces: [...DEFAULTS.excludeNamespaces],
      ...(ctx.io.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE ? { oidcTokenFile: ctx.io.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE } : {}),
    });
    const summary = {
      valid: true,
      problems: [],
      registries: requested.map((r) => ({
        edition: r.instanceId ? 'enterprise' : 'personal',
        instanceId: r.instanceId,
        regionId: r.regionId,
        domains: r.domains ?? 'all',
      })),
      ...settings,
    };
    if (ctx.json) ctx.io.stdout(`${JSON.stringify(summary)}\n`);
    else
      ctx.io.stdout(
        `${file}: valid (${requested.length} registries: ${requested.map((r) => `${r.instanceId || 'personal'}@${r.regionId}`).join(', ')})\n`,
      );
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(err);
  }
}

async function readText(absolute: string, display: string): Promise<string> {
  const [{ readFile }, { ConfigError }] = await Promise.all([import('node:fs/promises'), import('../errors.js')]);
  try {
    return await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(display, [
      { path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})` },
    ]);
  }
}

/** Cluster names matched by the `--cluster` globs; a glob that matches nothing is a usage error naming it. */
async function selectClusters(
  fleet: Fleet,
  globs: readonly string[],
): Promise<{ only?: string[]; unmatched: string[] }> {
  if (!globs.length) return { unmatched: [] };
  const { default: picomatch } = await import('picomatch');
  const names = fleet.clusters.map((c) => c.name);
  const matchers = globs.map((g) => ({ glob: g, match: picomatch(g) }));
  return {
    only: names.filter((n) => matchers.some((m) => m.match(n))),
    unmatched: matchers.filter((m) => !names.some((n) => m.match(n))).map((m) => m.glob),
  };
}

async function refreshFleetCommand(ctx: Ctx, dryRun: boolean, globs: readonly string[]): Promise<number> {
  const loaded = await load(ctx);
  if (!loaded) return EXIT.invalid;
  const { fleet, sources } = await discovered(ctx, loaded);
  const { only, unmatched } = await selectClusters(fleet, globs);
  if (unmatched.length) {
    const error = `acr-fleet: --cluster ${unmatched.join(', ')}: matches no cluster in ${ctx.configArg}`;
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ ok: false, error, exitCode: EXIT.invalid })}\n`);
    else ctx.io.stderr(`${error}\n`);
    return EXIT.invalid;
  }
  const [{ refreshFleet }, { createRunDeps }, { createLogger }, { credentialFromEnv }] = await Promise.all([
    import('../fleet/run.js'),
    import('./runtime.js'),
    import('../log/logger.js'),
    import('../cloud/credentials.js'),
  ]);
  const credential = credentialFromEnv(ctx.io.env);
  if (!(await credentialReady(ctx, credential))) return EXIT.invalid;
  const redactor = await envRedactor(ctx.io.env);
  const tty = ctx.io.isTTY ?? {};
  const total = only?.length ?? fleet.clusters.length;
  // With --json, stderr carries JSON log lines only; otherwise progress, live on a terminal.
  const progress = ctx.json
    ? undefined
    : new Progress(
        (t) => (ctx.io.rawStderr ?? ctx.io.stderr)(redactor.redact(t)),
        tty.stderr ?? false,
        total,
        styleFor(tty.stderr ?? false, ctx.io.env),
      );
  const writeLog = (line: string) => (progress ? progress.line(line) : ctx.io.stderr(`${line}\n`));
  const log = createLogger({ format: ctx.json ? 'json' : 'text', write: writeLog, redactor, level: ctx.level });
  const deps = createRunDeps({
    fleet,
    credential,
    log,
    redactor,
    allowFileKubeconfig: true,
    // A local kubeconfig may authenticate through a plugin (exec): client-node runs it, once per cluster.
    resolvePlugin: localPlugins,
  });
  if (progress) {
    deps.onCluster = (r) => progress.cluster(r);
    // Text output names each failed cluster's error once, in the report (issue 17: it was printed three times).
    deps.logFailures = false;
  }
  const { logDiscovery, discoveryFailed } = await import('./discovery.js');
  logDiscovery(log, sources);
  progress?.start();
  let report;
  try {
    const run = () => refreshFleet(fleet, deps, { dryRun, ...(only ? { only } : {}) });
    report =
      ctx.level === 'debug'
        ? await (await import('../log/requests.js')).observeRequests(debugRequest(log), run)
        : await run();
  } finally {
    progress?.end();
  }
  if (sources.length) report.discovery = sources;
  const text = ctx.json ? JSON.stringify(report) : formatReport(report, styleFor(tty.stdout ?? false, ctx.io.env));
  ctx.io.stdout(`${redactor.redact(text)}\n`);
  return report.summary.failed > 0 || discoveryFailed(sources) ? EXIT.failed : EXIT.ok;
}
