/**
 * What guards `register` and `deregister` (issue 17): the refusal that exits 2 with nothing touched, the
 * plan a `--dry-run` prints (and a terminal is asked to confirm), and deregister's identity check.
 *
 * The identity check compares the cluster behind the admin kubeconfig with the one fleet.yaml's stored
 * kubeconfig (KMS, file or ACK) reaches: the API server URL and the CA. Why not a marker register leaves in
 * the cluster (a ServiceAccount uid, an annotation): a marker lives in the cluster the admin kubeconfig
 * reaches, so it can only say which name that cluster was registered under, and clusters registered before
 * the marker have none; the stored kubeconfig is what every refresh of that name actually talks to, so a
 * match proves the deregistered cluster is the one the fleet knows by that name.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Cluster } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';
import { readKubeconfig } from '../kube/kubeconfig.js';
import type { Endpoint } from '../kube/transport.js';

/** Refused before anything was written: exit 2 in the CLI. */
export class RefusedError extends AcrFleetError {
  override readonly name = 'RefusedError';
}

/** The user answered no: nothing was written. */
export class AbortedError extends AcrFleetError {
  override readonly name = 'AbortedError';
}

/** One change `register`/`deregister` would make; `unchanged` entries are listed too, as in a refresh plan. */
export interface FlowPlanEntry {
  action: 'create' | 'update' | 'delete' | 'patch' | 'mint' | 'store' | 'unchanged' | 'skip';
  /** `clusterrole acr-fleet`, `kms secret acr-fleet/new-1`, `fleet.yaml`. */
  what: string;
  reason?: string;
}

/** Deletes and patches a confirmation must cover. */
export function destructive(plan: readonly FlowPlanEntry[]): FlowPlanEntry[] {
  return plan.filter((e) => e.action === 'delete' || e.action === 'patch');
}

/** A cluster's identity as TLS sees it: the API server (origin and path) and its CA's fingerprint. */
export interface ClusterIdentity {
  server: string;
  ca: string;
}

/** The identity of an endpoint (the admin kubeconfig's) or of stored kubeconfig text. */
export function identityOf(server: string, ca: string | Buffer | (string | Buffer)[] | undefined): ClusterIdentity {
  let normalized = server;
  try {
    const url = new URL(server);
    normalized = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    // compared as written
  }
  const pem = ca === undefined ? '' : Array.isArray(ca) ? ca.map(String).join('\n') : String(ca);
  return { server: normalized, ca: fingerprint(pem) };
}

export function endpointIdentity(endpoint: Endpoint): ClusterIdentity {
  return identityOf(endpoint.server, endpoint.tls.ca);
}

function fingerprint(pem: string): string {
  if (!pem.trim()) return 'none (system CAs)';
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return pem.replace(/\s+/g, '');
  }
}

/** How the stored kubeconfig of a fleet.yaml cluster is fetched (injected: KMS and ACK are cloud calls). */
export interface StoredKubeconfigFetchers {
  kmsSecret(regionId: string, secretName: string): Promise<string>;
  ackKubeconfig(regionId: string, clusterId: string, privateIpAddress: boolean): Promise<string>;
}

/** Where the cluster's stored kubeconfig is, as the user knows it. */
export function storedSource(cluster: Cluster): string {
  const k = cluster.kubeconfig;
  return k.kind === 'kms'
    ? `kms secret ${k.secretName}`
    : k.kind === 'file'
      ? `file ${k.display}`
      : `ACK cluster ${k.clusterId}`;
}

/** The identity fleet.yaml's stored kubeconfig of `cluster` reaches (read-only). */
export async function storedIdentity(
  cluster: Cluster,
  fetchers: StoredKubeconfigFetchers,
  onSecret?: (value: string) => void,
): Promise<ClusterIdentity> {
  const k = cluster.kubeconfig;
  const source = storedSource(cluster);
  const text =
    k.kind === 'kms'
      ? await fetchers.kmsSecret(k.regionId, k.secretName)
      : k.kind === 'file'
        ? await readFile(k.path, 'utf8')
        : await fetchers.ackKubeconfig(k.regionId, k.clusterId, k.privateIpAddress);
  // A kubeconfig from KMS or ACK is data, read as the refresh reads it: no file of this machine, no plugin.
  const context = readKubeconfig(text, source, {
    ...(k.kind === 'file' ? {} : { data: { allowPrivateAddress: k.allowPrivateAddress } }),
    onSecret,
  });
  return identityOf(context.server, context.ca);
}
