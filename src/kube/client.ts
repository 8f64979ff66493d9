/**
 * ClusterPort over the cluster's KubeTransport: paged cluster-wide lists, name-scoped reads, and writes
 * that are safe to repeat. Every write carries a precondition (or is a create), so a retried write that
 * already took effect is recognised instead of being done twice:
 * - create → 409 AlreadyExists: our own Secret (label) is made to match and counts as created;
 *   anyone else's is reported as `'exists'`;
 * - replace → 409 Conflict: a Secret already as desired counts as replaced;
 * - delete → 404 NotFound, or 409 on a Secret that is gone: counts as deleted.
 *
 * With an admin kubeconfig (register, deregister) the same client installs acr-fleet's own objects
 * (any kind of the objects.ts table, one create-or-update for all), mints a ServiceAccount token and asks
 * what an identity may do.
 */
import type { KubeSettings } from '../config/resolve.js';
import { AcrFleetError, isConflict, isForbidden, isGone, isNotFound, KubeError } from '../errors.js';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type DesiredSecret,
  type ObservedNamespace,
  type ObservedSecret,
  type ObservedServiceAccount,
} from '../reconcile/state.js';
import {
  apiVersionOf,
  describeObject,
  isOurs,
  kindPath,
  objectPath,
  sameContent,
  type OwnedObject,
  type WriteResult,
} from './objects.js';
import type { ClusterPort, PortStats, SecretQuery } from './port.js';
import { KubeTransport, type Endpoint, type KubeRequest } from './transport.js';

/** Opens a cluster: builds its connection pool for the endpoint read from its kubeconfig. */
export function connectCluster(
  endpoint: Endpoint,
  settings: KubeSettings,
  credentialExpiresAt?: number,
): KubeClusterClient {
  const transport = new KubeTransport(endpoint, {
    maxConnections: settings.writeConcurrency,
    requestTimeoutMs: settings.requestTimeoutMs,
    retryBudgetMs: settings.retryBudgetMs,
  });
  return new KubeClusterClient(transport, settings.pageSize, credentialExpiresAt);
}

/** One `kubectl auth can-i` question. */
export interface AccessCheck {
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/**
 * A real request sent as the identity under test. Each is shaped to reveal nothing secret even if it is
 * wrongly allowed: lists ask for at most one item, a get asks for a Secret that should not exist.
 */
export type SecretProbe =
  { list: { fieldSelector?: string; labelSelector?: string } } | { get: { namespace: string; name: string } };

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
  items?: T[];
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

export class KubeClusterClient implements ClusterPort {
  constructor(
    private readonly http: KubeTransport,
    private readonly pageSize: number,
    readonly credentialExpiresAt?: number,
  ) {}

  get stats(): PortStats {
    return { ...this.http.stats };
  }

  close(): void {
    this.http.close();
  }

  /** The API server's address, TLS material and credential this client uses. */
  get endpoint(): Endpoint {
    return this.http.endpointInUse;
  }

  async listNamespaces(): Promise<ObservedNamespace[]> {
    return this.list<NamespaceBody, ObservedNamespace>('list namespaces', '/api/v1/namespaces', {}, (ns) => ({
      name: ns.metadata?.name ?? '',
      terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
    }));
  }

  async listSecrets(query: SecretQuery): Promise<ObservedSecret[]> {
    const selector: Record<string, string> =
      'name' in query ? { fieldSelector: `metadata.name=${query.name}` } : { labelSelector: query.labelSelector };
    return this.list<SecretBody, ObservedSecret>('list secrets', '/api/v1/secrets', selector, observeSecret);
  }

  async listServiceAccounts(): Promise<ObservedServiceAccount[]> {
    return this.list('list serviceaccounts', '/api/v1/serviceaccounts', {}, observeServiceAccount);
  }

  async readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount> {
    return observeServiceAccount(
      await this.http.request<ServiceAccountBody>({
        method: 'GET',
        path: path(namespace, 'serviceaccounts', name),
        what: `get serviceaccount ${namespace}/${name}`,
      }),
    );
  }

  async readSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    const s = await this.getSecret(namespace, name);
    return s && observeSecret(s);
  }

  async readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const cm = await orUndefinedOn404(
      this.http.request<{ data?: Record<string, string> }>({
        method: 'GET',
        path: path(namespace, 'configmaps', name),
        what: `get configmap ${namespace}/${name}`,
      }),
    );
    return cm && (cm.data ?? {});
  }

  async createSecret(secret: DesiredSecret): Promise<'created' | 'exists'> {
    const what = `create secret ${secret.namespace}/${secret.name}`;
    try {
      await this.http.request({
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
      await this.http.request(req);
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
      await this.http.request({
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
    await this.http.request({
      method: 'PATCH',
      path: path(namespace, 'serviceaccounts', name),
      contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion }, imagePullSecrets: names.map((n) => ({ name: n })) },
      what: `patch serviceaccount ${namespace}/${name}`,
    });
  }

  /**
   * Creates the object, or replaces it when it is ours and differs, as controller-runtime's CreateOrUpdate;
   * an object of that name without acr-fleet's label is never touched (`'notOurs'`).
   */
  async createOrUpdate(
    desired: OwnedObject,
  ): Promise<Extract<WriteResult, 'created' | 'updated' | 'unchanged' | 'notOurs'>> {
    const what = describeObject(desired);
    const current = await this.readObject(desired);
    if (!current) {
      await this.http.request({
        method: 'POST',
        path: kindPath(desired.kind, desired.metadata?.namespace),
        body: { apiVersion: apiVersionOf(desired.kind), ...desired },
        what: `create ${what}`,
      });
      return 'created';
    }
    if (!isOurs(current)) return 'notOurs';
    if (sameContent(current, desired)) return 'unchanged';
    await this.http.request({
      method: 'PUT',
      path: objectPath(desired),
      body: {
        apiVersion: apiVersionOf(desired.kind),
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion },
      },
      what: `replace ${what}`,
    });
    return 'updated';
  }

  /** Deletes the object when it is ours: `'unchanged'` when there is none, `'notOurs'` when it is not ours. */
  async remove(obj: OwnedObject): Promise<Extract<WriteResult, 'deleted' | 'unchanged' | 'notOurs'>> {
    const current = await this.readObject(obj);
    if (!current) return 'unchanged';
    if (!isOurs(current)) return 'notOurs';
    await this.http.request({ method: 'DELETE', path: objectPath(obj), what: `delete ${describeObject(obj)}` });
    return 'deleted';
  }

  /** A bound token for a ServiceAccount (TokenRequest). */
  async mintToken(namespace: string, name: string, expirationSeconds: number): Promise<string> {
    const what = `create token for serviceaccount ${namespace}/${name}`;
    const answer = await this.http.request<{ status?: { token?: string } } | undefined>({
      method: 'POST',
      path: `${path(namespace, 'serviceaccounts', name)}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [], expirationSeconds },
      },
      what,
    });
    const token = answer?.status?.token;
    if (!token) throw new AcrFleetError(`${what}: no token in the answer`);
    return token;
  }

  /** Asks the API server, as this client's identity, whether each check is allowed (SelfSubjectAccessReview). */
  async reviewAccess(checks: readonly AccessCheck[]): Promise<{ check: AccessCheck; allowed: boolean }[]> {
    return Promise.all(
      checks.map(async (check) => {
        const review = await this.http.request<{ status?: { allowed?: boolean } } | undefined>({
          method: 'POST',
          path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: check.verb,
                resource: check.resource,
                group: '',
                ...(check.namespace ? { namespace: check.namespace } : {}),
                ...(check.name ? { name: check.name } : {}),
              },
            },
          },
          what: `review access to ${check.verb} ${check.resource}`,
        });
        return { check, allowed: review?.status?.allowed === true };
      }),
    );
  }

  /**
   * Sends each probe as this client's identity: true when the API server authorized it (a get answered
   * 404 was authorized too), false when it answered 403. Any other failure throws.
   */
  async probeSecrets(probes: readonly SecretProbe[]): Promise<boolean[]> {
    return Promise.all(
      probes.map(async (probe) => {
        try {
          if ('list' in probe)
            await this.http.request({
              method: 'GET',
              path: '/api/v1/secrets',
              query: { ...probe.list, limit: 1 },
              what: 'list secrets',
            });
          else
            await this.http.request({
              method: 'GET',
              path: path(probe.get.namespace, 'secrets', probe.get.name),
              what: `get secret ${probe.get.namespace}/${probe.get.name}`,
            });
          return true;
        } catch (err) {
          if (isForbidden(err)) return false;
          if (isNotFound(err) && 'get' in probe) return true;
          throw err;
        }
      }),
    );
  }

  /** The object as the server holds it; undefined when there is none. */
  private readObject(obj: OwnedObject): Promise<OwnedObject | undefined> {
    return orUndefinedOn404(
      this.http.request<OwnedObject>({ method: 'GET', path: objectPath(obj), what: `get ${describeObject(obj)}` }),
    );
  }

  /** The RBAC grants `get` on Secrets by name (resourceNames): acr-fleet's own names only. */
  private getSecret(namespace: string, name: string): Promise<SecretBody | undefined> {
    return orUndefinedOn404(
      this.http.request<SecretBody>({
        method: 'GET',
        path: path(namespace, 'secrets', name),
        what: `get secret ${namespace}/${name}`,
      }),
    );
  }

  /**
   * A cluster-wide list read page by page. An expired continue token (410) restarts the list once from
   * the beginning, as client-go's pager falls back to a full list.
   */
  private async list<T, U>(
    what: string,
    base: string,
    selector: Record<string, string>,
    map: (item: T) => U,
  ): Promise<U[]> {
    for (let restarted = false; ; restarted = true) {
      const out: U[] = [];
      let next: string | undefined;
      try {
        do {
          const page: ListBody<T> = await this.http.request({
            method: 'GET',
            path: base,
            query: { ...selector, limit: this.pageSize, continue: next },
            what,
          });
          for (const item of page.items ?? []) out.push(map(item));
          next = page.metadata?.continue || undefined;
        } while (next);
        return out;
      } catch (err) {
        if (restarted || !(isGone(err) && next)) throw err;
      }
    }
  }
}

function path(namespace: string, resource: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

async function orUndefinedOn404<T>(p: Promise<T>): Promise<T | undefined> {
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
