/**
 * The RAM policy of the operator who runs `register --ack-cluster-id` / `register --discovered` (and
 * `deregister` of ACK clusters): a second document, next to the function's. Pure.
 *
 * The operator reads the function role's id (RAM GetRole), fetches a temporary kubeconfig of each ACK cluster
 * for its own identity (CS DescribeClusterUserKubeconfig), reads and replaces the role's RBAC grants (CS
 * DescribeUserPermission, GrantPermissions), lists clusters for `discovery:`, and reads the webhook key when
 * a cluster gets the webhook. RAM action names are the ones the API references give (`cs:GrantPermission`,
 * `cs:GetUserPermissions`, `cs:GetClusters`). GrantPermissions also needs the operator to be an RBAC
 * administrator of each cluster in ACK (the console's Authorizations page): RAM cannot express that.
 */
import type { Fleet } from '../config/resolve.js';
import { discoveryStatements, type PolicyDocument } from './ram.js';

export function operatorPolicy(fleet: Fleet, accountId = '*', functionRoleArn?: string): PolicyDocument {
  const acc = new Map<string, Set<string>>();
  const allow = (action: string, resource: string) => acc.set(action, (acc.get(action) ?? new Set()).add(resource));
  const role = functionRoleArn?.replace(/^acs:ram::\d+:role\//, '') ?? '*';
  allow('ram:GetRole', `acs:ram:*:${accountId}:role/${role}`);
  allow('cs:GetUserPermissions', `acs:cs:*:${accountId}:cluster/*`);
  allow('cs:GrantPermission', `acs:cs:*:${accountId}:cluster/*`);
  const ack = fleet.clusters.flatMap((c) => (c.kubeconfig.kind === 'ack' ? [c.kubeconfig] : []));
  for (const k of ack)
    allow('cs:DescribeClusterUserKubeconfig', `acs:cs:${k.regionId}:${accountId}:cluster/${k.clusterId}`);
  discoveryStatements(fleet, accountId, allow);
  // To look up a cluster `register --ack-cluster-id` names (its ACK name), and to find the discovered ones.
  allow('cs:GetClusters', `acs:cs:*:${accountId}:cluster/*`);
  const webhook = fleet.webhook;
  if (webhook && fleet.clusters.some((c) => c.kubeconfig.kind === 'ack' && c.webhook.enabled))
    allow('kms:GetSecretValue', `acs:kms:${webhook.regionId}:${accountId}:secret/${webhook.keySecret}`);
  const Statement = [...acc.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([action, resources]) => ({ Effect: 'Allow' as const, Action: [action], Resource: [...resources].sort() }));
  return { Version: '1', Statement };
}
