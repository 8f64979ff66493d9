/**
 * The narrow port the runner needs from a cluster: three cluster-wide lists and four writes.
 */
import type { DesiredSecret, ObservedNamespace, ObservedSecret, ObservedServiceAccount } from '../reconcile/state.js';

export interface ClusterPort {
  listNamespaces(): Promise<ObservedNamespace[]>;
  /** Secrets carrying the label selector, across all namespaces. */
  listSecrets(labelSelector: string): Promise<ObservedSecret[]>;
  listServiceAccounts(): Promise<ObservedServiceAccount[]>;
  readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount>;
  /** A ConfigMap's data; undefined when it does not exist. */
  readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Creates a Secret; `'exists'` when a Secret of that name is already there (409 AlreadyExists). */
  createSecret(secret: DesiredSecret): Promise<'created' | 'exists'>;
  /** Replaces a Secret, failing with 409 if it changed since `resourceVersion`. */
  replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void>;
  /** Deletes a Secret, failing with 409 if it changed since `resourceVersion`. */
  deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void>;
  /** Sets imagePullSecrets, failing with 409 if the ServiceAccount changed since `resourceVersion`. */
  setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void>;
  /** Requests sent so far (each retry counts). */
  readonly requests: number;
}
