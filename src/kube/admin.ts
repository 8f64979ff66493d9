/**
 * What `register` and `deregister` do with an admin kubeconfig: create, update and delete acr-fleet's own
 * RBAC objects (only those carrying its label), mint a ServiceAccount token, and ask the API server what
 * an identity may do (SelfSubjectAccessReview). The admin kubeconfig is used in memory only.
 */
import { readFile } from 'node:fs/promises';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1MutatingWebhookConfiguration,
  type V1Role,
  type V1RoleBinding,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { AcrFleetError, KubeError } from '../errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../reconcile/state.js';
import { networkError, statusError } from './transport.js';

/** The RBAC kinds acr-fleet installs. */
export type OwnedObject =
  | ({ kind: 'ServiceAccount' } & V1ServiceAccount)
  | ({ kind: 'ClusterRole' } & V1ClusterRole)
  | ({ kind: 'ClusterRoleBinding' } & V1ClusterRoleBinding)
  | ({ kind: 'Role' } & V1Role)
  | ({ kind: 'RoleBinding' } & V1RoleBinding)
  | ({ kind: 'MutatingWebhookConfiguration' } & V1MutatingWebhookConfiguration);

export type ApplyResult = 'created' | 'updated' | 'unchanged' | 'not ours: left alone';

/** One `kubectl auth can-i` question. */
export interface AccessCheck {
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export class ClusterAdmin {
  private readonly core: CoreV1Api;
  private readonly rbac: RbacAuthorizationV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(private readonly kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  /** Creates the object, or replaces it when it is ours and differs; never touches one without our label. */
  async apply(obj: OwnedObject): Promise<ApplyResult> {
    const what = describeObject(obj);
    const current = await this.readIfExists(obj, what);
    if (!current) {
      await call(`create ${what}`, () => this.create(obj));
      return 'created';
    }
    if (current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return 'not ours: left alone';
    if (sameContent(current, obj)) return 'unchanged';
    const body = {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: current.metadata?.resourceVersion },
    } as OwnedObject;
    await call(`replace ${what}`, () => this.replace(body));
    return 'updated';
  }

  /** Deletes the object when it is ours; 'absent' or 'not ours: left alone' otherwise. */
  async remove(obj: OwnedObject): Promise<'deleted' | 'absent' | 'not ours: left alone'> {
    const what = describeObject(obj);
    const current = await this.readIfExists(obj, what);
    if (!current) return 'absent';
    if (current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return 'not ours: left alone';
    await call(`delete ${what}`, () => this.delete(obj));
    return 'deleted';
  }

  /** A bound token for a ServiceAccount (TokenRequest). */
  async mintToken(namespace: string, name: string, expirationSeconds: number): Promise<string> {
    const tr = await call(`create token for serviceaccount ${namespace}/${name}`, () =>
      this.core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [], expirationSeconds } },
      }),
    );
    const token = tr.status?.token;
    if (!token) throw new AcrFleetError(`create token for serviceaccount ${namespace}/${name}: no token in the answer`);
    return token;
  }

  /** A kubeconfig for the same API server that authenticates with `token` only. */
  async kubeconfigFor(token: string, clusterName: string): Promise<string> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new AcrFleetError('admin kubeconfig has no current cluster');
    const ca = cluster.caData ?? (cluster.caFile ? (await readFile(cluster.caFile)).toString('base64') : undefined);
    return yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: clusterName,
          cluster: {
            server: cluster.server,
            ...(ca ? { 'certificate-authority-data': ca } : {}),
            ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
            ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
          },
        },
      ],
      users: [{ name: 'acr-fleet', user: { token } }],
      contexts: [{ name: clusterName, context: { cluster: clusterName, user: 'acr-fleet' } }],
      'current-context': clusterName,
    });
  }

  private readIfExists(obj: OwnedObject, what: string) {
    return call(`get ${what}`, () => this.read(obj)).catch((err: unknown) => {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    });
  }

  private read(o: OwnedObject) {
    const name = o.metadata?.name ?? '';
    const namespace = o.metadata?.namespace ?? '';
    switch (o.kind) {
      case 'ServiceAccount':
        return this.core.readNamespacedServiceAccount({ name, namespace });
      case 'ClusterRole':
        return this.rbac.readClusterRole({ name });
      case 'ClusterRoleBinding':
        return this.rbac.readClusterRoleBinding({ name });
      case 'Role':
        return this.rbac.readNamespacedRole({ name, namespace });
      case 'RoleBinding':
        return this.rbac.readNamespacedRoleBinding({ name, namespace });
      case 'MutatingWebhookConfiguration':
        return this.admission.readMutatingWebhookConfiguration({ name });
    }
  }

  private create(o: OwnedObject): Promise<unknown> {
    const namespace = o.metadata?.namespace ?? '';
    switch (o.kind) {
      case 'ServiceAccount':
        return this.core.createNamespacedServiceAccount({ namespace, body: o });
      case 'ClusterRole':
        return this.rbac.createClusterRole({ body: o });
      case 'ClusterRoleBinding':
        return this.rbac.createClusterRoleBinding({ body: o });
      case 'Role':
        return this.rbac.createNamespacedRole({ namespace, body: o });
      case 'RoleBinding':
        return this.rbac.createNamespacedRoleBinding({ namespace, body: o });
      case 'MutatingWebhookConfiguration':
        return this.admission.createMutatingWebhookConfiguration({ body: o });
    }
  }

  private replace(o: OwnedObject): Promise<unknown> {
    const name = o.metadata?.name ?? '';
    const namespace = o.metadata?.namespace ?? '';
    switch (o.kind) {
      case 'ServiceAccount':
        return this.core.replaceNamespacedServiceAccount({ name, namespace, body: o });
      case 'ClusterRole':
        return this.rbac.replaceClusterRole({ name, body: o });
      case 'ClusterRoleBinding':
        return this.rbac.replaceClusterRoleBinding({ name, body: o });
      case 'Role':
        return this.rbac.replaceNamespacedRole({ name, namespace, body: o });
      case 'RoleBinding':
        return this.rbac.replaceNamespacedRoleBinding({ name, namespace, body: o });
      case 'MutatingWebhookConfiguration':
        return this.admission.replaceMutatingWebhookConfiguration({ name, body: o });
    }
  }

  private delete(o: OwnedObject): Promise<unknown> {
    const name = o.metadata?.name ?? '';
    const namespace = o.metadata?.namespace ?? '';
    switch (o.kind) {
      case 'ServiceAccount':
        return this.core.deleteNamespacedServiceAccount({ name, namespace });
      case 'ClusterRole':
        return this.rbac.deleteClusterRole({ name });
      case 'ClusterRoleBinding':
        return this.rbac.deleteClusterRoleBinding({ name });
      case 'Role':
        return this.rbac.deleteNamespacedRole({ name, namespace });
      case 'RoleBinding':
        return this.rbac.deleteNamespacedRoleBinding({ name, namespace });
      case 'MutatingWebhookConfiguration':
        return this.admission.deleteMutatingWebhookConfiguration({ name });
    }
  }
}

/** Asks the API server, as the identity of `kc`, whether each check is allowed. */
export async function accessReview(
  kc: KubeConfig,
  checks: readonly AccessCheck[],
): Promise<{ check: AccessCheck; allowed: boolean }[]> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  return Promise.all(
    checks.map(async (check) => {
      const review = await call(`review access to ${check.verb} ${check.resource}`, () =>
        api.createSelfSubjectAccessReview({
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
        }),
      );
      return { check, allowed: review.status?.allowed === true };
    }),
  );
}

/**
 * A real request sent as the identity under test. Each is shaped to reveal nothing secret even if it is
 * wrongly allowed: lists ask for at most one item, a get asks for a Secret that should not exist.
 */
export type SecretProbe =
  { list: { fieldSelector?: string; labelSelector?: string } } | { get: { namespace: string; name: string } };

/**
 * Sends each probe as the identity of `kc`: true when the API server authorized it (a get answered 404
 * was authorized too), false when it answered 403. Any other failure throws.
 */
export async function probeSecrets(kc: KubeConfig, probes: readonly SecretProbe[]): Promise<boolean[]> {
  const core = kc.makeApiClient(CoreV1Api);
  return Promise.all(
    probes.map(async (p) => {
      try {
        if ('list' in p) await call('list secrets', () => core.listSecretForAllNamespaces({ ...p.list, limit: 1 }));
        else await call(`get secret ${p.get.namespace}/${p.get.name}`, () => core.readNamespacedSecret(p.get));
        return true;
      } catch (err) {
        if (err instanceof KubeError && err.status === 403) return false;
        if (err instanceof KubeError && err.status === 404 && 'get' in p) return true;
        throw err;
      }
    }),
  );
}

/** `clusterrole acr-fleet`, `serviceaccount kube-system/acr-fleet`. */
export function describeObject(o: OwnedObject): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind.toLowerCase()} ${ns}${o.metadata?.name ?? ''}`;
}

/** Compares what acr-fleet sets: labels, rules, roleRef, subjects, webhooks. */
function sameContent(current: object, desired: object): boolean {
  type Shape = {
    metadata?: { labels?: Record<string, string> };
    rules?: unknown;
    roleRef?: unknown;
    subjects?: unknown;
    webhooks?: unknown;
  };
  const pick = (o: Shape) =>
    canonical({
      labels: o.metadata?.labels ?? {},
      rules: o.rules ?? null,
      roleRef: o.roleRef ?? null,
      subjects: o.subjects ?? null,
      webhooks: o.webhooks ?? null,
    });
  return pick(current as Shape) === pick(desired as Shape);
}

/** JSON with object keys sorted and undefined fields dropped: the server and the client order fields their own way. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Runs one client-node call, turning its failure into a KubeError that names `what`. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(what, err);
  }
}

/** Client-node failure → KubeError `what: HTTP 403 Forbidden: <Status message>`. */
function toKubeError(what: string, err: unknown): KubeError {
  if (err instanceof ApiException) {
    const e = statusError(what, err.code, typeof err.body === 'string' ? err.body : JSON.stringify(err.body ?? ''));
    return new KubeError(e.message, { status: e.status, reason: e.reason, cause: err });
  }
  return networkError(what, err);
}
