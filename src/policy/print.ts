/**
 * What `acr-fleet policy` prints: the RAM policy of the function's role (stdout, JSON, for the ROS stack)
 * with, on stderr, what each cluster's Kubernetes RBAC allows and why; or, with `--kubernetes`, the RBAC
 * manifests themselves (stdout, YAML with every rule's reason, for `kubectl apply -f -`). Pure.
 */
import type { Fleet } from '../config/resolve.js';
import { operatorPolicy } from './operator.js';
import { functionPolicy, oversize, policyText, webhookClusters, webhookPolicy } from './ram.js';
import { explainRbac, IDENTITY, rbacManifest, rbacSettingsOf } from './rbac.js';

export interface PolicyOptions {
  accountId?: string;
  /** Print the clusters' RBAC manifests instead of the RAM policy. */
  kubernetes?: boolean;
  /** Print the webhook function's own RAM policy (its role, ACR_FLEET_WEBHOOK_ROLE_ARN) instead. */
  webhook?: boolean;
  /** Only these clusters' RBAC (all when absent). */
  clusters?: readonly string[];
  /** Print the operator's RAM policy (register of ACK clusters) instead of the function's. */
  operator?: boolean;
  /** The function's role (`--function-role-arn`, `$ACR_FLEET_FUNCTION_ROLE_ARN`): names it in the operator's policy. */
  functionRoleArn?: string;
  /** The deployed function's name (`$ACR_FLEET_FUNCTION_NAME`, as s.yaml takes it); default acr-fleet. */
  functionName?: string;
}

/** The command's output, or the one-line problem with its options. */
export function policyOutput(
  fleet: Fleet,
  opts: PolicyOptions,
): { stdout: string; stderr: string } | { error: string; code?: 1 } {
  if (opts.accountId !== undefined && !/^(\d+|\*)$/.test(opts.accountId))
    return {
      error: `--account-id: expected the account's numeric id, got ${JSON.stringify(opts.accountId.slice(0, 40))}`,
    };
  const unknown = (opts.clusters ?? []).filter((n) => !fleet.clusters.some((c) => c.name === n));
  if (unknown.length) return { error: `--cluster: no cluster named ${unknown.join(', ')} in ${fleet.file}` };
  const clusters = opts.clusters ? fleet.clusters.filter((c) => opts.clusters?.includes(c.name)) : fleet.clusters;
  if (opts.kubernetes) {
    const manifests = clusters.map((c) =>
      rbacManifest(rbacSettingsOf(c), [
        `cluster ${c.name}: what acr-fleet register applies there (from ${fleet.file}).`,
      ]),
    );
    return { stdout: manifests.join('---\n'), stderr: '' };
  }
  if (opts.kubernetes && opts.webhook) return { error: '--webhook and --kubernetes: choose one' };
  if (opts.webhook) {
    const { policy, notes } = webhookPolicy(fleet, opts.accountId);
    const tooBig = oversize(policy);
    if (tooBig) return { error: tooBig, code: 1 };
    const served = webhookClusters(fleet).map((c) => c.name);
    return {
      stdout: policyText(policy),
      stderr: [
        ...notes.map((n) => `note: ${n}`),
        `webhook: the role of ${opts.functionName ?? 'acr-fleet'}-webhook may read the webhook key and serve ${served.length ? served.join(', ') : 'no cluster'}; nothing else`,
      ]
        .map((l) => `${l}\n`)
        .join(''),
    };
  }
  if (opts.operator) {
    const document = operatorPolicy(fleet, opts.accountId, opts.functionRoleArn);
    const large = oversize(document);
    return large ? { error: large, code: 1 } : { stdout: policyText(document), stderr: '' };
  }
  const { policy, notes } = functionPolicy(fleet, opts.accountId, opts.functionName);
  const tooBig = oversize(policy);
  if (tooBig) return { error: tooBig, code: 1 };
  const rbac = clusters.flatMap((c) => [
    `kubernetes: cluster ${c.name}: ClusterRole ${IDENTITY.name} for ServiceAccount ${IDENTITY.namespace}/${IDENTITY.name} (applied by register; --kubernetes prints it) allows only:`,
    ...explainRbac(rbacSettingsOf(c)).map((l) => `  ${l}`),
  ]);
  return {
    stdout: policyText(policy),
    stderr: [...notes.map((n) => `note: ${n}`), ...rbac].map((l) => `${l}\n`).join(''),
  };
}
