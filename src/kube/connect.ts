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
import { connectCluster, type KubeClusterClient } from './client.js';
import { credentialExpiry } from './credential.js';
import { endpointOfContext, readKubeconfig, readText } from './kubeconfig.js';
import type { ClusterPort } from './port.js';
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
  opts: { baseDir?: string | undefined; resolvePlugin?: PluginResolver | undefined },
): Promise<KubeconfigEndpoint> {
  const context = readKubeconfig(text, source, opts.baseDir);
  if (context.plugin) {
    if (!opts.resolvePlugin) {
      throw new AcrFleetError(
        `${source}: its user is an ${context.plugin} credential plugin, which runs a command; the deployed function takes a token or client-certificate kubeconfig (acr-fleet register stores one)`,
      );
    }
    return { endpoint: await opts.resolvePlugin(text, source, opts.baseDir) };
  }
  return { endpoint: endpointOfContext(context), credentialExpiresAt: credentialExpiry(context) };
}

/** Opens a local kubeconfig file (an admin's for register, any in a local refresh). */
export async function connectKubeconfigFile(
  file: string,
  display: string,
  kubernetes: KubeSettings,
  resolvePlugin?: PluginResolver,
): Promise<KubeClusterClient> {
  const text = await readText(file, display);
  const { endpoint } = await endpointOfKubeconfig(text, `kubeconfig ${display}`, {
    baseDir: path.dirname(file),
    resolvePlugin,
  });
  return connectCluster(endpoint, kubernetes);
}

/** Opens a cluster client from kubeconfig text (the one register minted, say). */
export async function connectKubeconfigText(
  text: string,
  source: string,
  kubernetes: KubeSettings,
): Promise<KubeClusterClient> {
  const { endpoint } = await endpointOfKubeconfig(text, source, {});
  return connectCluster(endpoint, kubernetes);
}

/** `connect(cluster)` for the runner: finds the cluster's kubeconfig and opens it. */
export function clusterConnector(opts: ConnectorOptions): (cluster: Cluster) => Promise<ClusterPort> {
  /** `reportExpiry`: whether the credential's expiry is worth reporting. */
  const open = async (text: string, source: string, baseDir: string | undefined, reportExpiry: boolean) => {
    const { endpoint, credentialExpiresAt } = await endpointOfKubeconfig(text, source, {
      baseDir,
      resolvePlugin: opts.resolvePlugin,
    });
    return connectCluster(endpoint, opts.kubernetes, reportExpiry ? credentialExpiresAt : undefined);
  };
  return async (cluster) => {
    const ref = cluster.kubeconfig;
    if (ref.kind === 'file') {
      if (!opts.allowFileKubeconfig) {
        throw new AcrFleetError(
          `kubeconfig ${ref.display}: kubeconfig files are for local runs; the deployed function reads kubeconfigs from KMS ({ kmsSecret: NAME })`,
        );
      }
      return open(await readText(ref.path, ref.display), `kubeconfig ${ref.display}`, path.dirname(ref.path), true);
    }
    const source =
      ref.kind === 'kms' ? `kubeconfig kmsSecret ${ref.secretName}` : `kubeconfig ackClusterId ${ref.clusterId}`;
    const fetched =
      ref.kind === 'kms'
        ? opts.fetchers.kmsSecret(ref.regionId, ref.secretName)
        : opts.fetchers.ackKubeconfig(ref.regionId, ref.clusterId, ref.privateIpAddress);
    const text = await fetched.catch((err: unknown) => {
      throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    // An ACK kubeconfig is issued anew for minutes each run: its expiry is no one's to act on.
    return open(text, source, undefined, ref.kind === 'kms');
  };
}
