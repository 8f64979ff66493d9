/**
 * Where a cluster's kubeconfig comes from, and the cluster client opened from it: a local file, a KMS
 * secret, or a temporary ACK kubeconfig; a credential plugin only where one is allowed; the credential's
 * expiry where someone can act on it. The cloud calls that fetch kubeconfigs are handed in by the entry
 * (the way external-secrets' `Generate` hands client factories to a private `generate`): this adapter
 * does not know the cloud SDKs.
 */
import path from 'node:path';
import type { Cluster, KubeSettings } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';
import { connectCluster } from './client.js';
import { credentialExpiry } from './credential.js';
import { endpointOfContext, readKubeconfig, readText } from './kubeconfig.js';
import type { ClusterClient } from './cluster-client.js';
import type { Endpoint } from './transport.js';

/**
 * Resolves kubeconfig text whose user is a credential plugin (`exec`, `auth-provider`) into an endpoint.
 * Local runs only: a plugin runs a command.
 */
export type PluginResolver = (text: string, source: string, baseDir?: string) => Promise<Endpoint>;

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
  /** Local runs only; without it a plugin kubeconfig is refused. */
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

/** Reads kubeconfig text: acr-fleet's own reader, a credential plugin through `resolvePlugin` when given. */
export async function endpointOfKubeconfig(
  text: string,
  source: string,
  baseDir?: string,
  resolvePlugin?: PluginResolver,
): Promise<KubeconfigEndpoint> {
  const context = readKubeconfig(text, source, baseDir);
  if (!context.plugin) return { endpoint: endpointOfContext(context), credentialExpiresAt: credentialExpiry(context) };
  if (!resolvePlugin)
    throw new AcrFleetError(
      `${source}: its user is an ${context.plugin} credential plugin, which runs a command; the deployed function takes a token or client-certificate kubeconfig (acr-fleet register stores one)`,
    );
  return { endpoint: await resolvePlugin(text, source, baseDir) };
}

/** `connect(cluster)` for the runner: finds the cluster's kubeconfig and opens it. */
export function clusterConnector(opts: ConnectorOptions): (cluster: Cluster) => Promise<ClusterClient> {
  return async ({ kubeconfig: ref }) => {
    let text: string;
    let source: string;
    let baseDir: string | undefined;
    if (ref.kind === 'file') {
      if (!opts.allowFileKubeconfig)
        throw new AcrFleetError(
          `kubeconfig ${ref.display}: kubeconfig files are for local runs; the deployed function reads kubeconfigs from KMS ({ kmsSecret: NAME })`,
        );
      source = `kubeconfig ${ref.display}`;
      text = await readText(ref.path, ref.display);
      baseDir = path.dirname(ref.path);
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
    }
    const { endpoint, credentialExpiresAt } = await endpointOfKubeconfig(text, source, baseDir, opts.resolvePlugin);
    for (const secret of credentialsOf(endpoint)) opts.onSecret?.(secret);
    // An ACK kubeconfig is issued anew for minutes each run: its expiry is no one's to act on.
    return connectCluster(endpoint, opts.kubernetes, ref.kind === 'ack' ? undefined : credentialExpiresAt);
  };
}
