/**
 * The narrow client the runner (and the webhook) need from a cluster: cluster-wide lists, a few reads and
 * four conditional writes. The adapter behind it owns connections, retries and paging.
 */
import type { DesiredSecret, ObservedNamespace, ObservedSecret, ObservedServiceAccount } from '../reconcile/state.js';

/**
 * Which Secrets to list across all namespaces. `name` lists by `fieldSelector=metadata.name=<name>`, the
 * only list an identity restricted by RBAC `resourceNames` may make; `labelSelector` is for admin use.
 */
export type SecretQuery = { name: string } | { labelSelector: string };

/** What talking to one cluster cost so far. */
export interface ClusterStats {
  /** HTTP requests sent, each retry counted. */
  requests: number;
  /** Requests that were sent again after a transient failure (429, 5xx, reset, timeout). */
  retries: number;
  /** Connections opened (each a TCP+TLS handshake on HTTPS). */
  connections: number;
}

export interface ClusterClient {
  listNamespaces(): Promise<ObservedNamespace[]>;
  listSecrets(query: SecretQuery): Promise<ObservedSecret[]>;
  listServiceAccounts(): Promise<ObservedServiceAccount[]>;
  readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount>;
  /** A Secret's metadata; undefined when it does not exist. */
  readSecret(namespace: string, name: string): Promise<ObservedSecret | undefined>;
  /** A ConfigMap's data; undefined when it does not exist. */
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /**
   * Creates a Secret. `'exists'` when a Secret of that name is already there and is not this very one
   * (a create that was retried and finds its own earlier success counts as `'created'`).
   */
  createSecret(secret: DesiredSecret): Promise<'created' | 'exists'>;
  /** Replaces a Secret, failing with 409 if it changed since `resourceVersion`. */
  replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void>;
  /** Deletes a Secret, failing with 409 if it changed since `resourceVersion`; a Secret already gone counts as deleted. */
  deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void>;
  /** Sets imagePullSecrets, failing with 409 if the ServiceAccount changed since `resourceVersion`. */
  setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void>;
  /**
   * The same connections with a retry budget of their own, for one request of a long-lived caller (the
   * webhook), so that one request's faults do not use up the next one's retries.
   */
  forRequest?(): ClusterClient;
  readonly stats: ClusterStats;
  /** When the kubeconfig's credential stops working (token `exp`, certificate `notAfter`), epoch ms; undefined if unknown. */
  readonly credentialExpiresAt?: number | undefined;
  /** Releases the cluster's connections. */
  close(): void;
}
