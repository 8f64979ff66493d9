/**
 * Where a cluster's kubeconfig comes from, and the cluster client opened from it: a local file, a KMS
 * secret, or a temporary ACK kubeconfig; a credential plugin only for a local file; a kubeconfig from KMS
 * or ACK read as data, its server's addresses checked (address.ts); the credential's expiry where someone
 * can act on it. The cloud calls that fetch kubeconfigs are handed in by the entry
 * (the way external-secrets' `Generate` hands client factories to a private `generate`): this adapter
 * does not know the cloud SDKs.
 */
import path from 'node:path';
import type { Cluster, KubeSettings } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';
import { addressRefusal, guardedLookup, resolveAll } from './address.js';
import { connectCluster } from './client.js';
import { credentialExpiry } from './credential.js';
import { endpointOfContext, readKubeconfig, readText, type ReadOptions } from './kubeconfig.js';
import type { ClusterClient } from './cluster-client.js';
import type { Endpoint } from './transport.js';

/**
 * Resolves kubeconfig text whose user is a credential plugin (`exec`, `auth-provider`) into an endpoint.
 * Local runs only: a plugin runs a command.
 */
export type PluginResolver = (
  text: string,
  source: string,
  baseDir?: string,
  onSecret?: (value: string) => void,
) => Promise<Endpoint>;

/** The cloud calls that fetch kubeconfig text, injected by the entry. */
export interface KubeconfigFetchers {
  /** A KMS secret's value (`{ kmsSecret: NAME }`). */
  kmsSecret(regionId: string, secretName: string): Promise<string>;
  /** A temporary ACK kubeconfig (`{ ackClusterId: ID }`). */
  ackKubeconfig(regionId: string, clusterId: string, privateIpAddress: boolean): Promise<string>;
}

export interface ConnectorOptions {
  kubernetes: KubeSettings;
  fetchers: KubeconfigFetchers;
  /** Kubeconfig files are for local runs; the deployed function refuses them. */
  allowFileKubeconfig: boolean;
  /** Local runs only, `{ file }` clusters only; without it a plugin kubeconfig is refused. */
  resolvePlugin?: PluginResolver | undefined;
  /** Given every credential of a kubeconfig the moment it is read (the entry hands in the redactor). */
  onSecret?: ((value: string) => void) | undefined;
}

/**
 * The credentials an endpoint carries, in every form they could be printed: the bearer token, the basic
 * password and its header value, the client key as PEM and as the base64 of `client-key-data`.
 */
export function credentialsOf(endpoint: Endpoint): string[] {
  const out: string[] = [];
  const auth = endpoint.headers.Authorization ?? endpoint.headers.authorization;
  const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth)?.[1];
  const basic = auth && /^Basic\s+(.+)$/i.exec(auth)?.[1];
  if (bearer) out.push(bearer);
  if (basic) {
    out.push(basic);
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    out.push(decoded, decoded.slice(decoded.indexOf(':') + 1));
  }
  for (const key of [endpoint.tls.key].flat()) {
    if (key === undefined) continue;
    const pem = Buffer.isBuffer(key) ? key.toString('utf8') : typeof key === 'string' ? key : '';
    if (!pem) continue;
    out.push(pem, Buffer.from(pem).toString('base64'));
    // The key's body, as it may be printed on one line or line by line.
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    if (body) out.push(body, ...pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')));
  }
  return out;
}

/** A kubeconfig as the transport needs it, with its credential's expiry when it tells. */
export interface KubeconfigEndpoint {
  endpoint: Endpoint;
  credentialExpiresAt?: number | undefined;
}

/**
 * Reads kubeconfig text: acr-fleet's own reader, a credential plugin through `resolvePlugin` when given.
 * With `read.data` (a kubeconfig from KMS or ACK), the server's host name is resolved and checked now, for
 * a one-line refusal, and again at every connection (a name may resolve elsewhere later).
 */
export async function endpointOfKubeconfig(
  text: string,
  source: string,
  read: ReadOptions = {},
  resolvePlugin?: PluginResolver,
): Promise<KubeconfigEndpoint> {
  const context = readKubeconfig(text, source, read);
  if (read.data) {
    const { allowPrivateAddress } = read.data;
    const host = new URL(context.server).hostname;
    const refused = (name: string, why: string) =>
      new AcrFleetError(`${source}: ${context.serverField}: host ${name} ${why}`);
    for (const address of await resolveAll(host)) {
      const why = addressRefusal(address, allowPrivateAddress);
      if (why) throw refused(host, `resolves to ${why}`);
    }
    const endpoint = endpointOfContext(context);
    endpoint.tls.lookup = guardedLookup(allowPrivateAddress, (name, why) => refused(name, why).message);
    return { endpoint, credentialExpiresAt: credentialExpiry(context) };
  }
  if (!context.plugin) return { endpoint: endpointOfContext(context), credentialExpiresAt: credentialExpiry(context) };
  if (!resolvePlugin)
    throw new AcrFleetError(
      `${source}: its user is an ${context.plugin} credential plugin, which runs a command; the deployed function takes a token or client-certificate kubeconfig (acr-fleet register stores one)`,
    );
  return { endpoint: await resolvePlugin(text, source, read.baseDir, read.onSecret) };
}

/** `connect(cluster)` for the runner: finds the cluster's kubeconfig and opens it. */
export function clusterConnector(opts: ConnectorOptions): (cluster: Cluster) => Promise<ClusterClient> {
  return async ({ kubeconfig: ref }) => {
    let text: string;
    let source: string;
    let read: ReadOptions;
    if (ref.kind === 'file') {
      if (!opts.allowFileKubeconfig)
        throw new AcrFleetError(
          `kubeconfig ${ref.display}: kubeconfig files are for local runs; the deployed function reads kubeconfigs from KMS ({ kmsSecret: NAME })`,
        );
      source = `kubeconfig ${ref.display}`;
      text = await readText(ref.path, ref.display);
      read = { baseDir: path.dirname(ref.path), onSecret: opts.onSecret };
    } else {
      source =
        ref.kind === 'kms' ? `kubeconfig kmsSecret ${ref.secretName}` : `kubeconfig ackClusterId ${ref.clusterId}`;
      text = await (
        ref.kind === 'kms'
          ? opts.fetchers.kmsSecret(ref.regionId, ref.secretName)
          : opts.fetchers.ackKubeconfig(ref.regionId, ref.clusterId, ref.privateIpAddress)
      ).catch((err: unknown) => {
        throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      // Whoever can write the secret (or the ACK answer) is not the operator: data, never a program or a file.
      read = { data: { allowPrivateAddress: ref.allowPrivateAddress }, onSecret: opts.onSecret };
    }
    const { endpoint, credentialExpiresAt } = await endpointOfKubeconfig(
      text,
      source,
      read,
      ref.kind === 'file' ? opts.resolvePlugin : undefined,
    );
    for (const secret of credentialsOf(endpoint)) opts.onSecret?.(secret);
    // An ACK kubeconfig is issued anew for minutes each run: its expiry is no one's to act on.
    return connectCluster(endpoint, opts.kubernetes, ref.kind === 'ack' ? undefined : credentialExpiresAt);
  };
}
