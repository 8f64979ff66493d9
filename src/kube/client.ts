/**
 * ClusterPort over @kubernetes/client-node 1.x. Every call counts as a request and has a timeout;
 * API errors become KubeError with the Status reason and message (never a response body dump).
 */
import {
  ApiException,
  CoreV1Api,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { KubeError } from '../errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type DesiredSecret, type ObservedSecret, type ObservedServiceAccount } from '../reconcile/state.js';
import type { ClusterPort, PortStats, SecretQuery } from './port.js';

export interface KubeClientOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
}

export class KubeClusterClient implements ClusterPort {
  private readonly core: CoreV1Api;
  private count = 0;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeError('kubeconfig has no current cluster', 0, undefined);
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (ctx) => {
            this.count++;
            ctx.setSignal(AbortSignal.timeout(timeoutMs));
            return ctx;
          },
          post: async (res) => res,
        },
      ],
    });
    this.core = new CoreV1Api(config);
  }

  get stats(): PortStats {
    return { requests: this.count, retries: 0, connections: this.count };
  }

  close(): void {}

  async listNamespaces() {
    const list = await call('list namespaces', () => this.core.listNamespace());
    return list.items.map((ns) => ({
      name: ns.metadata?.name ?? '',
      terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
    }));
  }

  async listSecrets(query: SecretQuery): Promise<ObservedSecret[]> {
    const selector = 'name' in query ? { fieldSelector: `metadata.name=${query.name}` } : { labelSelector: query.labelSelector };
    const list = await call('list secrets', () => this.core.listSecretForAllNamespaces(selector));
    return list.items.map(observeSecret);
  }

  async readSecret(namespace: string, name: string): Promise<ObservedSecret | undefined> {
    try {
      return observeSecret(await call(`get secret ${namespace}/${name}`, () => this.core.readNamespacedSecret({ namespace, name })));
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async listServiceAccounts(): Promise<ObservedServiceAccount[]> {
    const list = await call('list serviceaccounts', () => this.core.listServiceAccountForAllNamespaces());
    return list.items.map(observeServiceAccount);
  }

  async readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount> {
    return observeServiceAccount(await call(`get serviceaccount ${namespace}/${name}`, () => this.core.readNamespacedServiceAccount({ namespace, name })));
  }

  async readConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const cm = await call(`get configmap ${namespace}/${name}`, () => this.core.readNamespacedConfigMap({ namespace, name }));
      return cm.data ?? {};
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async createSecret(secret: DesiredSecret): Promise<'created' | 'exists'> {
    try {
      await call(`create secret ${secret.namespace}/${secret.name}`, () => this.core.createNamespacedSecret({ namespace: secret.namespace, body: toV1Secret(secret) }));
      return 'created';
    } catch (err) {
      if (err instanceof KubeError && err.status === 409 && err.reason === 'AlreadyExists') return 'exists';
      throw err;
    }
  }

  async replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void> {
    const body = toV1Secret(secret);
    body.metadata = { ...body.metadata, resourceVersion };
    await call(`replace secret ${secret.namespace}/${secret.name}`, () =>
      this.core.replaceNamespacedSecret({ namespace: secret.namespace, name: secret.name, body }),
    );
  }

  async deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void> {
    await call(`delete secret ${namespace}/${name}`, () =>
      this.core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { resourceVersion } } }),
    );
  }

  async setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void> {
    // A merge patch replaces the whole list (so our order and others' entries are exactly as
    // computed); the resourceVersion in the body makes it conditional (409 if changed meanwhile).
    const body = { metadata: { resourceVersion }, imagePullSecrets: names.map((n) => ({ name: n })) };
    await call(`patch serviceaccount ${namespace}/${name}`, () =>
      this.core.patchNamespacedServiceAccount({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
  }
}

function observeSecret(s: V1Secret): ObservedSecret {
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    resourceVersion: s.metadata?.resourceVersion ?? '',
    annotations: s.metadata?.annotations ?? {},
    owned: s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE,
  };
}

function observeServiceAccount(sa: V1ServiceAccount): ObservedServiceAccount {
  return {
    namespace: sa.metadata?.namespace ?? '',
    name: sa.metadata?.name ?? '',
    resourceVersion: sa.metadata?.resourceVersion ?? '',
    imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => r.name ?? ''),
  };
}

function toV1Secret(s: DesiredSecret): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: s.name, namespace: s.namespace, labels: s.labels, annotations: s.annotations },
    type: s.type,
    data: s.data,
  };
}

/** Runs one API call, turning its failure into a KubeError that names `what`. */
export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(what, err);
  }
}

/** Client-node failure → KubeError `what: HTTP 403 Forbidden: <Status message>`. */
export function toKubeError(what: string, err: unknown): KubeError {
  if (err instanceof ApiException) {
    const code = err.code;
    const status = parseStatus(err.body);
    const reason = status?.reason ?? (code === 401 ? 'Unauthorized' : undefined);
    const message = status?.message ? `: ${status.message}` : '';
    return new KubeError(`${what}: HTTP ${code}${reason ? ` ${reason}` : ''}${message}`, code, reason, { cause: err });
  }
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new KubeError(`${what}: request timed out`, 0, 'Timeout', { cause: err });
  const errno = e?.code ?? e?.cause?.code ?? /\b(E[A-Z]{3,}|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\b/.exec(e?.message ?? '')?.[1];
  return new KubeError(`${what}: ${errno ?? 'request failed'} (API server not reachable)`, 0, errno, { cause: err });
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  if (typeof body === 'object' && body !== null) return body as { reason?: string; message?: string };
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as { reason?: string; message?: string }) : undefined;
  } catch {
    return undefined;
  }
}
