/**
 * Migration from the in-cluster add-on: the keys of its `kube-system/acr-configuration` ConfigMap,
 * applied as the add-on applies them, for clusters set to `settings: configmap`. Keys acr-fleet cannot
 * honour safely (inline AccessKeys) are reported, never used. Pure: the caller reads the ConfigMap.
 *
 * A ConfigMap belongs to a cluster owner, who is less trusted than fleet.yaml (issue 15): it only narrows.
 * Each `acr-registry-info` entry must match a registry fleet.yaml allows for that cluster
 * (`clusters[].configmap.registries`); the registry used is fleet.yaml's, so role, region, credentials and
 * domains never come from the ConfigMap. An entry naming anything else is refused, not fetched.
 */
import yaml from 'js-yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseDuration } from './duration.js';
import { INLINE_ACCESS_KEYS } from './schema.js';
import { REGION } from './rules.js';
import {
  splitList,
  type Cluster,
  type Fleet,
  type NamespaceSelection,
  type Registry,
  type WebhookSettings,
} from './resolve.js';

export const ACR_CONFIGURATION = { namespace: 'kube-system', name: 'acr-configuration' } as const;

/** What a ConfigMap overrides in a cluster's settings. */
export interface ConfigMapSettings {
  namespaces?: NamespaceSelection;
  serviceAccounts?: '*' | string[];
  expiringThresholdMs?: number;
  /** From `webhook-configuration`; keys it leaves out keep the cluster's values. */
  webhook?: Partial<WebhookSettings>;
}

export interface ConfigMapContext {
  clusterName: string;
  /**
   * The fleet.yaml registries this cluster's ConfigMap may pick (its `configmap.registries`, resolved).
   * Absent or empty: none, so every entry is refused.
   */
  allowed?: readonly Registry[];
  /** The cluster's region: the add-on's default `regionId`. */
  regionId: string;
  /** Default excludes when `watch-namespace: all`. */
  excludeNamespaces: string[];
  /** RRSA token file (the add-on mounts one; acr-fleet takes $ALIBABA_CLOUD_OIDC_TOKEN_FILE). */
  oidcTokenFile?: string;
}

/** Keys the add-on reads that change nothing for acr-fleet, accepted so a ConfigMap can be used as is. */
const IGNORED = new Set(['notify-email']);
const REGISTRY_FIELDS = new Set([
  'instanceId',
  'regionId',
  'domains',
  'assumeRoleARN',
  'expireDuration',
  'rrsaRoleARN',
  'rrsaOIDCProviderRoleARN',
]);

/** Caps on what a cluster's ConfigMap may make acr-fleet read. */
export const CONFIGMAP_LIMITS = { entries: 50, dataBytes: 256 * 1024 } as const;

/** One `acr-registry-info` entry as the ConfigMap asks for it (or the add-on's default, index 0). */
export interface RequestedRegistry {
  /** `acr-registry-info[2]`, or `acr-registry-info` for the default Personal Edition registry. */
  at: string;
  instanceId: string;
  /** As written, else the cluster's region. */
  regionId: string;
  domains?: string[];
  assumeRoleARN?: string;
  rrsa?: { roleArn: string; providerArn: string };
}

/** The ConfigMap read structurally, before narrowing: what it sets and which registries it asks for. */
export interface AcrConfiguration {
  settings: ConfigMapSettings;
  requested: RequestedRegistry[];
}

/**
 * Reads an acr-configuration ConfigMap's `data` as the add-on would, without deciding anything it may
 * have. Throws ConfigError (named `source`) listing every problem.
 */
export function readAcrConfiguration(
  data: Record<string, string>,
  source: string,
  ctx: Omit<ConfigMapContext, 'allowed'>,
): AcrConfiguration {
  const size = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > CONFIGMAP_LIMITS.dataBytes)
    throw new ConfigError(source, [
      { path: 'data', message: `${size} bytes, more than the ${CONFIGMAP_LIMITS.dataBytes} acr-fleet reads` },
    ]);
  const problems: ConfigProblem[] = [];
  const settings: ConfigMapSettings = {};
  const problem = (key: string, message: string) => problems.push({ path: `data.${key}`, message });

  for (const key of Object.keys(data)) {
    if (
      IGNORED.has(key) ||
      [
        'service-account',
        'watch-namespace',
        'expiring-threshold',
        'acr-registry-info',
        'rrsa',
        'acr-api-version',
        'webhook-configuration',
      ].includes(key)
    )
      continue;
    if (key === 'acr-registry')
      problem(key, "the add-on's pre-2020 key is not supported; list instances in acr-registry-info");
    else problem(key, 'unknown key');
  }

  const sa = data['service-account'];
  if (sa !== undefined) {
    const names = splitList(sa);
    settings.serviceAccounts = names.includes('*') ? '*' : names;
  }
  const watch = data['watch-namespace'];
  if (watch !== undefined) {
    const names = splitList(watch);
    settings.namespaces = names.some((n) => n.toLowerCase() === 'all')
      ? { all: true, exclude: ctx.excludeNamespaces }
      : { all: false, names };
  }
  const threshold = data['expiring-threshold'];
  if (threshold !== undefined) {
    const ms = parseDuration(threshold.trim());
    if (ms === undefined) problem('expiring-threshold', 'expected a duration such as 15m, 1h or 90s');
    else settings.expiringThresholdMs = ms;
  }
  const version = data['acr-api-version'];
  if (version !== undefined && !['2018-12-01', '2016-06-07'].includes(version.trim()))
    problem('acr-api-version', 'expected "2018-12-01"');

  const webhook = data['webhook-configuration'];
  if (webhook !== undefined) {
    const parsed = parseWebhook(webhook, problem);
    if (parsed) settings.webhook = parsed;
  }

  const rrsa = data.rrsa === undefined ? false : rrsaEnabled(data.rrsa, problem);
  const requested = parseRegistries(data['acr-registry-info'], rrsa, ctx, problem);
  if (problems.length) throw new ConfigError(source, problems);
  return { settings, requested };
}

/**
 * Parses an acr-configuration ConfigMap's `data` and narrows it to what fleet.yaml allows this cluster
 * (`ctx.allowed`). Throws ConfigError (named `source`) listing every problem of the ConfigMap itself.
 * Entries asking for anything fleet.yaml did not allow come back in `refused`, one line each
 * (`ConfigMap acr-registry-info[2]: instance cri-… is not allowed for this cluster`; the caller prefixes
 * `cluster X: `), and no registry for them: fetch nothing for them and name them in the report.
 * `registries` are fleet.yaml's own Registry objects. `expiring-threshold` is clamped below the shortest
 * lifetime of their tokens (a note in `warnings`).
 */
export function parseAcrConfiguration(
  data: Record<string, string>,
  source: string,
  ctx: ConfigMapContext,
): { settings: ConfigMapSettings; registries: Registry[]; refused: string[]; warnings: string[] } {
  const { settings, requested } = readAcrConfiguration(data, source, ctx);
  const allowed = ctx.allowed ?? [];
  const registries: Registry[] = [];
  const refused: string[] = [];
  for (const entry of requested) {
    const match = narrow(entry, allowed);
    if (typeof match === 'string') refused.push(`ConfigMap ${entry.at}: ${match} is not allowed for this cluster`);
    else if (!registries.includes(match)) registries.push(match);
  }
  const warnings: string[] = [];
  const lifetime = Math.min(...registries.map(tokenLifetimeMs));
  if (settings.expiringThresholdMs !== undefined && registries.length && settings.expiringThresholdMs >= lifetime) {
    const clamped = Math.floor(lifetime / 2);
    warnings.push(
      `ConfigMap expiring-threshold: ${data['expiring-threshold']?.trim() ?? ''} is not below the token lifetime (${lifetime / 60_000}m); ${clamped / 60_000}m used`,
    );
    settings.expiringThresholdMs = clamped;
  }
  return { settings, registries, refused, warnings };
}

/** A token lives 1 h, or, fetched with an STS session, as long as the session. */
function tokenLifetimeMs(r: Registry): number {
  return (r.credential.assumeRole?.durationSeconds ?? 3600) * 1000;
}

/** Personal Edition hosts of a region: the only domains a Personal Edition entry may name. */
function personalDomains(region: string): string[] {
  return ['registry', 'registry-vpc', 'registry-internal', 'registry-intl'].map((h) => `${h}.${region}.aliyuncs.com`);
}

/**
 * The allowed registry an entry asks for, or what about it is not allowed. Everything the entry names must
 * agree with that registry: edition and instance, region, role, RRSA role and domains.
 */
function narrow(e: RequestedRegistry, allowed: readonly Registry[]): Registry | string {
  const what = e.instanceId ? `instance ${e.instanceId}` : 'the Personal Edition registry';
  let candidates = allowed.filter((r) => (e.instanceId ? r.instanceId === e.instanceId : r.edition === 'personal'));
  if (!candidates.length) return what;
  if (!REGION.test(e.regionId)) return `${what} in a region that is not a region id`;
  candidates = candidates.filter((r) => r.regionId === e.regionId);
  if (!candidates.length) return `${what} in region ${e.regionId}`;
  if (e.assumeRoleARN) {
    candidates = candidates.filter((r) => r.credential.assumeRole?.roleArn === e.assumeRoleARN);
    if (!candidates.length) return `role ${e.assumeRoleARN} for ${what}`;
  }
  if (e.rrsa) {
    const { roleArn, providerArn } = e.rrsa;
    candidates = candidates.filter((r) => {
      const base = r.credential.base;
      return base.kind === 'rrsa' && base.roleArn === roleArn && base.providerArn === providerArn;
    });
    if (!candidates.length) return `RRSA role ${roleArn} for ${what}`;
  }
  const match = candidates[0] as Registry;
  // Domains come from fleet.yaml (or the instance's endpoints); the ConfigMap may only name some of them.
  const known = match.domains ?? (match.edition === 'personal' ? personalDomains(match.regionId) : undefined);
  const foreign = known ? (e.domains ?? []).find((d) => !known.includes(d.toLowerCase())) : undefined;
  if (foreign !== undefined) return `domain ${JSON.stringify(foreign.slice(0, 253))} of ${what}`;
  return match;
}

/** Builds the narrowing context of a `settings: configmap` cluster from the fleet it belongs to. */
export function configMapContext(
  cluster: Pick<Cluster, 'name' | 'regionId' | 'excludeNamespaces' | 'oidcTokenFile' | 'configmapRegistries'>,
  fleet: Pick<Fleet, 'registries'>,
): ConfigMapContext {
  const names = cluster.configmapRegistries ?? [];
  return {
    clusterName: cluster.name,
    regionId: cluster.regionId,
    excludeNamespaces: cluster.excludeNamespaces,
    ...(cluster.oidcTokenFile ? { oidcTokenFile: cluster.oidcTokenFile } : {}),
    allowed: fleet.registries.filter((r) => names.includes(r.name)),
  };
}

/** `enable`, `failure-policy`, `timeout-seconds`, as the add-on documents them. */
function parseWebhook(text: string, problem: (k: string, m: string) => void): Partial<WebhookSettings> | undefined {
  const key = 'webhook-configuration';
  const doc = parseEmbedded(text, key, problem);
  if (doc === undefined || doc === null) return undefined;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problem(key, 'expected a mapping with enable, failure-policy, timeout-seconds');
    return undefined;
  }
  const out: Partial<WebhookSettings> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (k === 'enable') {
      if (typeof v === 'boolean') out.enabled = v;
      else problem(`${key}.enable`, 'expected true or false');
    } else if (k === 'failure-policy') {
      if (v === 'Ignore' || v === 'Fail') out.failurePolicy = v;
      else problem(`${key}.failure-policy`, 'expected Ignore or Fail');
    } else if (k === 'timeout-seconds') {
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 30) out.timeoutSeconds = v;
      else problem(`${key}.timeout-seconds`, 'expected whole seconds from 1 to 30');
    } else problem(`${key}.${k}`, 'unknown key');
  }
  return out;
}

function rrsaEnabled(text: string, problem: (k: string, m: string) => void): boolean {
  const doc = parseEmbedded(text, 'rrsa', problem);
  if (doc === undefined) return false;
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'enable' in doc) {
    const enable = (doc as { enable: unknown }).enable;
    if (typeof enable === 'boolean') return enable;
  }
  problem('rrsa', 'expected "enable: true" or "enable: false"');
  return false;
}

function parseRegistries(
  text: string | undefined,
  rrsa: boolean,
  ctx: Omit<ConfigMapContext, 'allowed'>,
  problem: (k: string, m: string) => void,
): RequestedRegistry[] {
  // Without acr-registry-info the add-on serves the Personal Edition registry of the cluster's region.
  if (text === undefined || !text.trim()) return [{ at: 'acr-registry-info', instanceId: '', regionId: ctx.regionId }];
  const doc = parseEmbedded(text, 'acr-registry-info', problem);
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) {
    problem('acr-registry-info', 'expected a YAML list of instances (- instanceId: ...)');
    return [];
  }
  if (doc.length > CONFIGMAP_LIMITS.entries) {
    problem('acr-registry-info', `${doc.length} entries, more than the ${CONFIGMAP_LIMITS.entries} acr-fleet reads`);
    return [];
  }
  const out: RequestedRegistry[] = [];
  doc.forEach((entry: unknown, i) => {
    const at = `acr-registry-info[${i}]`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      return problem(at, 'expected a mapping with instanceId, regionId, domains');
    const e = entry as Record<string, unknown>;
    let ok = true;
    const bad = (field: string, message: string) => {
      ok = false;
      problem(`${at}.${field}`, message);
    };
    for (const k of Object.keys(e)) {
      if (INLINE_ACCESS_KEYS.includes(k))
        bad(
          k,
          'inline AccessKeys are not used; register this instance in fleet.yaml with accessKey: { kmsSecret: NAME }',
        );
      else if (!REGISTRY_FIELDS.has(k)) bad(k, 'unknown key');
    }
    const str = (k: string): string | undefined => {
      const v = e[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') {
        bad(k, 'expected a string');
        return undefined;
      }
      if (v.length > 2048) {
        bad(k, 'longer than 2048 characters');
        return undefined;
      }
      return v.trim();
    };
    const instanceId = str('instanceId') ?? '';
    if (instanceId && !/^cri-[A-Za-z0-9]{1,60}$/.test(instanceId))
      bad('instanceId', 'expected an Enterprise Edition instance id (cri-...) or "" for Personal Edition');
    const assumeRoleARN = str('assumeRoleARN');
    const rrsaRoleARN = str('rrsaRoleARN');
    const providerArn = str('rrsaOIDCProviderRoleARN');
    const duration = e.expireDuration === undefined ? undefined : Number(e.expireDuration);
    if (duration !== undefined && !(Number.isInteger(duration) && duration >= 900 && duration <= 43200))
      bad('expireDuration', 'expected whole seconds from 900 to 43200');
    if ((rrsaRoleARN || providerArn) && !rrsa) bad('rrsaRoleARN', 'RRSA fields need rrsa: "enable: true"');
    if (rrsa && !(rrsaRoleARN && providerArn))
      bad('rrsaRoleARN', 'with rrsa enabled, rrsaRoleARN and rrsaOIDCProviderRoleARN are required');
    if (rrsa && rrsaRoleARN && providerArn && !ctx.oidcTokenFile)
      bad('rrsaRoleARN', 'RRSA needs ALIBABA_CLOUD_OIDC_TOKEN_FILE where acr-fleet runs');
    const rawDomains = e.domains;
    const domains = Array.isArray(rawDomains)
      ? splitList(rawDomains.map(String))
      : str('domains') !== undefined
        ? splitList(String(rawDomains))
        : undefined;
    if (!ok) return;
    out.push({
      at,
      instanceId,
      regionId: str('regionId') || ctx.regionId,
      ...(domains?.length ? { domains } : {}),
      ...(assumeRoleARN ? { assumeRoleARN } : {}),
      ...(rrsa && rrsaRoleARN && providerArn ? { rrsa: { roleArn: rrsaRoleARN, providerArn } } : {}),
    });
  });
  return out;
}

/** A ConfigMap value holding YAML. Errors say where, never quote the text. */
function parseEmbedded(text: string, key: string, problem: (k: string, m: string) => void): unknown {
  try {
    return yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const e = err as InstanceType<typeof yaml.YAMLException>;
    problem(key, `invalid YAML${e.mark ? ` at line ${e.mark.line + 1}` : ''}: ${e.reason ?? 'parse error'}`);
    return undefined;
  }
}
