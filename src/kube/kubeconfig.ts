/**
 * Kubeconfig reading for the refresh path: the current context's server, TLS material and credential,
 * as plain data, without @kubernetes/client-node (which would more than double the function's bundle and
 * its start-up). Errors name the source and the field, never the content: a kubeconfig holds credentials,
 * and YAML parser messages quote the offending line.
 *
 * Credential plugins (`exec`, `auth-provider`) run commands or talk to identity providers; they are not
 * read here. Local runs resolve them through client-node (client-node-config.ts, loaded lazily and injected
 * by the CLI); the deployed function refuses them (connect.ts).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { AcrFleetError } from '../errors.js';
import type { Endpoint } from './transport.js';

/** What acr-fleet uses of a kubeconfig's current context. */
export interface KubeconfigContext {
  server: string;
  /** PEM: the cluster's CA, the client certificate and key. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  token?: string;
  basicAuth?: { username: string; password: string };
  /** The user authenticates through a plugin, which this reader does not run. */
  plugin?: 'exec' | 'auth-provider';
}

type Entry = Record<string, unknown>;

/** Reads kubeconfig text. `source` names it in errors; `baseDir` anchors relative file paths. */
export function readKubeconfig(text: string, source: string, baseDir?: string): KubeconfigContext {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const mark = err instanceof yaml.YAMLException && err.mark ? ` at line ${err.mark.line + 1}` : '';
    throw new AcrFleetError(`${source}: invalid YAML${mark}`);
  }
  if (!isEntry(doc)) throw new AcrFleetError(`${source}: not a kubeconfig (expected a mapping)`);
  const fail = (message: string): never => {
    throw new AcrFleetError(`${source}: ${message}`);
  };
  const current = doc['current-context'];
  if (typeof current !== 'string' || !current) return fail('no current-context');
  const context = named(doc, 'contexts', current, 'context', fail);
  if (!context) return fail(`current-context "${current}" names no context`);
  const clusterName = context.cluster;
  const cluster = typeof clusterName === 'string' ? named(doc, 'clusters', clusterName, 'cluster', fail) : undefined;
  if (!cluster) return fail(`current-context "${current}" names no cluster`);
  const userName = context.user;
  const user =
    (typeof userName === 'string' && userName ? named(doc, 'users', userName, 'user', fail) : undefined) ?? {};

  const str = (o: Entry, key: string, where: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') return fail(`${where}.${key}: expected a string`);
    return v;
  };
  const file = (o: Entry, key: string, where: string): Buffer | undefined => {
    const p = str(o, key, where);
    if (p === undefined) return undefined;
    try {
      return readFileSync(baseDir ? path.resolve(baseDir, p) : p);
    } catch (err) {
      return fail(`${where}.${key}: ${readFailure(err)}`);
    }
  };
  const pem = (o: Entry, dataKey: string, fileKey: string, where: string): Buffer | undefined => {
    const data = str(o, dataKey, where);
    return data !== undefined ? Buffer.from(data, 'base64') : file(o, fileKey, where);
  };

  const failCluster = (message: string) => fail(`cluster "${String(clusterName)}": ${message}`);
  const server = str(cluster, 'server', 'cluster') ?? failCluster('server is missing');
  if (!/^https?:\/\//.test(server)) failCluster('server: expected an http(s) URL');
  if (cluster['proxy-url'] !== undefined) failCluster('proxy-url is not supported');
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  if (server.startsWith('http:') && !insecure) failCluster('plain http needs insecure-skip-tls-verify');
  const tokenFile = file(user, 'tokenFile', 'user');
  const token = str(user, 'token', 'user') ?? tokenFile?.toString('utf8').trim();
  const username = str(user, 'username', 'user');
  const plugin = user.exec !== undefined ? 'exec' : user['auth-provider'] !== undefined ? 'auth-provider' : undefined;
  const out: KubeconfigContext = { server: server.replace(/\/+$/, ''), insecureSkipTlsVerify: insecure };
  const ca = pem(cluster, 'certificate-authority-data', 'certificate-authority', 'cluster');
  const cert = pem(user, 'client-certificate-data', 'client-certificate', 'user');
  const key = pem(user, 'client-key-data', 'client-key', 'user');
  const tlsServerName = str(cluster, 'tls-server-name', 'cluster');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (tlsServerName) out.tlsServerName = tlsServerName;
  if (token) out.token = token;
  if (username) out.basicAuth = { username, password: str(user, 'password', 'user') ?? '' };
  if (plugin) out.plugin = plugin;
  return out;
}

/** A kubeconfig file's text, or an error naming it. */
export async function readText(file: string, display: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new AcrFleetError(`kubeconfig ${display}: ${readFailure(err)}`);
  }
}

/** How to reach and authenticate to the server (the transport's input). */
export function endpointOfContext(k: KubeconfigContext): Endpoint {
  const headers: Record<string, string> = {};
  if (k.token) headers.Authorization = `Bearer ${k.token}`;
  else if (k.basicAuth)
    headers.Authorization = `Basic ${Buffer.from(`${k.basicAuth.username}:${k.basicAuth.password}`).toString('base64')}`;
  return {
    server: k.server,
    tls: {
      ...(k.ca ? { ca: k.ca } : {}),
      ...(k.cert ? { cert: k.cert } : {}),
      ...(k.key ? { key: k.key } : {}),
      ...(k.tlsServerName ? { servername: k.tlsServerName } : {}),
      ...(k.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
    },
    headers,
  };
}

/** Why a file could not be read, without its path: `file not found`, `cannot read (EACCES)`. */
function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? 'error'})`;
}

function isEntry(v: unknown): v is Entry {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `doc[list]` entry `{ name, [field]: {...} }` with that name; errors name the list index, not values. */
function named(doc: Entry, list: string, name: string, field: string, fail: (m: string) => never): Entry | undefined {
  const items = doc[list];
  if (items === undefined || items === null) return undefined;
  if (!Array.isArray(items)) return fail(`${list}: expected a list`);
  for (const [i, item] of items.entries()) {
    if (!isEntry(item)) return fail(`${list}[${i}]: expected a mapping`);
    if (typeof item.name !== 'string' || !item.name) return fail(`${list}[${i}].name is missing`);
    if (item.name !== name) continue;
    const body = item[field];
    if (body === undefined || body === null) return field === 'user' ? {} : fail(`${list}[${i}].${field} is missing`);
    if (!isEntry(body)) return fail(`${list}[${i}].${field}: expected a mapping`);
    return body;
  }
  return undefined;
}
