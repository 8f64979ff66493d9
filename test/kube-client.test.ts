/**
 * The Kubernetes adapter against the emulator: connection reuse, paged lists, transient faults retried
 * within the budget, and writes that are safe to repeat. Assertions are on the emulator's store, its
 * request log and its accepted connections.
 */
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { KUBE_LIMITS, type KubeSettings } from '../src/config/resolve.js';
import { KubeError } from '../src/errors.js';
import { connectCluster } from '../src/kube/client.js';
import { endpointOf } from '../src/kube/client-node-config.js';
import { desiredSecret, secretTemplate } from '../src/reconcile/dockerconfig.js';
import { KubeEmulator } from './emulators/kube/index.js';

const TOKEN = 'admin-token';
const SETTINGS: KubeSettings = {
  requestTimeoutMs: 5_000,
  retryBudgetMs: 10_000,
  writeConcurrency: 4,
  pageSize: 500,
  ...KUBE_LIMITS,
};

async function cluster(settings: Partial<KubeSettings> = {}) {
  const kube = await KubeEmulator.start();
  kube.addToken(TOKEN, { name: 'admin', groups: ['system:masters'] });
  kube.seed('namespaces', { metadata: { name: 'app' } });
  const kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfig({ token: TOKEN }));
  const client = connectCluster(await endpointOf(kc), { ...SETTINGS, ...settings });
  return { kube, client, [Symbol.asyncDispose]: async () => (client.close(), await kube.close()) };
}

const template = secretTemplate([
  {
    registry: 'r',
    domains: ['r.example.com'],
    username: 'u',
    password: 'pw',
    expiresAt: Date.parse('2030-01-01T00:00:00Z'),
  },
]);
const secret = (ns: string) => desiredSecret(template, ns, 'acr-credential-fleet');

test('every request of a cluster shares a pool of at most writeConcurrency keep-alive connections', async (t) => {
  await using c = await cluster();
  for (let i = 0; i < 30; i++) c.kube.seed('namespaces', { metadata: { name: `ns-${i}` } });
  await c.client.listNamespaces();
  await Promise.all(Array.from({ length: 30 }, (_, i) => c.client.createSecret(secret(`ns-${i}`))));
  await c.client.listSecrets({ name: 'acr-credential-fleet' });
  t.is(c.kube.list('secrets').length, 30);
  t.true(c.kube.connections <= 4, `${c.kube.connections} connections for 32 requests`);
  t.is(c.client.stats.connections, c.kube.connections);
  t.is(c.client.stats.requests, 32);
});

test('a list larger than pageSize is read page by page with limit and continue', async (t) => {
  await using c = await cluster({ pageSize: 10 });
  for (let i = 0; i < 25; i++) c.kube.seed('serviceaccounts', { metadata: { namespace: 'app', name: `sa-${i}` } });
  const all = await c.client.listServiceAccounts();
  t.is(all.filter((sa) => sa.namespace === 'app').length, 25);
  const pages = c.kube.requests.filter((r) => r.path === '/api/v1/serviceaccounts');
  t.is(pages.length, 3);
  t.true(pages.every((r) => new URLSearchParams(r.query).get('limit') === '10'));
  t.is(new URLSearchParams(pages[0]?.query).get('continue'), null);
  t.truthy(new URLSearchParams(pages[1]?.query).get('continue'));
});

test('Secrets are listed by name across namespaces, owned or not', async (t) => {
  await using c = await cluster();
  await c.client.createSecret(secret('app'));
  c.kube.seed('secrets', { metadata: { namespace: 'default', name: 'acr-credential-fleet' }, data: {} });
  c.kube.seed('secrets', { metadata: { namespace: 'default', name: 'other' }, data: {} });
  const found = await c.client.listSecrets({ name: 'acr-credential-fleet' });
  t.deepEqual(
    found.map((s) => [s.namespace, s.owned]),
    [
      ['app', true],
      ['default', false],
    ],
  );
  t.is(new URLSearchParams(c.kube.requests.at(-1)?.query).get('fieldSelector'), 'metadata.name=acr-credential-fleet');
});

const TRANSIENT: [string, { status?: number; delayMs?: number }][] = [
  ['429 TooManyRequests with Retry-After', { status: 429 }],
  ['500 InternalError', { status: 500 }],
  ['503 ServiceUnavailable', { status: 503 }],
  ['504 GatewayTimeout', { status: 504 }],
  ['a connection reset', { status: 0 }],
  ['an answer slower than requestTimeout', { delayMs: 4_000 }],
];
for (const [name, fault] of TRANSIENT) {
  test(`${name} on a list is retried and the list succeeds`, async (t) => {
    // Generous against a loaded machine: only the injected delay may exceed it.
    await using c = await cluster({ requestTimeoutMs: 1_500 });
    c.kube.injectFault({ method: 'GET', path: /^\/api\/v1\/namespaces$/, ...fault, times: 2 });
    const namespaces = await c.client.listNamespaces();
    t.true(namespaces.some((n) => n.name === 'app'));
    t.is(c.client.stats.retries, 2);
  });
}

test('a 503 on a create is retried and the Secret is written once', async (t) => {
  await using c = await cluster();
  c.kube.injectFault({ method: 'POST', path: /\/secrets$/, status: 503, times: 1 });
  t.is(await c.client.createSecret(secret('app')), 'created');
  t.is(c.kube.list('secrets', 'app').length, 1);
  t.is(c.client.stats.retries, 1);
});

test('a create that meets its own identical Secret (an earlier attempt took effect) counts as created and writes nothing more', async (t) => {
  await using c = await cluster();
  await c.client.createSecret(secret('app'));
  const before = c.kube.get('secrets', 'app', 'acr-credential-fleet').metadata.resourceVersion;
  t.is(await c.client.createSecret(secret('app')), 'created');
  t.is(c.kube.get('secrets', 'app', 'acr-credential-fleet').metadata.resourceVersion, before);
});

test('a create that meets a Secret of that name without the label reports it and leaves it alone', async (t) => {
  await using c = await cluster();
  const theirs = c.kube.seed('secrets', {
    metadata: { namespace: 'app', name: 'acr-credential-fleet' },
    stringData: { mine: 'yes' },
  });
  t.is(await c.client.createSecret(secret('app')), 'exists');
  t.deepEqual(c.kube.get('secrets', 'app', 'acr-credential-fleet'), theirs);
});

test('a replace that meets 409 on a Secret already as desired counts as done; otherwise the 409 stands', async (t) => {
  await using c = await cluster();
  await c.client.createSecret(secret('app'));
  await t.notThrowsAsync(c.client.replaceSecret(secret('app'), '1'));
  const changed = {
    ...secret('app'),
    annotations: { ...secret('app').annotations, 'acr-fleet.io/expires-at': '2031-01-01T00:00:00.000Z' },
  };
  await t.throwsAsync(c.client.replaceSecret(changed, '1'), {
    instanceOf: KubeError,
    message: /^replace secret app\/acr-credential-fleet: HTTP 409 Conflict: Operation cannot be fulfilled/,
  });
});

test('deleting a Secret that is already gone counts as deleted', async (t) => {
  await using c = await cluster();
  await t.notThrowsAsync(c.client.deleteSecret('app', 'acr-credential-fleet', '5'));
});

test('answers that are not faults (401, 403, 404, 422) are never retried', async (t) => {
  await using c = await cluster();
  for (const status of [401, 403, 404, 422]) c.kube.injectFault({ path: /^\/api\/v1\/namespaces$/, status, times: 1 });
  for (let i = 0; i < 4; i++) await t.throwsAsync(c.client.listNamespaces(), { instanceOf: KubeError });
  t.is(c.client.stats.retries, 0);
  t.is(c.client.stats.requests, 4);
});

test('a fault that outlasts the retry budget fails, naming the request and the last answer', async (t) => {
  await using c = await cluster({ retryBudgetMs: 3_000 });
  c.kube.injectFault({ path: /^\/api\/v1\/namespaces$/, status: 503, times: 100 });
  await t.throwsAsync(c.client.listNamespaces(), {
    instanceOf: KubeError,
    message: /^list namespaces: HTTP 503 ServiceUnavailable/,
  });
  t.true(c.client.stats.retries >= 1 && c.client.stats.retries < 6, `${c.client.stats.retries} retries`);
});

test('a hung API server fails with a timeout once the budget is spent', async (t) => {
  await using c = await cluster({ requestTimeoutMs: 200, retryBudgetMs: 700 });
  c.kube.injectFault({ path: /^\/api\/v1\/namespaces$/, delayMs: 5_000, times: 100 });
  await t.throwsAsync(c.client.listNamespaces(), {
    instanceOf: KubeError,
    message: 'list namespaces: request timed out',
  });
});

test('closing a cluster ends its requests still on the wire, and nothing is sent or retried after', async (t) => {
  await using c = await cluster();
  c.kube.injectFault({ path: /^\/api\/v1\/namespaces$/, status: 503, times: 1 });
  c.kube.injectFault({ path: /^\/api\/v1\/serviceaccounts$/, delayMs: 3_000, times: 1 });
  const listing = c.client.listServiceAccounts();
  const retrying = c.client.listNamespaces();
  // Both requests on the wire (so their connection is counted) before the close, however loaded the machine.
  const seen = (path: string) => c.kube.requests.some((r) => r.path === path);
  while (!seen('/api/v1/namespaces') || !seen('/api/v1/serviceaccounts')) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  c.client.close();
  const connections = c.kube.connections;
  await t.throwsAsync(listing, { instanceOf: KubeError });
  await t.throwsAsync(retrying, {
    instanceOf: KubeError,
    message: "list namespaces: the cluster's connections were closed",
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(c.kube.requests.filter((r) => r.path === '/api/v1/namespaces').length, 1, 'the 503 was not retried after close');
  t.is(c.kube.connections, connections, 'no connection opened after close');
});

test('an API server that speaks HTTP/2 gets one connection per cluster; one without it, HTTP/1.1 on the keep-alive pool', async (t) => {
  for (const http2 of [true, false]) {
    const kube = await KubeEmulator.start({ http2 });
    kube.addToken(TOKEN, { name: 'admin', groups: ['system:masters'] });
    for (let i = 0; i < 10; i++) kube.seed('namespaces', { metadata: { name: `ns-${i}` } });
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfig({ token: TOKEN }));
    const client = connectCluster(await endpointOf(kc), SETTINGS);
    try {
      await Promise.all([client.listNamespaces(), client.listServiceAccounts(), client.listSecrets({ name: 'x' })]);
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.createSecret(secret(`ns-${i}`))));
      t.is(kube.list('secrets').length, 10);
      if (http2) t.is(kube.connections, 1, 'one multiplexed connection');
      else t.true(kube.connections > 1 && kube.connections <= 4, `${kube.connections} HTTP/1.1 connections`);
      // Without HTTP/2, the first handshake (asking for h2) is refused by the server: counted by the client only.
      t.is(client.stats.connections, kube.connections + (http2 ? 0 : 1));
    } finally {
      client.close();
      await kube.close();
    }
  }
});

test('a server certificate that does not verify fails at once, naming the TLS error, never retried', async (t) => {
  await using c = await cluster();
  const kc = new KubeConfig();
  kc.loadFromString(c.kube.kubeconfig({ token: TOKEN }));
  const { ca: _ca, ...tls } = (await endpointOf(kc)).tls;
  const port = connectCluster({ ...(await endpointOf(kc)), tls }, SETTINGS);
  try {
    await t.throwsAsync(port.listNamespaces(), {
      instanceOf: KubeError,
      message:
        /^list namespaces: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE) \(API server not reachable\)$/,
    });
    t.is(port.stats.retries, 0);
  } finally {
    port.close();
  }
});

test('after a timed-out request the HTTP/2 connection is replaced, as a dead one would have to be', async (t) => {
  // Timeouts with room for a loaded machine: only the delayed answer may time out.
  await using c = await cluster({ requestTimeoutMs: 2_500 });
  await c.client.listNamespaces();
  c.kube.injectFault({ method: 'GET', path: /^\/api\/v1\/namespaces$/, delayMs: 8_000, times: 1 });
  t.true((await c.client.listNamespaces()).some((n) => n.name === 'app'));
  t.is(c.kube.connections, 2);
  t.is(c.client.stats.retries, 1);
});
