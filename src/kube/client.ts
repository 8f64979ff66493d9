/**
 * ClusterClient over the cluster's KubeTransport: paged cluster-wide lists, name-scoped reads, and writes
 * that are safe to repeat. Every write carries a precondition (or is a create), so a retried write that
 * already took effect is recognised instead of being done twice:
 * - create → 409 AlreadyExists: our own Secret (label) is made to match and counts as created;
 *   anyone else's is reported as `'exists'`;
 * - replace → 409 Conflict: a Secret already as desired counts as replaced;
 * - delete → 404 NotFound, or 409 on a Secret that is gone: counts as deleted.
 *
 * admin.ts extends it with what register and deregister do with an admin kubeconfig.
 */
import type { KubeSettings } from '../config/resolve.js';
import { isConflict, isGone, isNotFound, KubeError } from '../errors.js';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type DesiredSecret,
  type ObservedNamespace,
  type ObservedSecret,
  type ObservedServiceAccount,
} from '../reconcile/state.js';
import type { ClusterClient, ClusterStats, SecretQuery } from './cluster-client.js';
import type { RetryBudget } from '../retry.js';
import { KubeTransport, type Endpoint, type KubeRequest } from './transport.js';

/** Opens a cluster: builds its connection pool for the endpoint read from its kubeconfig. */
export function connectCluster(
  endpoint: Endpoint,
  settings: KubeSettings,
  credentialExpiresAt?: number,
): KubeClusterClient {
  return new KubeClusterClient(transportFor(endpoint, settings), listLimitsOf(settings), credentialExpiresAt);
}

/** How much of a cluster-wide list is read before the cluster is judged too large (or endless). */
export interface ListLimits {
  pageSize: number;
  maxListPages: number;
  maxListItems: number;
}

export function listLimitsOf(settings: KubeSettings): ListLimits {
  return { pageSize: settings.pageSize, maxListPages: settings.maxListPages, maxListItems: settings.maxListItems };
}

/**
 * `Accept` of a list that needs only names, labels, annotations and resourceVersions: the server sends
 * metadata (PartialObjectMetadataList), so a big Secret someone else owns costs its metadata, not its data.
 */
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/** The cluster's connection pool, as fleet.yaml `kubernetes:` sizes it. */
export function transportFor(endpoint: Endpoint, settings: KubeSettings): KubeTransport {
  return new KubeTransport(endpoint, {
    maxConnections: settings.writeConcurrency,
    requestTimeoutMs: settings.requestTimeoutMs,
    retryBudgetMs: settings.retryBudgetMs,
    maxResponseBytes: settings.maxResponseBytes,
  });
}

interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}
interface ListBody<T> {
  metadata?: { continue?: string };
  /** `null` in a metadata-only answer with no items (the server never allocates the slice). */
  items?: T[] | null;
}
interface NamespaceBody {
  metadata?: Meta;
  status?: { phase?: string };
}
interface SecretBody {
  metadata?: Meta;
  type?: string;
  data?: Record<string, string>;
}
interface ServiceAccountBody {
  metadata?: Meta;
  imagePullSecrets?: { name?: string }[];
}

export class KubeClusterClient implements ClusterClient {
  constructor(
    protected readonly http: KubeTransport,
    private readonly limits: ListLimits,
    readonly credentialExpiresAt?: number,
    /** The retry budget requests are charged to; the transport's own (one per run) when absent. */
    private readonly budget?: RetryBudget,
  ) {}

  /** The same connections with a retry budget of their own: one webhook request's view of a cached cluster. */
  forRequest(): KubeClusterClient {
    return new KubeClusterClient(this.http, this.limits, this.credentialExpiresAt, this.http.newBudget());
  }

  /** Every request of this client goes here, charged to its budget. */
  protected send<T>(req: KubeRequest): Promise<T> {
    return this.http.request<T>(req, this.budget);
  }

  get stats(): ClusterStats {
    return { ...this.http.stats };
  }

  close(): void {
    this.http.close();
  }

  async listNamespaces(): Promise<ObservedNamespace[]> {
    // Metadata only: a Namespace being deleted has its deletionTimestamp set before its phase says Terminating.
    return this.list<NamespaceBody, ObservedNamespace>(
      'list namespaces',
      '/api/v1/namespaces',
      {},
      (ns) => ({
        name: ns.metadata?.name ?? '',
        terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
      }),
      METADATA_LIST,
    );
  }

  async listSecrets(query: SecretQuery): Promise<ObservedSecret[]> {
    const selector: Record<string, string> =
      'name' in query ? { fieldSelector: `metadata.name=${query.name}` } : { labelSelector: query.labelSelector };
    // The planner reads a listed Secret's labels, annotations and resourceVersion, never its data.
    return this.list<SecretBody, ObservedSecret>(
      'list secrets',
      '/api/v1/secrets',
      selector,
      observeSecret,
      METADATA_LIST,
    );
  }

  async listServiceAccounts(): Promise<ObservedServiceAccount[]> {
    return this.list('list serviceaccounts', '/api/v1/serviceaccounts', {}, observeServiceAccount);
  }

  async readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount> {
    return observeServiceAccount(await this.get<ServiceAccountBody>(namespace, 'serviceaccounts', name));
  }

  async readSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    const s = await this.getSecret(namespace, name);
    return s && observeSecret(s);
  }

  async readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const cm = await orUndefinedOn404(this.get<{ data?: Record<string, string> }>(namespace, 'configmaps', name));
    return cm && (cm.data ?? {});
  }

  async createSecret(secret: DesiredSecret): Promise<'created' | 'exists'> {
    const what = `create secret ${secret.namespace}/${secret.name}`;
    try {
      await this.send({
        method: 'POST',
        path: path(secret.namespace, 'secrets'),
        body: toSecretBody(secret),
        what,
      });
      return 'created';
    } catch (err) {
      if (!(isConflict(err) && err.reason === 'AlreadyExists')) throw err;
    }
    // Ours from an attempt that took effect (or a concurrent writer of ours, the webhook): make it match.
    const current = await this.getSecret(secret.namespace, secret.name);
    if (!current)
      throw new KubeError(`${what}: HTTP 409 AlreadyExists, then gone`, { status: 409, reason: 'Conflict' });
    if (current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return 'exists';
    if (!sameSecret(current, secret)) await this.replaceSecret(secret, current.metadata?.resourceVersion ?? '');
    return 'created';
  }

  async replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void> {
    const body = toSecretBody(secret);
    body.metadata = { ...body.metadata, resourceVersion };
    const req: KubeRequest = {
      method: 'PUT',
      path: path(secret.namespace, 'secrets', secret.name),
      body,
      what: `replace secret ${secret.namespace}/${secret.name}`,
    };
    try {
      await this.send(req);
    } catch (err) {
      if (!isConflict(err)) throw err;
      // A retried PUT whose first attempt took effect meets its own resourceVersion bump.
      const current = await this.getSecret(secret.namespace, secret.name);
      if (!current || !sameSecret(current, secret)) throw err;
    }
  }

  async deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void> {
    const what = `delete secret ${namespace}/${name}`;
    try {
      await this.send({
        method: 'DELETE',
        path: path(namespace, 'secrets', name),
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion } },
        what,
      });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err) && !(await this.getSecret(namespace, name))) return;
      throw err;
    }
  }

  async setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void> {
    // A merge patch replaces the whole list (so our order and others' entries are exactly as computed);
    // the resourceVersion in the body makes it conditional (409 if changed meanwhile), so it is safe to repeat.
    await this.send({
      method: 'PATCH',
      path: path(namespace, 'serviceaccounts', name),
      contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion }, imagePullSecrets: names.map((n) => ({ name: n })) },
      what: `patch serviceaccount ${namespace}/${name}`,
    });
  }

  /** The RBAC grants `get` on Secrets by name (resourceNames): acr-fleet's own names only. */
  private getSecret(namespace: string, name: string): Promise<SecretBody | undefined> {
    return orUndefinedOn404(this.get<SecretBody>(namespace, 'secrets', name));
  }

  /** GET of one namespaced object; `resource` is plural (`secrets`), named singular in errors. */
  private get<T>(namespace: string, resource: string, name: string): Promise<T> {
    return this.send<T>({
      method: 'GET',
      path: path(namespace, resource, name),
      what: `get ${resource.slice(0, -1)} ${namespace}/${name}`,
    });
  }

  /**
   * A cluster-wide list read page by page, within `maxListPages` and `maxListItems` (a server that pages
   * forever, or a cluster larger than configured, fails the cluster instead of the process). An expired
   * continue token (410) restarts the list once from the beginning, as client-go's pager falls back to a full list.
   */
  private async list<T, U>(
    what: string,
    base: string,
    selector: Record<string, string>,
    map: (item: T) => U,
    accept?: string,
  ): Promise<U[]> {
    const { pageSize, maxListPages, maxListItems } = this.limits;
    for (let restarted = false; ; restarted = true) {
      const out: U[] = [];
      let next: string | undefined;
      let pages = 0;
      try {
        do {
          if (pages++ === maxListPages)
            throw capError(what, `more than kubernetes.maxListPages (${maxListPages}) pages`, 'TooManyPages');
          const page: ListBody<T> = await this.send({
            method: 'GET',
            path: base,
            query: { ...selector, limit: pageSize, continue: next },
            ...(accept ? { accept } : {}),
            what,
          });
          for (const item of page.items ?? []) {
            if (out.length === maxListItems)
              throw capError(what, `more than kubernetes.maxListItems (${maxListItems}) items`, 'TooManyItems');
            out.push(map(item));
          }
          next = page.metadata?.continue || undefined;
        } while (next);
        return out;
      } catch (err) {
        if (restarted || !(isGone(err) && next)) throw err;
      }
    }
  }
}

/** A list past one of its caps: final, naming the setting that raises it. */
function capError(what: string, past: string, reason: string): KubeError {
  return new KubeError(`${what}: ${past}; raise it in fleet.yaml if the cluster is that large`, { status: 0, reason });
}

/** `/api/v1/namespaces/NS/RESOURCE[/NAME]`, each part encoded. */
export function path(namespace: string, resource: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** The answer, or undefined when the server said 404. */
export async function orUndefinedOn404<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The Secret holds what acr-fleet would write: same type, data and acr-fleet annotations. */
function sameSecret(current: SecretBody, desired: DesiredSecret): boolean {
  const annotations = current.metadata?.annotations ?? {};
  return (
    current.type === desired.type &&
    sameMap(current.data ?? {}, desired.data) &&
    Object.entries(desired.annotations).every(([k, v]) => annotations[k] === v) &&
    Object.entries(desired.labels).every(([k, v]) => current.metadata?.labels?.[k] === v)
  );
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function observeSecret(s: SecretBody): ObservedSecret {
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    resourceVersion: s.metadata?.resourceVersion ?? '',
    annotations: s.metadata?.annotations ?? {},
    owned: s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE,
  };
}

function observeServiceAccount(sa: ServiceAccountBody): ObservedServiceAccount {
  return {
    namespace: sa.metadata?.namespace ?? '',
    name: sa.metadata?.name ?? '',
    resourceVersion: sa.metadata?.resourceVersion ?? '',
    imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => r.name ?? ''),
  };
}

function toSecretBody(s: DesiredSecret): SecretBody & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: s.name, namespace: s.namespace, labels: s.labels, annotations: s.annotations },
    type: s.type,
    data: s.data,
  };
}
