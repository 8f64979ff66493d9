/**
 * The `acr-fleet` command line. `runCli` takes its I/O as arguments so tests drive it exactly as a
 * shell would (argv in; stdout, stderr and exit code out).
 *
 * Exit codes: 0 every cluster ok; 1 at least one cluster failed; 2 invalid config or usage.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { parseAcrConfiguration } from '../config/configmap.js';
import { loadFleet, parseYaml } from '../config/load.js';
import { DEFAULTS } from '../config/resolve.js';
import { credentialFromEnv } from '../cloud/credentials.js';
import { ConfigError, describeError } from '../errors.js';
import { refreshFleet } from '../fleet/run.js';
import { createLogger, Redactor, type Level } from '../log/logger.js';
import { policyOutput, type PolicyOptions } from '../policy/print.js';
import { deregister, register, type RegisterOptions } from '../register/flows.js';
import { formatReport, progressLine } from './output.js';
import { createRunDeps } from './runtime.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
}

export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

const USAGE = `Usage: acr-fleet <command> [options]

Commands:
  validate   Check fleet.yaml (or, with --configmap, an add-on ConfigMap) and report every problem
  refresh    Refresh ACR pull Secrets in every registered cluster
  policy     Print the least-privilege RAM policy the function's role needs for fleet.yaml, and what
             each cluster's Kubernetes RBAC allows (--kubernetes: the RBAC manifests)
  register   Install acr-fleet's least-privilege identity in a cluster (with an admin kubeconfig, once),
             store its kubeconfig in KMS and add the cluster to fleet.yaml
  deregister Remove acr-fleet's Secrets, imagePullSecrets entries, identity and KMS secret from a cluster,
             and the cluster from fleet.yaml

Options:
  -c, --config FILE     fleet file (default: $ACR_FLEET_CONFIG or ./fleet.yaml)
      --configmap FILE  validate: an acr-configuration ConfigMap manifest to check for migration
      --dry-run         refresh: read everything, write nothing, print what would change
      --json            print one JSON object on stdout; logs become JSON lines on stderr
      --cluster NAME    refresh: only this cluster (repeatable)
      --log-level LVL   debug | info | warn | error (default: info)
      --account-id ID   policy: the account that owns the resources (default: *)
      --kubernetes      policy: print the clusters' RBAC manifests (with --cluster NAME: that one's)
      --cluster NAME    register/deregister: the cluster
      --kubeconfig FILE register/deregister: an admin kubeconfig (used once, never stored or printed)
      --kms-secret NAME register/deregister: KMS secret for its kubeconfig (default: acr-fleet/NAME)
      --with-configmap  register: also let it read kube-system/acr-configuration (settings: configmap)
      --webhook         register: also install the admission webhook (new ServiceAccounts get the Secret at once)
  -h, --help            show this help

Exit codes: 0 ok, 1 a cluster failed, 2 invalid config or usage.`;

/** Runs one CLI invocation and returns its exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        configmap: { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        cluster: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        'account-id': { type: 'string' },
        kubernetes: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        'kms-secret': { type: 'string' },
        'with-configmap': { type: 'boolean' },
        webhook: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr(`acr-fleet: ${describeError(err)}\n${USAGE}\n`);
    return EXIT.invalid;
  }
  const { values, positionals } = args;
  const command = positionals[0];
  if (values.help || !command) {
    (values.help ? io.stdout : io.stderr)(`${USAGE}\n`);
    return values.help ? EXIT.ok : EXIT.invalid;
  }
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    io.stderr(`acr-fleet: --log-level: expected debug, info, warn or error\n`);
    return EXIT.invalid;
  }
  const configArg = values.config ?? io.env.ACR_FLEET_CONFIG ?? 'fleet.yaml';
  const ctx = { io, json: values.json ?? false, configArg, configPath: path.resolve(io.cwd, configArg), level: level as Level };
  switch (command) {
    case 'validate':
      return values.configmap ? validateConfigMap(ctx, values.configmap) : validate(ctx);
    case 'policy':
      return policy(ctx, { ...(values['account-id'] ? { accountId: values['account-id'] } : {}), kubernetes: values.kubernetes ?? false, ...(values.cluster ? { clusters: values.cluster } : {}) });
    case 'register':
    case 'deregister': {
      const cluster = values.cluster?.[0];
      if (!cluster || values.cluster?.length !== 1 || !values.kubeconfig) {
        io.stderr(`acr-fleet ${command}: --cluster NAME and --kubeconfig ADMIN.yaml are required\n`);
        return EXIT.invalid;
      }
      const opts = { cluster, adminKubeconfig: path.resolve(io.cwd, values.kubeconfig), ...(values['kms-secret'] ? { kmsSecret: values['kms-secret'] } : {}) };
      return membership(ctx, command, command === 'register' ? { ...opts, configmap: values['with-configmap'] ?? false, webhook: values.webhook ?? false } : opts);
    }
    case 'refresh':
      return refresh(ctx, values['dry-run'] ?? false, values.cluster);
    default:
      io.stderr(`acr-fleet: unknown command "${command}"\n${USAGE}\n`);
      return EXIT.invalid;
  }
}

interface Ctx {
  io: CliIo;
  json: boolean;
  configArg: string;
  configPath: string;
  level: Level;
}

async function load(ctx: Ctx) {
  try {
    return await loadFleet({ file: ctx.configArg, path: ctx.configPath, env: ctx.io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ valid: false, file: err.file, problems: err.problems })}\n`);
    ctx.io.stderr(`${err.message}\n`);
    return undefined;
  }
}

async function validate(ctx: Ctx): Promise<number> {
  const fleet = await load(ctx);
  if (!fleet) return EXIT.invalid;
  if (ctx.json) ctx.io.stdout(`${JSON.stringify({ valid: true, file: ctx.configArg, registries: fleet.registries.length, clusters: fleet.clusters.length })}\n`);
  else ctx.io.stdout(`${ctx.configArg}: valid (${fleet.registries.length} registries, ${fleet.clusters.length} clusters)\n`);
  return EXIT.ok;
}

/** A redactor that already knows the caller's own AccessKey secret and STS token. */
function envRedactor(env: CliIo['env']): Redactor {
  const redactor = new Redactor();
  redactor.add(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  redactor.add(env.ALIBABA_CLOUD_SECURITY_TOKEN);
  return redactor;
}

async function membership(ctx: Ctx, command: 'register' | 'deregister', opts: RegisterOptions): Promise<number> {
  const redactor = envRedactor(ctx.io.env);
  const flow = {
    configDisplay: ctx.configArg,
    configPath: ctx.configPath,
    env: ctx.io.env,
    credential: credentialFromEnv(ctx.io.env),
    progress: (line: string) => ctx.io.stderr(`${redactor.redact(line)}\n`),
  };
  try {
    if (command === 'register') await register(flow, opts);
    else await deregister(flow, opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.io.stderr(`${err.message}\n`);
      return EXIT.invalid;
    }
    ctx.io.stderr(`acr-fleet ${command}: ${redactor.redact(describeError(err))}\n`);
    return EXIT.failed;
  }
  ctx.io.stdout(`${command === 'register' ? 'registered' : 'deregistered'} cluster ${opts.cluster}\n`);
  return EXIT.ok;
}

async function policy(ctx: Ctx, opts: PolicyOptions): Promise<number> {
  const fleet = await load(ctx);
  if (!fleet) return EXIT.invalid;
  const out = policyOutput(fleet, opts);
  if ('error' in out) {
    ctx.io.stderr(`acr-fleet policy: ${out.error}\n`);
    return EXIT.invalid;
  }
  ctx.io.stdout(out.stdout);
  ctx.io.stderr(out.stderr);
  return EXIT.ok;
}

/** Checks an add-on ConfigMap manifest the way a `settings: configmap` cluster would read it. */
async function validateConfigMap(ctx: Ctx, file: string): Promise<number> {
  try {
    const manifest = parseYaml(await readText(path.resolve(ctx.io.cwd, file), file), file) as { kind?: unknown; data?: unknown } | null;
    if (!manifest || manifest.kind !== 'ConfigMap' || (manifest.data !== undefined && (typeof manifest.data !== 'object' || manifest.data === null))) {
      throw new ConfigError(file, [{ path: '', message: 'expected a ConfigMap manifest (kubectl -n kube-system get configmap acr-configuration -o yaml)' }]);
    }
    const data = Object.fromEntries(Object.entries((manifest.data ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    const region = ctx.io.env.ALIBABA_CLOUD_REGION_ID ?? ctx.io.env.FC_REGION ?? '<cluster region>';
    const { settings, registries } = parseAcrConfiguration(data, file, {
      clusterName: 'cluster',
      regionId: region,
      excludeNamespaces: [...DEFAULTS.excludeNamespaces],
      ...(ctx.io.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE ? { oidcTokenFile: ctx.io.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE } : {}),
    });
    const summary = {
      valid: true,
      file,
      registries: registries.map((r) => ({ edition: r.edition, instanceId: r.instanceId ?? '', regionId: r.regionId, domains: r.domains ?? 'all' })),
      ...settings,
    };
    if (ctx.json) ctx.io.stdout(`${JSON.stringify(summary)}\n`);
    else ctx.io.stdout(`${file}: valid (${registries.length} registries: ${registries.map((r) => `${r.instanceId ?? 'personal'}@${r.regionId}`).join(', ')})\n`);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ valid: false, file: err.file, problems: err.problems })}\n`);
    ctx.io.stderr(`${err.message}\n`);
    return EXIT.invalid;
  }
}

async function readText(absolute: string, display: string): Promise<string> {
  try {
    return await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(display, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})` }]);
  }
}

async function refresh(ctx: Ctx, dryRun: boolean, only: string[] | undefined): Promise<number> {
  const fleet = await load(ctx);
  if (!fleet) return EXIT.invalid;
  const unknown = (only ?? []).filter((n) => !fleet.clusters.some((c) => c.name === n));
  if (unknown.length) {
    ctx.io.stderr(`acr-fleet: --cluster: no cluster named ${unknown.join(', ')} in ${ctx.configArg}\n`);
    return EXIT.invalid;
  }
  const redactor = envRedactor(ctx.io.env);
  const log = createLogger({ format: ctx.json ? 'json' : 'text', write: (l) => ctx.io.stderr(`${l}\n`), redactor, level: ctx.level });
  const deps = createRunDeps({ fleet, credential: credentialFromEnv(ctx.io.env), log, redactor, allowFileKubeconfig: true });
  if (!ctx.json) deps.onCluster = (r, done, total) => ctx.io.stderr(`${redactor.redact(progressLine(r, done, total))}\n`);
  const report = await refreshFleet(fleet, deps, { dryRun, ...(only ? { only } : {}) });
  const text = ctx.json ? JSON.stringify(report) : formatReport(report);
  ctx.io.stdout(`${redactor.redact(text)}\n`);
  return report.summary.failed > 0 ? EXIT.failed : EXIT.ok;
}
