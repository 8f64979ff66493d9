/**
 * Kubeconfigs through @kubernetes/client-node, for what only it can do: the admin kubeconfig of
 * `register` / `deregister` (its typed RBAC, TokenRequest and access-review APIs), and credential plugins
 * (`exec`, `auth-provider`) in local CLI runs. Never imported by the deployed function's refresh path.
 */
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type https from 'node:https';
import { AcrFleetError } from '../errors.js';
import { readKubeconfig, readText } from './kubeconfig.js';
import type { Endpoint } from './transport.js';

/** A client-node KubeConfig from kubeconfig text, checked first by acr-fleet's own reader (its error texts). */
export function kubeConfigFromText(text: string, source: string, baseDir?: string): KubeConfig {
  readKubeconfig(text, source, baseDir);
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text, { onInvalidEntry: 'throw' });
  } catch (err) {
    // client-node's own messages name a field ("clusters[0].cluster.server is missing"), not a value.
    throw new AcrFleetError(`${source}: ${err instanceof Error ? err.message.split('\n')[0] : 'invalid kubeconfig'}`);
  }
  if (baseDir) kc.makePathsAbsolute(baseDir);
  return kc;
}

/** Reads a kubeconfig file into a client-node KubeConfig. */
export async function kubeConfigFromFile(file: string, display: string): Promise<KubeConfig> {
  return kubeConfigFromText(await readText(file, display), `kubeconfig ${display}`, path.dirname(file));
}

/** The server address, TLS material and auth headers of a KubeConfig (runs credential plugins once). */
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
