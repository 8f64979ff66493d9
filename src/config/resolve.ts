/**
 * Resolution: merges `defaults` into each cluster, splits comma strings, fills regions, and turns
 * fleet.yaml into the plain model the rest of acr-fleet works on.
 */
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseDuration } from './duration.js';
import { DISPATCH_DEFAULTS, resolveNetworks, type Network } from './networks.js';
import { resolveDiscovery, type DiscoveryEntry, type DiscoverySource } from './discovery.js';
import type { ClusterConfig, EndpointConfig, FleetConfig, RegistryConfig } from './schema.js';

/** Built-in defaults, as the add-on documents them (`secretName` is acr-fleet's own). */
export const DEFAULTS = {
  watchNamespace: ['default'],
  excludeNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
  serviceAccount: ['default'],
  expiringThreshold: '15m',
  secretName: 'acr-credential-fleet',
  concurrency: 8,
  /** Chosen from `npm run bench` (README, "Figures"): one shard's refresh stays well inside one 5-minute tick. */
  shardSize: 500,
  webhook: { enabled: false, failurePolicy: 'Ignore', timeoutSeconds: 10 },
  webhookKeySecret: 'acr-fleet/webhook-key',
  requestTimeout: '10s',
  retryBudget: '60s',
  writeConcurrency: 4,
  pageSize: 500,
  /** 20× a measured 500-item ServiceAccount list page (~370 KiB; README, "Figures"). */
  maxResponseBytes: 8 * 1024 * 1024,
  maxListPages: 1000,
  maxListItems: 200_000,
  clusterTimeout: '120s',
} as const;

/** A cluster's admission webhook settings (the add-on's webhook-configuration). */
export interface WebhookSettings {
  enabled: boolean;
  failurePolicy: 'Ignore' | 'Fail';
  timeoutSeconds: number;
}

/** Where the webhook function is and where its key lives. */
export interface WebhookEndpoint {
  url: string;
  keySecret: string;
  /** Region of the key secret: the fleet's. */
  regionId: string;
  /** Absolute path of a PEM CA bundle for clientConfig.caBundle. */
  caFile?: string;
}

/** A registry to fetch one token for. */
export interface Registry {
  name: string;
  /** `enterprise` when an instance id is given, else `personal`. */
  edition: 'enterprise' | 'personal';
  instanceId?: string;
  regionId: string;
  /** Configured domains; undefined means "all domains of the instance or region". */
  domains?: string[];
  /** Whose identity fetches the token. */
  credential: CredentialSpec;
}

/**
 * How a registry's caller identity is obtained: a base identity (the function's own, an AccessKey
 * kept in KMS, or an RRSA OIDC session), optionally chained into AssumeRole.
 */
export interface CredentialSpec {
  base:
    | { kind: 'default' }
    | { kind: 'accessKey'; kmsSecret: string; regionId: string }
    | { kind: 'rrsa'; roleArn: string; providerArn: string; tokenFile: string };
  assumeRole?: { roleArn: string; externalId?: string; durationSeconds: number };
}

/** Which namespaces of a cluster get a Secret. */
export type NamespaceSelection = { all: true; exclude: string[] } | { all: false; names: string[] };

/** Where a cluster's kubeconfig comes from (paths already absolute). */
export type KubeconfigRef =
  | { kind: 'file'; path: string; display: string }
  | { kind: 'kms'; secretName: string; regionId: string; allowPrivateAddress: boolean }
  | { kind: 'ack'; clusterId: string; regionId: string; privateIpAddress: boolean; allowPrivateAddress: boolean };

/** One cluster with every setting resolved. */
export interface Cluster {
  name: string;
  kubeconfig: KubeconfigRef;
  registries: string[];
  namespaces: NamespaceSelection;
  /** `'*'` for every ServiceAccount of a watched namespace. */
  serviceAccounts: '*' | string[];
  expiringThresholdMs: number;
  secretName: string;
  /** Former secret names still being cleaned up (listed, and their owned Secrets deleted); absent when none. */
  previousSecretNames?: string[];
  /** `configmap`: settings and registries come from the cluster's add-on ConfigMap each run. */
  settingsSource: 'fleet' | 'configmap';
  /** With `configmap`: the fleet registries (names) its ConfigMap may pick; none when absent. */
  configmapRegistries?: string[];
  /** The cluster's region (its kubeconfig source's, else the fleet's): the add-on's default registry region. */
  regionId: string;
  /** Names excluded when a ConfigMap says `watch-namespace: all`. */
  excludeNamespaces: string[];
  /** RRSA token file for ConfigMap registries. */
  oidcTokenFile?: string;
  webhook: WebhookSettings;
  /** The network (fleet.yaml networks:) whose function refreshes this cluster; absent: the internet (main function). */
  network?: string;
  /** Label the managed Secrets for ACK's on-demand image loading (images.alibabacloud.com/accelerated). */
  acceleration?: true;
  /** Set on a cluster `discovery:` found (not in `clusters:`): its source, ACK cluster id and ACK name. */
  discovered?: { source: string; clusterId: string; ackName: string };
}

/** How acr-fleet talks to each API server (fleet.yaml `kubernetes:`). */
export interface KubeSettings {
  requestTimeoutMs: number;
  retryBudgetMs: number;
  /** Writes in flight per cluster, and the size of its connection pool. */
  writeConcurrency: number;
  pageSize: number;
  /** Largest answer read (bytes); the stream is cut past it. */
  maxResponseBytes: number;
  maxListPages: number;
  maxListItems: number;
  /** Wall-clock limit of one cluster's refresh. */
  clusterTimeoutMs: number;
}

/** The default caps of {@link KubeSettings}, resolved. */
export const KUBE_LIMITS = {
  maxResponseBytes: DEFAULTS.maxResponseBytes,
  maxListPages: DEFAULTS.maxListPages,
  maxListItems: DEFAULTS.maxListItems,
  clusterTimeoutMs: 120_000,
} as const;

/** Product endpoint overrides: a URL (may contain `{region}`) or a region → URL map. */
export type Endpoints = Partial<Record<'cr' | 'sts' | 'kms' | 'cs' | 'fc' | 'adcp' | 'ram', EndpointConfig>>;

/** The resolved fleet. */
export interface Fleet {
  file: string;
  regionId: string | undefined;
  endpoints: Endpoints;
  concurrency: number;
  /** Clusters per Function Compute shard invocation (see src/fleet/shard.ts). */
  shardSize: number;
  kubernetes: KubeSettings;
  registries: Registry[];
  clusters: Cluster[];
  webhook?: WebhookEndpoint;
  /** Private networks, each served by its own function (src/fleet/dispatch.ts). */
  networks?: Record<string, Network>;
  /** Shard and network invocations running at once (fleet.yaml dispatch.maxConcurrentInvocations). */
  maxConcurrentInvocations?: number;
  /** `discovery:` sources; their clusters join `clusters` at run time (src/fleet/discover.ts). */
  discovery?: DiscoverySource<Cluster>[];
  /** Warnings of the validation pass (printed by `validate`; they change nothing). */
  warnings?: ConfigProblem[];
}

interface ResolveContext {
  file: string;
  baseDir: string;
  env: Record<string, string | undefined>;
}

/** Resolves a validated config. Throws ConfigError when a value is missing from config and environment alike. */
export function resolveFleet(cfg: FleetConfig, ctx: ResolveContext): Fleet {
  const problems: ConfigProblem[] = [];
  const regionId = cfg.regionId ?? ctx.env.FC_REGION ?? ctx.env.ALIBABA_CLOUD_REGION_ID;
  const registries = cfg.registries.map((r, i) => {
    const resolved = resolveRegistry(r, regionId, ctx.env);
    if (!resolved.regionId)
      problems.push({
        path: `registries[${i}].regionId`,
        message: 'required: no top-level regionId, and neither FC_REGION nor ALIBABA_CLOUD_REGION_ID is set',
      });
    if (resolved.credential.base.kind === 'rrsa' && !resolved.credential.base.tokenFile) {
      problems.push({
        path: `registries[${i}].oidcTokenFile`,
        message: 'required with rrsaRoleARN when ALIBABA_CLOUD_OIDC_TOKEN_FILE is not set',
      });
    }
    return resolved;
  });
  const explicit = cfg.clusters ?? [];
  const webhookOn = (cfg.defaults?.webhook?.enabled ?? false) || explicit.some((c) => c.webhook?.enabled);
  if (webhookOn && !cfg.webhook)
    problems.push({ path: 'webhook.url', message: 'required when a cluster has webhook.enabled: true' });
  if (cfg.webhook && !regionId)
    problems.push({
      path: 'regionId',
      message: 'required with webhook (the region of its KMS key): set it, FC_REGION or ALIBABA_CLOUD_REGION_ID',
    });
  const keySecret = cfg.webhook?.keySecret ?? DEFAULTS.webhookKeySecret;
  // One cluster's credential per KMS secret (and one entry per ACK cluster): a shared one would send a cluster's
  // tokens to whichever cluster the secret reaches, and deregister one cluster's credential with another's.
  const owners = new Map<string, number>();
  explicit.forEach((c, i) => {
    const k = c.kubeconfig;
    const key =
      'kmsSecret' in k
        ? `kmsSecret ${k.kmsSecret}`
        : 'ackClusterId' in k
          ? `ackClusterId ${k.ackClusterId}`
          : undefined;
    if (key === undefined) return;
    const first = owners.get(key);
    if (first === undefined) owners.set(key, i);
    else
      problems.push({
        path: `clusters[${i}].kubeconfig.${key.split(' ')[0]}`,
        message: `${key.split(' ')[1]} is already clusters[${first}]'s (${explicit[first]?.name}); each cluster needs its own`,
      });
  });
  explicit.forEach((c, i) => {
    // Every webhook URL is derived from that key: a kubeconfig stored under its name would replace it.
    if ('kmsSecret' in c.kubeconfig && c.kubeconfig.kmsSecret === keySecret) {
      problems.push({
        path: `clusters[${i}].kubeconfig.kmsSecret`,
        message: `${keySecret} is the webhook key's KMS secret; choose another name`,
      });
    }
    if (!('file' in c.kubeconfig) && !c.kubeconfig.regionId && !regionId) {
      problems.push({
        path: `clusters[${i}].kubeconfig.regionId`,
        message: 'required: no top-level regionId, and neither FC_REGION nor ALIBABA_CLOUD_REGION_ID is set',
      });
    }
  });
  const allRegistries = registries.map((r) => r.name);
  const discovery = cfg.discovery
    ? resolveDiscovery(cfg.discovery as DiscoveryEntry[], regionId, (c) =>
        resolveCluster(c as ClusterConfig, cfg.defaults ?? {}, allRegistries, regionId, ctx),
      )
    : undefined;
  problems.push(...(discovery?.problems ?? []));
  if (problems.length) throw new ConfigError(ctx.file, problems);
  return {
    file: ctx.file,
    regionId,
    endpoints: cfg.endpoints ?? {},
    concurrency: cfg.concurrency ?? DEFAULTS.concurrency,
    shardSize: cfg.shardSize ?? DEFAULTS.shardSize,
    kubernetes: {
      // The schema already checked the durations.
      requestTimeoutMs: parseDuration(cfg.kubernetes?.requestTimeout ?? DEFAULTS.requestTimeout) ?? 0,
      retryBudgetMs: parseDuration(cfg.kubernetes?.retryBudget ?? DEFAULTS.retryBudget) ?? 0,
      writeConcurrency: cfg.kubernetes?.writeConcurrency ?? DEFAULTS.writeConcurrency,
      pageSize: cfg.kubernetes?.pageSize ?? DEFAULTS.pageSize,
      maxResponseBytes: cfg.kubernetes?.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
      maxListPages: cfg.kubernetes?.maxListPages ?? DEFAULTS.maxListPages,
      maxListItems: cfg.kubernetes?.maxListItems ?? DEFAULTS.maxListItems,
      clusterTimeoutMs: parseDuration(cfg.kubernetes?.clusterTimeout ?? DEFAULTS.clusterTimeout) ?? 0,
    },
    networks: resolveNetworks(cfg.networks),
    maxConcurrentInvocations: cfg.dispatch?.maxConcurrentInvocations ?? DISPATCH_DEFAULTS.maxConcurrentInvocations,
    registries,
    clusters: explicit.map((c) => resolveCluster(c, cfg.defaults ?? {}, allRegistries, regionId, ctx)),
    ...(discovery ? { discovery: discovery.sources } : {}),
    ...(cfg.webhook
      ? {
          webhook: {
            url: cfg.webhook.url.replace(/\/+$/, ''),
            keySecret: cfg.webhook.keySecret ?? DEFAULTS.webhookKeySecret,
            regionId: regionId ?? '',
            ...(cfg.webhook.caFile ? { caFile: path.resolve(ctx.baseDir, cfg.webhook.caFile) } : {}),
          },
        }
      : {}),
  };
}

function resolveRegistry(r: RegistryConfig, regionId: string | undefined, env: ResolveContext['env']): Registry {
  const instanceId = r.instanceId || undefined;
  const region = r.regionId ?? regionId ?? '';
  const base: CredentialSpec['base'] = r.accessKey
    ? { kind: 'accessKey', kmsSecret: r.accessKey.kmsSecret, regionId: r.accessKey.regionId ?? regionId ?? region }
    : r.rrsaRoleARN && r.rrsaOIDCProviderRoleARN
      ? {
          kind: 'rrsa',
          roleArn: r.rrsaRoleARN,
          providerArn: r.rrsaOIDCProviderRoleARN,
          tokenFile: r.oidcTokenFile ?? env.ALIBABA_CLOUD_OIDC_TOKEN_FILE ?? '',
        }
      : { kind: 'default' };
  const assumeRole = r.assumeRoleARN
    ? {
        roleArn: r.assumeRoleARN,
        ...(r.externalId ? { externalId: r.externalId } : {}),
        durationSeconds: r.expireDuration ?? 3600,
      }
    : undefined;
  return {
    name: r.name,
    edition: instanceId ? 'enterprise' : 'personal',
    ...(instanceId ? { instanceId } : {}),
    regionId: region,
    ...(r.domains !== undefined ? { domains: splitList(r.domains) } : {}),
    credential: { base, ...(assumeRole ? { assumeRole } : {}) },
  };
}

function resolveCluster(
  c: ClusterConfig,
  defaults: NonNullable<FleetConfig['defaults']>,
  allRegistries: string[],
  regionId: string | undefined,
  ctx: ResolveContext,
): Cluster {
  const pick = <K extends keyof typeof defaults>(key: K) => c[key] ?? defaults[key];
  const watch = splitList(pick('watchNamespace') ?? [...DEFAULTS.watchNamespace]);
  const sa = splitList(pick('serviceAccount') ?? [...DEFAULTS.serviceAccount]);
  const threshold = pick('expiringThreshold') ?? DEFAULTS.expiringThreshold;
  const secretName = pick('secretName') ?? DEFAULTS.secretName;
  const previous = (c.previousSecretNames ?? []).filter((n) => n !== secretName);
  return {
    name: c.name,
    kubeconfig: resolveKubeconfig(c.kubeconfig, regionId, ctx),
    registries: c.registries ?? allRegistries,
    namespaces: watch.some((w) => w.toLowerCase() === 'all')
      ? { all: true, exclude: splitList(pick('excludeNamespaces') ?? [...DEFAULTS.excludeNamespaces]) }
      : { all: false, names: watch },
    serviceAccounts: sa.includes('*') ? '*' : sa,
    // The schema already checked the duration, so parseDuration cannot fail here.
    expiringThresholdMs: parseDuration(threshold) ?? 0,
    secretName,
    ...(previous.length ? { previousSecretNames: [...new Set(previous)] } : {}),
    settingsSource: c.settings ?? 'fleet',
    ...(c.settings === 'configmap' ? { configmapRegistries: [...new Set(c.configmap?.registries ?? [])] } : {}),
    regionId: ('regionId' in c.kubeconfig ? c.kubeconfig.regionId : undefined) ?? regionId ?? '',
    excludeNamespaces: splitList(pick('excludeNamespaces') ?? [...DEFAULTS.excludeNamespaces]),
    ...(ctx.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE ? { oidcTokenFile: ctx.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE } : {}),
    webhook: { ...DEFAULTS.webhook, ...defaults.webhook, ...c.webhook },
    ...(pick('network') ? { network: pick('network') } : {}),
    ...(pick('acceleration') ? { acceleration: true as const } : {}),
  };
}

function resolveKubeconfig(
  k: ClusterConfig['kubeconfig'],
  regionId: string | undefined,
  ctx: ResolveContext,
): KubeconfigRef {
  if ('file' in k) return { kind: 'file', path: path.resolve(ctx.baseDir, k.file), display: k.file };
  const allowPrivateAddress = k.allowPrivateAddress ?? false;
  if ('kmsSecret' in k)
    return { kind: 'kms', secretName: k.kmsSecret, regionId: k.regionId ?? regionId ?? '', allowPrivateAddress };
  return {
    kind: 'ack',
    clusterId: k.ackClusterId,
    regionId: k.regionId ?? regionId ?? '',
    privateIpAddress: k.privateIpAddress ?? false,
    allowPrivateAddress,
  };
}

/** `"a, b"` or `["a","b"]` → `["a","b"]`, trimmed, empties dropped, duplicates removed. */
export function splitList(v: string | readonly string[]): string[] {
  const parts = typeof v === 'string' ? v.split(',') : v.flatMap((s) => s.split(','));
  return [...new Set(parts.map((s) => s.trim()).filter(Boolean))];
}
