/**
 * Least-privilege RAM policy for the function's role, derived from fleet.yaml: exactly the actions on
 * exactly the resources its registries, kubeconfigs and roles need. Pure.
 */
import type { Fleet, Registry } from '../config/resolve.js';

export interface Statement {
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '1';
  Statement: Statement[];
}

/**
 * The policy, plus notes on what it cannot cover (roles assumed elsewhere, ConfigMap registries). A fleet
 * larger than `shardSize` also needs `fc:InvokeFunction` on the function itself (and on nothing else), to
 * queue its shard invocations; `functionName` is the deployed function's name (s.yaml's default).
 */
export function functionPolicy(
  fleet: Fleet,
  accountId = '*',
  functionName = 'acr-fleet',
): { policy: PolicyDocument; notes: string[] } {
  const acc = new Map<string, Set<string>>();
  const allow = (action: string, resource: string) => acc.set(action, (acc.get(action) ?? new Set()).add(resource));
  const notes: string[] = [];
  const used = new Set(fleet.clusters.flatMap((c) => (c.settingsSource === 'configmap' ? [] : c.registries)));

  for (const r of fleet.registries.filter((x) => used.has(x.name))) registryStatements(r, accountId, allow, notes);
  for (const c of fleet.clusters) {
    const k = c.kubeconfig;
    if (k.kind === 'kms') allow('kms:GetSecretValue', `acs:kms:${k.regionId}:${accountId}:secret/${k.secretName}`);
    if (k.kind === 'ack')
      allow('cs:DescribeClusterUserKubeconfig', `acs:cs:${k.regionId}:${accountId}:cluster/${k.clusterId}`);
    if (c.settingsSource === 'configmap') {
      // Registries are read from the cluster at run time: the policy cannot name them.
      allow('cr:GetAuthorizationToken', `acs:cr:*:${accountId}:*`);
      allow('cr:ListInstanceEndpoint', `acs:cr:*:${accountId}:*`);
      notes.push(
        `cluster ${c.name}: settings: configmap: registries come from its ConfigMap, so CR access is granted on all instances; roles it assumes need sts:AssumeRole added by hand`,
      );
    }
  }
  if (fleet.clusters.length > fleet.shardSize)
    allow('fc:InvokeFunction', `acs:fc:${fleet.regionId ?? '*'}:${accountId}:functions/${functionName}`);
  // The webhook function (same role) reads the key its per-cluster URL secrets derive from. A ConfigMap
  // cluster may enable the webhook in its ConfigMap, so it counts as possibly enabled.
  const webhook = fleet.webhook;
  if (webhook && fleet.clusters.some((c) => c.webhook.enabled || c.settingsSource === 'configmap')) {
    allow('kms:GetSecretValue', `acs:kms:${webhook.regionId}:${accountId}:secret/${webhook.keySecret}`);
  }
  // One statement per action keeps the document readable and diffable.
  const Statement = [...acc.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([action, resources]) => ({ Effect: 'Allow' as const, Action: [action], Resource: [...resources].sort() }));
  return { policy: { Version: '1', Statement }, notes };
}

function registryStatements(
  r: Registry,
  accountId: string,
  allow: (a: string, res: string) => void,
  notes: string[],
): void {
  const { base, assumeRole } = r.credential;
  if (base.kind === 'accessKey')
    allow('kms:GetSecretValue', `acs:kms:${base.regionId}:${accountId}:secret/${base.kmsSecret}`);
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
 * GetAuthorizationToken on `repository/<instance>`, ListInstanceEndpoint on `instance/<instance>`
 * (only when domains are not configured). Personal Edition has no instance to name.
 */
function tokenGrants(r: Registry, accountId: string): [string, string][] {
  const prefix = `acs:cr:${r.regionId}:${accountId}:`;
  if (r.edition === 'personal') return [['cr:GetAuthorizationToken', `${prefix}*`]];
  const grants: [string, string][] = [['cr:GetAuthorizationToken', `${prefix}repository/${r.instanceId ?? ''}`]];
  if (!r.domains) grants.push(['cr:ListInstanceEndpoint', `${prefix}instance/${r.instanceId ?? ''}`]);
  return grants;
}
