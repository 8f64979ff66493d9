/**
 * Credential plugins (`exec`, `auth-provider`) of local kubeconfig files, through @kubernetes/client-node:
 * the one thing acr-fleet's own reader (kubeconfig.ts) does not do, since a plugin runs a command. Loaded
 * lazily, by local runs only (the CLI injects {@link pluginEndpoint}); never part of the deployed function.
 */
import type https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { AcrFleetError } from '../errors.js';
import { readKubeconfig } from './kubeconfig.js';
import type { Endpoint } from './transport.js';

/** The endpoint of kubeconfig text whose user is a credential plugin: runs the plugin once. */
export async function pluginEndpoint(
  text: string,
  source: string,
  baseDir?: string,
  onSecret?: (value: string) => void,
): Promise<Endpoint> {
  // acr-fleet's own reader first, for its error texts.
  readKubeconfig(text, source, { baseDir, onSecret });
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text, { onInvalidEntry: 'throw' });
  } catch (err) {
    // client-node's own messages name a field ("clusters[0].cluster.server is missing"), not a value.
    throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message.split('\n')[0] : 'invalid kubeconfig'}`);
  }
  if (baseDir) kc.makePathsAbsolute(baseDir);
  const endpoint = await endpointOf(kc);
  // What the plugin handed out is a credential too.
  for (const v of Object.values(endpoint.headers)) {
    onSecret?.(v);
    onSecret?.(v.replace(/^(Bearer|Basic) /, ''));
  }
  if (endpoint.tls.key) onSecret?.(String(endpoint.tls.key).trim());
  return endpoint;
}

/** The server address, TLS material and auth headers of a client-node KubeConfig (runs credential plugins once). */
export async function endpointOf(kc: KubeConfig): Promise<Endpoint> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new AcrFleetError('kubeconfig has no current cluster');
  const opts: https.RequestOptions & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  const tls: https.AgentOptions = {};
  for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const) {
    if (opts[k] !== undefined) (tls as Record<string, unknown>)[k] = opts[k];
  }
  return { server: cluster.server.replace(/\/+$/, ''), tls, headers };
}
