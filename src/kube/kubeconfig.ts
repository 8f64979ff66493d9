/**
 * Kubeconfig reading for the refresh path: the current context's server, TLS material and credential,
 * as plain data, without @kubernetes/client-node (which would more than double the function's bundle and
 * its start-up). Errors name the source and the field, never the content: a kubeconfig holds credentials,
 * and YAML parser messages quote the offending line.
 *
 * Credential plugins (`exec`, `auth-provider`) run commands or talk to identity providers; they are not
 * read here. Local runs resolve them through client-node (client-node-config.ts, loaded lazily and injected
 * by the CLI) for `{ file }` clusters only; the deployed function refuses them (connect.ts).
 *
 * A kubeconfig from KMS or ACK is read as data (`data`): whoever can write one KMS secret must not be able
 * to run a program, read a file, turn off TLS or send the credential through a proxy or to the metadata
 * service, wherever acr-fleet runs. Every credential read is handed to `onSecret` at once (the redactor).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { AcrFleetError } from '../errors.js';
import { addressRefusal } from './address.js';
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
  /** Where the server is written (`clusters[0].cluster.server`), for errors about its address. */
  serverField: string;
}

export interface ReadOptions {
  /** Anchors relative file paths (local kubeconfig files only). */
  baseDir?: string | undefined;
  /** A kubeconfig from KMS or ACK: data only (see the module comment); `allowPrivateAddress` from fleet.yaml. */
  data?: { allowPrivateAddress: boolean } | undefined;
  /** Told every credential (token, password, client key) the moment it is read. */
  onSecret?: ((value: string) => void) | undefined;
}

/** Why a kubeconfig from KMS or ACK is refused: fields that are files, programs, or turn protection off. */
const NOT_DATA: Record<'cluster' | 'user', Record<string, string>> = {
  cluster: {
    'certificate-authority': 'a file path reads the disk of whoever runs acr-fleet; use certificate-authority-data',
    'insecure-skip-tls-verify': "turns off the server's verification; a kubeconfig from KMS or ACK must pin its CA",
    'proxy-url': 'a proxy would see every request; a kubeconfig from KMS or ACK connects directly',
  },
  user: {
    exec: 'credential plugins run a command; a kubeconfig from KMS or ACK must be data',
    'auth-provider': 'credential plugins run a command; a kubeconfig from KMS or ACK must be data',
    tokenFile: 'a file path reads the disk of whoever runs acr-fleet; use token',
    'client-certificate': 'a file path reads the disk of whoever runs acr-fleet; use client-certificate-data',
    'client-key': 'a file path reads the disk of whoever runs acr-fleet; use client-key-data',
  },
};

type Entry = Record<string, unknown>;

/** Reads kubeconfig text. `source` names it in errors. */
export function readKubeconfig(text: string, source: string, opts: ReadOptions = {}): KubeconfigContext {
  const { baseDir, data } = opts;
  const secret = (v: string | undefined) => {
    if (v) opts.onSecret?.(v);
    return v;
  };
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
  const context = named(doc, 'contexts', current, 'context', fail)?.body;
  if (!context) return fail(`current-context "${current}" names no context`);
  const clusterName = context.cluster;
  const clusterAt = typeof clusterName === 'string' ? named(doc, 'clusters', clusterName, 'cluster', fail) : undefined;
  if (!clusterAt) return fail(`current-context "${current}" names no cluster`);
  const cluster = clusterAt.body;
  const userName = context.user;
  const userAt = typeof userName === 'string' && userName ? named(doc, 'users', userName, 'user', fail) : undefined;
  const user = userAt?.body ?? {};
  const clusterField = `clusters[${clusterAt.index}].cluster`;
  const userField = `users[${userAt?.index ?? 0}].user`;
  // Credentials first: whatever else is refused, no error path may carry one unredacted.
  secret(typeof user.token === 'string' ? user.token : undefined);
  secret(typeof user.password === 'string' ? user.password : undefined);
  if (typeof user['client-key-data'] === 'string') {
    secret(user['client-key-data']);
    secret(Buffer.from(user['client-key-data'], 'base64').toString('utf8').trim());
  }
  if (data) {
    for (const [where, body, field] of [
      ['cluster', cluster, clusterField],
      ['user', user, userField],
    ] as const)
      for (const [key, why] of Object.entries(NOT_DATA[where]))
        if (body[key] !== undefined && body[key] !== null && body[key] !== false) fail(`${field}.${key}: ${why}`);
    const server = cluster.server;
    if (typeof server === 'string' && !/^https:\/\//i.test(server))
      fail(`${clusterField}.server: a kubeconfig from KMS or ACK must use https://`);
    if (typeof cluster['certificate-authority-data'] !== 'string' || !cluster['certificate-authority-data'])
      fail(
        `${clusterField}.certificate-authority-data: missing; a kubeconfig from KMS or ACK must pin its server's CA`,
      );
    if (typeof server === 'string') {
      let host = '';
      try {
        host = new URL(server).hostname;
      } catch {
        fail(`${clusterField}.server: not a URL`);
      }
      const why = addressRefusal(host, data.allowPrivateAddress);
      if (why) fail(`${clusterField}.server: ${why}`);
    }
  }

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
  const token = str(user, 'token', 'user') ?? secret(tokenFile?.toString('utf8').trim());
  const username = str(user, 'username', 'user');
  const plugin = user.exec !== undefined ? 'exec' : user['auth-provider'] !== undefined ? 'auth-provider' : undefined;
  const out: KubeconfigContext = {
    server: server.replace(/\/+$/, ''),
    insecureSkipTlsVerify: insecure,
    serverField: `${clusterField}.server`,
  };
  const ca = pem(cluster, 'certificate-authority-data', 'certificate-authority', 'cluster');
  const cert = pem(user, 'client-certificate-data', 'client-certificate', 'user');
  const key = pem(user, 'client-key-data', 'client-key', 'user');
  if (key) secret(key.toString('utf8').trim());
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

/** `doc[list]` entry `{ name, [field]: {...} }` with that name, and its index; errors name the index, not values. */
function named(
  doc: Entry,
  list: string,
  name: string,
  field: string,
  fail: (m: string) => never,
): { body: Entry; index: number } | undefined {
  const items = doc[list];
  if (items === undefined || items === null) return undefined;
  if (!Array.isArray(items)) return fail(`${list}: expected a list`);
  for (const [i, item] of items.entries()) {
    if (!isEntry(item)) return fail(`${list}[${i}]: expected a mapping`);
    if (typeof item.name !== 'string' || !item.name) return fail(`${list}[${i}].name is missing`);
    if (item.name !== name) continue;
    const body = item[field];
    if (body === undefined || body === null)
      return field === 'user' ? { body: {}, index: i } : fail(`${list}[${i}].${field} is missing`);
    if (!isEntry(body)) return fail(`${list}[${i}].${field}: expected a mapping`);
    return { body, index: i };
  }
  return undefined;
}
