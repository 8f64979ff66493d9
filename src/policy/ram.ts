/**
 * Least-privilege RAM policies derived from fleet.yaml: exactly the actions on exactly the resources its
 * registries, kubeconfigs and roles need, one for the timer function's role and a smaller one for the webhook
 * function's own role. Pure.
 */
import type { Fleet, Registry } from '../config/resolve.js';
import { networkFunctionName } from '../config/networks.js';

export interface Statement {
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '1';
  Statement: Statement[];
}

/** RAM's limit on one policy document, in characters. */
export const RAM_POLICY_MAX_CHARS = 6144;

/**
 * The policy, plus notes on what it cannot cover (roles assumed elsewhere). A fleet larger than `shardSize`
 * also needs `fc:InvokeFunction` on the function itself (and on nothing else), to queue its shard
 * invocations; `functionName` is the deployed function's name (s.yaml's default).
 *
 * Every resource is named: Enterprise Edition instances (also those a `settings: configmap` cluster's
 * ConfigMap may pick, from its `configmap.registries`), KMS secrets, ACK clusters, roles. Only when that
 * document is over RAM's limit, KMS secrets that share a folder-like prefix in one region (`acr-fleet/…`,
 * register's default) become one pattern (`secret/acr-fleet/*`), so the document does not grow with the fleet.
 */
export function functionPolicy(
  fleet: Fleet,
  accountId = '*',
  functionName = 'acr-fleet',
): { policy: PolicyDocument; notes: string[] } {
  return policyOf(fleet, fleet.clusters, accountId, functionName);
}

/** Clusters the webhook may serve: those with it enabled, and ConfigMap clusters (their ConfigMap may enable it). */
export function webhookClusters(fleet: Fleet): Fleet['clusters'] {
  return fleet.clusters.filter((c) => c.webhook.enabled || c.settingsSource === 'configmap');
}

/**
 * The policy of the webhook function's own role (issue 15: the internet-facing function gets a smaller
 * identity): the webhook key, and for the clusters it serves only, their kubeconfigs and their registries'
 * tokens. Nothing for any other cluster, no shard dispatch. Empty when no cluster may use the webhook.
 */
export function webhookPolicy(fleet: Fleet, accountId = '*'): { policy: PolicyDocument; notes: string[] } {
  return policyOf(fleet, webhookClusters(fleet), accountId, undefined);
}

/** What serving `clusters` takes; `functionName` (the timer's) adds shard dispatch for a fleet past one shard. */
function policyOf(
  fleet: Fleet,
  clusters: Fleet['clusters'],
  accountId: string,
  functionName: string | undefined,
): { policy: PolicyDocument; notes: string[] } {
  const acc = new Map<string, Set<string>>();
  const allow = (action: string, resource: string) => acc.set(action, (acc.get(action) ?? new Set()).add(resource));
  const notes: string[] = [];
  const used = new Set(
    clusters.flatMap((c) => (c.settingsSource === 'configmap' ? (c.configmapRegistries ?? []) : c.registries)),
  );
  const secrets: { regionId: string; name: string }[] = [];
  const secret = (regionId: string, name: string) => secrets.push({ regionId, name });

  for (const r of fleet.registries.filter((x) => used.has(x.name)))
    registryStatements(r, accountId, allow, secret, notes);
  for (const c of clusters) {
    const k = c.kubeconfig;
    if (k.kind === 'kms') secret(k.regionId, k.secretName);
    if (k.kind === 'ack')
      allow('cs:DescribeClusterUserKubeconfig', `acs:cs:${k.regionId}:${accountId}:cluster/${k.clusterId}`);
  }
  if (functionName !== undefined) discoveryStatements(fleet, accountId, allow);
  // Every function of the deploy queues the next invocation of its chain, in any of them (fleet/dispatch.ts).
  const networks = new Set(fleet.clusters.flatMap((c) => (c.network ? [c.network] : [])));
  if (functionName !== undefined && (fleet.clusters.length > fleet.shardSize || networks.size)) {
    if (fleet.clusters.some((c) => !c.network))
      allow('fc:InvokeFunction', `acs:fc:${fleet.regionId ?? '*'}:${accountId}:functions/${functionName}`);
    for (const n of [...networks].sort()) {
      const region = fleet.networks?.[n]?.region ?? fleet.regionId ?? '*';
      allow('fc:InvokeFunction', `acs:fc:${region}:${accountId}:functions/${networkFunctionName(functionName, n)}`);
    }
  }
  // The webhook function (its own role) reads the key its per-cluster URL secrets derive from; the timer never
  // does. A ConfigMap cluster may enable the webhook in its ConfigMap, so it counts as possibly enabled.
  const webhook = fleet.webhook;
  if (webhook && functionName === undefined && webhookClusters({ ...fleet, clusters }).length) {
    secret(webhook.regionId, webhook.keySecret);
  }
  // One statement per action keeps the document readable and diffable.
  const document = (kms: string[]): PolicyDocument => {
    const all = new Map(acc);
    if (kms.length) all.set('kms:GetSecretValue', new Set(kms));
    const Statement = [...all.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([action, resources]) => ({ Effect: 'Allow' as const, Action: [action], Resource: [...resources].sort() }));
    return { Version: '1', Statement };
  };
  // Each secret by name while the document fits RAM's limit; past it, shared prefixes become patterns.
  const named = document(secretResources(secrets, accountId, false));
  if (policyText(named).length <= RAM_POLICY_MAX_CHARS) return { policy: named, notes };
  const patterns = secretResources(secrets, accountId, true);
  for (const pattern of patterns.filter((r) => r.endsWith('/*'))) {
    const covered = webhook && `acs:kms:${webhook.regionId}:${accountId}:secret/${webhook.keySecret}`;
    if (covered && !patterns.includes(covered) && globCovers(pattern, covered))
      notes.push(`${pattern} also covers the webhook key ${webhook.keySecret}`);
  }
  return { policy: document(patterns), notes };
}

/**
 * `discovery:` lists clusters each run: CS DescribeClustersV1 (RAM action `cs:GetClusters`, on every cluster
 * of the account: the API takes no narrower resource) and ADCP DescribeManagedClusters on each fleet instance.
 */
export function discoveryStatements(
  fleet: Pick<Fleet, 'discovery'>,
  accountId: string,
  allow: (action: string, resource: string) => void,
): void {
  for (const s of fleet.discovery ?? []) {
    if (s.kind === 'ack') allow('cs:GetClusters', `acs:cs:*:${accountId}:cluster/*`);
    else
      allow(
        'adcp:DescribeManagedClusters',
        `acs:adcp:${s.regions[0] ?? '*'}:${accountId}:hubcluster/${s.hubClusterId ?? ''}`,
      );
  }
}

const globCovers = (pattern: string, arn: string) => arn.startsWith(pattern.slice(0, -1));

/**
 * KMS secret ARNs, each by name; with `patterns`, secrets of one region that share a prefix ending in "/"
 * (two or more of them) are one `secret/<prefix>*` pattern.
 */
function secretResources(
  secrets: readonly { regionId: string; name: string }[],
  accountId: string,
  patterns: boolean,
): string[] {
  if (!patterns) return [...new Set(secrets.map((x) => `acs:kms:${x.regionId}:${accountId}:secret/${x.name}`))];
  const groups = new Map<string, Set<string>>();
  for (const { regionId, name } of secrets) {
    const slash = name.indexOf('/');
    const key = `${regionId}\n${slash > 0 ? name.slice(0, slash + 1) : name}`;
    groups.set(key, (groups.get(key) ?? new Set()).add(name));
  }
  return [...groups.entries()].flatMap(([key, names]) => {
    const [regionId, prefix] = key.split('\n') as [string, string];
    const arn = (n: string) => `acs:kms:${regionId}:${accountId}:secret/${n}`;
    return prefix.endsWith('/') && names.size > 1 ? [arn(`${prefix}*`)] : [...names].map(arn);
  });
}

/** The document as `acr-fleet policy` prints it, and what RAM counts. */
export function policyText(policy: PolicyDocument): string {
  return `${JSON.stringify(policy, null, 2)}\n`;
}

/** Why a document is over RAM's limit: its biggest statement. */
export function oversize(policy: PolicyDocument): string | undefined {
  const size = policyText(policy).length;
  if (size <= RAM_POLICY_MAX_CHARS) return undefined;
  const biggest = [...policy.Statement].sort((a, b) => b.Resource.length - a.Resource.length)[0];
  const hint =
    biggest?.Action[0] === 'kms:GetSecretValue'
      ? "; keep kubeconfig secrets under one prefix (register's default acr-fleet/NAME) to make them one pattern"
      : '';
  return `the RAM policy would be ${size} characters, more than RAM's limit of ${RAM_POLICY_MAX_CHARS} for one policy document (${biggest?.Action.join(', ') ?? ''}: ${biggest?.Resource.length ?? 0} resources)${hint}`;
}

function registryStatements(
  r: Registry,
  accountId: string,
  allow: (a: string, res: string) => void,
  secret: (regionId: string, name: string) => void,
  notes: string[],
): void {
  const { base, assumeRole } = r.credential;
  if (base.kind === 'accessKey') secret(base.regionId, base.kmsSecret);
  if (assumeRole && base.kind === 'default') allow('sts:AssumeRole', assumeRole.roleArn);
  if (assumeRole || base.kind !== 'default') {
    const who = assumeRole
      ? `role ${assumeRole.roleArn}`
      : base.kind === 'rrsa'
        ? `RRSA role ${base.roleArn}`
        : `the AccessKey in ${base.kind === 'accessKey' ? base.kmsSecret : ''}`;
    notes.push(
      `registry ${r.name}: ${who} needs ${tokenGrants(r, '*')
        .map(([a, res]) => `${a} on ${res}`)
        .join(' and ')}`,
    );
    return;
  }
  for (const [action, resource] of tokenGrants(r, accountId)) allow(action, resource);
}

/**
 * What fetching a registry's token takes, with the resource types of CR's authorization tables:
 * GetAuthorizationToken on `repository/<instance>` (its documented resource, "Repository (instance scope)"),
 * ListInstanceEndpoint on `instance/<instance>` (only when domains are not configured). Personal Edition
 * has no instance to name: its token is granted on the account's registry of the region.
 */
function tokenGrants(r: Registry, accountId: string): [string, string][] {
  const prefix = `acs:cr:${r.regionId}:${accountId}:`;
  if (r.edition === 'personal') return [['cr:GetAuthorizationToken', `${prefix}*`]];
  const grants: [string, string][] = [['cr:GetAuthorizationToken', `${prefix}repository/${r.instanceId ?? ''}`]];
  if (!r.domains) grants.push(['cr:ListInstanceEndpoint', `${prefix}instance/${r.instanceId ?? ''}`]);
  return grants;
}
