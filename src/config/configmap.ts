/**
 * Migration from the in-cluster add-on: the keys of its `kube-system/acr-configuration` ConfigMap,
 * applied as the add-on applies them, for clusters set to `settings: configmap`. Keys acr-fleet cannot
 * honour safely (inline AccessKeys) are reported, never used. Pure: the caller reads the ConfigMap.
 */
import yaml from 'js-yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseDuration } from './duration.js';
import { INLINE_ACCESS_KEYS } from './schema.js';
import {
  splitList,
  type CredentialSpec,
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

/** Parses an acr-configuration ConfigMap's `data`. Throws ConfigError (named `source`) listing every problem. */
export function parseAcrConfiguration(
  data: Record<string, string>,
  source: string,
  ctx: ConfigMapContext,
): { settings: ConfigMapSettings; registries: Registry[] } {
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
  const registries = parseRegistries(data['acr-registry-info'], rrsa, ctx, problem);
  if (problems.length) throw new ConfigError(source, problems);
  return { settings, registries };
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
  ctx: ConfigMapContext,
  problem: (k: string, m: string) => void,
): Registry[] {
  // Without acr-registry-info the add-on serves the Personal Edition registry of the cluster's region.
  if (text === undefined || !text.trim()) return [registry(ctx, 0, { instanceId: '' }, { base: { kind: 'default' } })];
  const doc = parseEmbedded(text, 'acr-registry-info', problem);
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) {
    problem('acr-registry-info', 'expected a YAML list of instances (- instanceId: ...)');
    return [];
  }
  const out: Registry[] = [];
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
      return v.trim();
    };
    const instanceId = str('instanceId') ?? '';
    if (instanceId && !/^cri-[A-Za-z0-9]+$/.test(instanceId))
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
    const base: CredentialSpec['base'] =
      rrsa && rrsaRoleARN && providerArn
        ? { kind: 'rrsa', roleArn: rrsaRoleARN, providerArn, tokenFile: ctx.oidcTokenFile ?? '' }
        : { kind: 'default' };
    const credential: CredentialSpec = {
      base,
      ...(assumeRoleARN ? { assumeRole: { roleArn: assumeRoleARN, durationSeconds: duration ?? 3600 } } : {}),
    };
    out.push(registry(ctx, i, { instanceId, regionId: str('regionId'), domains }, credential));
  });
  return out;
}

function registry(
  ctx: ConfigMapContext,
  i: number,
  e: { instanceId: string; regionId?: string | undefined; domains?: string[] | undefined },
  credential: CredentialSpec,
): Registry {
  return {
    name: `${ctx.clusterName}/acr-registry-info[${i}]`,
    edition: e.instanceId ? 'enterprise' : 'personal',
    ...(e.instanceId ? { instanceId: e.instanceId } : {}),
    regionId: e.regionId || ctx.regionId,
    ...(e.domains?.length ? { domains: e.domains } : {}),
    credential,
  };
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
