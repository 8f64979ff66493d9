// The yardstick: a naive per-namespace refresher, as a shell loop around kubectl would be, but in Node with
// one kept-alive connection per cluster. Per cluster: list namespaces; then for each namespace, one after
// another: GET the Secret, create it (POST) or replace it (PUT), GET the default ServiceAccount, PATCH it.
// It never plans, so every run writes everything. Clusters run CONCURRENCY at a time, like acr-fleet's.
// It writes a fixed dockerconfigjson: fetching real tokens would add two requests per run, not per cluster.
// Usage: node bench/naive.mjs fleet.yaml CONCURRENCY
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import yaml from 'js-yaml';
import pLimit from 'p-limit';

const [file = 'fleet.yaml', concurrency = '8'] = process.argv.slice(2);
const fleet = yaml.load(readFileSync(file, 'utf8'));
const NAME = 'naive-credential';
const SKIP = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
const dockerconfig = Buffer.from(
  JSON.stringify({
    auths: { 'registry.example.com': { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') } },
  }),
).toString('base64');

function connect(kubeconfigFile) {
  const kc = yaml.load(readFileSync(path.resolve(path.dirname(file), kubeconfigFile), 'utf8'));
  const server = new URL(kc.clusters[0].cluster.server);
  const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const token = kc.users[0].user.token;
  const call = (method, p, body, contentType = 'application/json') =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        {
          host: server.hostname,
          port: server.port,
          path: p,
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return { call, close: () => agent.destroy() };
}

async function refresh(cluster) {
  const { call, close } = connect(cluster.kubeconfig.file);
  let requests = 0;
  const c = async (...a) => {
    requests++;
    const r = await call(...a);
    if (r.status >= 400 && r.status !== 404) throw new Error(`${cluster.name}: ${a[0]} ${a[1]}: HTTP ${r.status}`);
    return r;
  };
  try {
    const namespaces = (await c('GET', '/api/v1/namespaces')).body.items
      .map((n) => n.metadata.name)
      .filter((n) => !SKIP.has(n));
    for (const ns of namespaces) {
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/dockerconfigjson',
        metadata: { name: NAME, namespace: ns },
        data: { '.dockerconfigjson': dockerconfig },
      };
      const got = await c('GET', `/api/v1/namespaces/${ns}/secrets/${NAME}`);
      if (got.status === 404) await c('POST', `/api/v1/namespaces/${ns}/secrets`, secret);
      else
        await c('PUT', `/api/v1/namespaces/${ns}/secrets/${NAME}`, {
          ...secret,
          metadata: { ...secret.metadata, resourceVersion: got.body.metadata.resourceVersion },
        });
      const sa = (await c('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`)).body;
      const refs = sa.imagePullSecrets ?? [];
      const merged = refs.some((r) => r.name === NAME) ? refs : [...refs, { name: NAME }];
      await c(
        'PATCH',
        `/api/v1/namespaces/${ns}/serviceaccounts/default`,
        { imagePullSecrets: merged },
        'application/merge-patch+json',
      );
    }
    return { name: cluster.name, status: 'ok', requests };
  } catch (err) {
    return { name: cluster.name, status: 'failed', requests, error: String(err) };
  } finally {
    close();
  }
}

const limit = pLimit(Number(concurrency));
const started = Date.now();
const clusters = await Promise.all(fleet.clusters.map((cl) => limit(() => refresh(cl))));
const failed = clusters.filter((r) => r.status === 'failed').length;
process.stdout.write(
  JSON.stringify({
    durationMs: Date.now() - started,
    clusters,
    summary: { clusters: clusters.length, ok: clusters.length - failed, failed },
  }),
);
