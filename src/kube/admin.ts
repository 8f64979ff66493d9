/**
 * What `register` and `deregister` do with an admin kubeconfig, on the same client and transport as the
 * refresh: create, update and delete acr-fleet's own objects (any kind of the objects.ts table, one
 * create-or-update for all, only objects carrying its label), mint a ServiceAccount token, and ask the API
 * server what an identity may do. Not part of the deployed function.
 */
import path from 'node:path';
import yaml from 'js-yaml';
import type { KubeSettings } from '../config/resolve.js';
import { AcrFleetError, isConflict, isForbidden, isNotFound } from '../errors.js';
import {
  KubeClusterClient,
  listLimitsOf,
  orUndefinedOn404,
  path as namespacedPath,
  transportFor,
  type ListLimits,
} from './client.js';
import { endpointOfKubeconfig, type PluginResolver } from './connect.js';
import { readText, type ReadOptions } from './kubeconfig.js';
import {
  apiVersionOf,
  collectionPath,
  describeObject,
  isOurs,
  objectPath,
  sameContent,
  type OwnedObject,
  type WriteResult,
} from './objects.js';
import type { Endpoint, KubeTransport } from './transport.js';

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

/** A cluster client that may also install acr-fleet's objects and ask about rights. */
export class KubeAdminClient extends KubeClusterClient {
  constructor(
    http: KubeTransport,
    limits: ListLimits,
    /** The API server's address, TLS material and credential this client uses. */
    readonly endpoint: Endpoint,
  ) {
    super(http, limits);
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
        path: collectionPath(desired),
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

  /** What {@link createOrUpdate} would do, read-only (register's `--dry-run` plan). */
  async previewWrite(
    desired: OwnedObject,
  ): Promise<Extract<WriteResult, 'created' | 'updated' | 'unchanged' | 'notOurs'>> {
    const current = await this.readObject(desired);
    if (!current) return 'created';
    if (!isOurs(current)) return 'notOurs';
    return sameContent(current, desired) ? 'unchanged' : 'updated';
  }

  /** What {@link remove} would do, read-only (deregister's plan and its not-in-fleet.yaml guard). */
  async previewRemove(obj: OwnedObject): Promise<Extract<WriteResult, 'deleted' | 'unchanged' | 'notOurs'>> {
    const current = await this.readObject(obj);
    if (!current) return 'unchanged';
    return isOurs(current) ? 'deleted' : 'notOurs';
  }

  /** A bound token for a ServiceAccount (TokenRequest). */
  async mintToken(namespace: string, name: string, expirationSeconds: number): Promise<string> {
    const what = `create token for serviceaccount ${namespace}/${name}`;
    const answer = await this.http.request<{ status?: { token?: string } } | undefined>({
      method: 'POST',
      path: `${namespacedPath(namespace, 'serviceaccounts', name)}/token`,
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
              path: namespacedPath(probe.get.namespace, 'secrets', probe.get.name),
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

  /**
   * The versions an API group serves and the resources of each (discovery: the group's APIGroup document, then
   * each version's APIResourceList). A group the server does not serve has none.
   */
  async discoverGroup(group: string): Promise<{ version: string; resources: string[] }[]> {
    const doc = await orUndefinedOn404(
      this.http.request<{ versions?: { version?: string }[] } | undefined>({
        method: 'GET',
        path: `/apis/${encodeURIComponent(group)}`,
        what: `discover ${group}`,
      }),
    );
    const versions = (doc?.versions ?? []).flatMap((v) => (v.version ? [v.version] : []));
    return Promise.all(
      versions.map(async (version) => {
        const list = await orUndefinedOn404(
          this.http.request<{ resources?: { name?: string }[] } | undefined>({
            method: 'GET',
            path: `/apis/${encodeURIComponent(group)}/${encodeURIComponent(version)}`,
            what: `discover ${group}/${version}`,
          }),
        );
        return { version, resources: (list?.resources ?? []).flatMap((r) => (r.name ? [r.name] : [])) };
      }),
    );
  }

  /**
   * Sends a write as this client's identity with `?dryRun=All`: the API server authorizes and admits it
   * (validating admission policies included) and stores nothing. `allowed` when it would have been written
   * (a create that met an existing object passed admission too: AlreadyExists is decided after it); denied,
   * with the server's message, on 403. Any other failure throws.
   */
  async dryRunWrite(req: {
    method: 'POST' | 'PATCH';
    path: string;
    body: unknown;
    contentType?: string;
    what: string;
  }): Promise<{ allowed: true } | { allowed: false; message: string }> {
    try {
      await this.http.request({ ...req, query: { dryRun: 'All' }, what: `dry-run ${req.what}` });
      return { allowed: true };
    } catch (err) {
      if (isForbidden(err)) return { allowed: false, message: err.message };
      if (req.method === 'POST' && isConflict(err) && err.reason === 'AlreadyExists') return { allowed: true };
      throw err;
    }
  }

  /** The object as the server holds it; undefined when there is none. */
  private readObject(obj: OwnedObject): Promise<OwnedObject | undefined> {
    return orUndefinedOn404(
      this.http.request<OwnedObject>({ method: 'GET', path: objectPath(obj), what: `get ${describeObject(obj)}` }),
    );
  }
}

/** Opens a cluster for admin work. */
export function connectAdmin(endpoint: Endpoint, settings: KubeSettings): KubeAdminClient {
  return new KubeAdminClient(transportFor(endpoint, settings), listLimitsOf(settings), endpoint);
}

/** Opens a local kubeconfig file (an admin's for register, any in a local refresh). */
export async function connectKubeconfigFile(
  file: string,
  display: string,
  kubernetes: KubeSettings,
  resolvePlugin?: PluginResolver,
  onSecret?: (value: string) => void,
): Promise<KubeAdminClient> {
  const text = await readText(file, display);
  const { endpoint } = await endpointOfKubeconfig(
    text,
    `kubeconfig ${display}`,
    { baseDir: path.dirname(file), onSecret },
    resolvePlugin,
  );
  return connectAdmin(endpoint, kubernetes);
}

/**
 * Opens a cluster client from kubeconfig text (the one register minted, say), read as the refresh will
 * read it once it is in KMS (`read.data`).
 */
export async function connectKubeconfigText(
  text: string,
  source: string,
  kubernetes: KubeSettings,
  read: ReadOptions = {},
): Promise<KubeAdminClient> {
  const { endpoint } = await endpointOfKubeconfig(text, source, read);
  return connectAdmin(endpoint, kubernetes);
}

/** A kubeconfig for the endpoint's API server (its address, CA and server name) that authenticates with `token` only. */
export function tokenKubeconfig(endpoint: Endpoint, token: string, clusterName: string): string {
  const { ca, servername, rejectUnauthorized } = endpoint.tls;
  const caData = ca === undefined ? undefined : Buffer.from(Array.isArray(ca) ? ca.join('\n') : ca).toString('base64');
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: clusterName,
        cluster: {
          server: endpoint.server,
          ...(caData ? { 'certificate-authority-data': caData } : {}),
          ...(rejectUnauthorized === false ? { 'insecure-skip-tls-verify': true } : {}),
          ...(servername ? { 'tls-server-name': servername } : {}),
        },
      },
    ],
    users: [{ name: 'acr-fleet', user: { token } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: 'acr-fleet' } }],
    'current-context': clusterName,
  });
}
