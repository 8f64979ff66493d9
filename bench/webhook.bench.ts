/**
 * `npm run bench` (second part): latency of the admission webhook handler (`index.webhook`) as FC calls
 * it, on an emulated cluster and cloud on loopback. Cold: a fresh instance per call (config, KMS key,
 * kubeconfig from KMS, tokens, connection). Warm: one instance; a new namespace costs a Secret get and
 * create, an existing Secret a get. Numbers, not assertions; real networks add their round trips.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { resetWebhookInstance, webhook } from '../src/entry/webhook.js';
import { urlSecret } from '../src/policy/webhook-url.js';
import { AlibabaEmulator } from '../test/emulators/alibaba/index.js';
import { KubeEmulator, type KubeKind } from '../test/emulators/kube/index.js';

const COLD = Number(process.env.BENCH_WEBHOOK_COLD ?? 30);
const WARM = Number(process.env.BENCH_WEBHOOK_WARM ?? 200);
const ACCOUNT = '1000000000000001';
const KEY = Buffer.alloc(32, 7).toString('base64');

const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-webhook-bench-'));
const cloud = await AlibabaEmulator.start({ regions: ['cn-hangzhou', 'cn-beijing'] });
cloud.createAccount(ACCOUNT);
const role = cloud.addRole({
  accountId: ACCOUNT,
  name: 'fn',
  actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint', 'kms:GetSecretValue'],
});
cloud.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-bench', name: 'bench', region: 'cn-beijing' });
const kube = await KubeEmulator.start();
for (const doc of yaml.loadAll(
  await readFile(new URL('../infra/kubernetes/acr-fleet-rbac.yaml', import.meta.url), 'utf8'),
) as { kind: string }[]) {
  kube.seed(`${doc.kind.toLowerCase()}s` as KubeKind, doc);
}
kube.addToken('bench-fleet-token', {
  name: 'system:serviceaccount:kube-system:acr-fleet',
  groups: ['system:serviceaccounts', 'system:authenticated'],
});
cloud.putKmsSecret({
  accountId: ACCOUNT,
  region: 'cn-hangzhou',
  name: 'acr-fleet/c0',
  data: kube.kubeconfig({ token: 'bench-fleet-token', contextName: 'c0' }),
});
cloud.putKmsSecret({ accountId: ACCOUNT, region: 'cn-hangzhou', name: 'acr-fleet/webhook-key', data: KEY });
const endpoints = cloud.endpointsConfig();
await writeFile(
  path.join(dir, 'fleet.yaml'),
  yaml.dump({
    regionId: 'cn-hangzhou',
    endpoints: { cr: endpoints.cr, kms: endpoints.kms },
    webhook: { url: 'https://acr-fleet-webhook.cn-hangzhou.fcapp.run' },
    defaults: { watchNamespace: 'all', webhook: { enabled: true } },
    registries: [{ name: 'ee', instanceId: 'cri-bench', regionId: 'cn-beijing' }],
    clusters: [{ name: 'c0', kubeconfig: { kmsSecret: 'acr-fleet/c0', allowPrivateAddress: true } }],
  }),
);
process.env.ACR_FLEET_CONFIG = path.join(dir, 'fleet.yaml');
const credentials = cloud.roleSession(role);
let n = 0;

/** One admission request for `default` in a namespace, as the HTTP trigger delivers it. */
async function admit(namespace: string): Promise<number> {
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `u-${n++}`,
      kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
      namespace,
      operation: 'CREATE',
      object: { metadata: { name: 'default', namespace } },
    },
  };
  const rawPath = `/clusters/c0/${urlSecret(KEY, 'c0')}`;
  const event = {
    version: 'v1',
    rawPath,
    body: JSON.stringify(review),
    isBase64Encoded: false,
    headers: {},
    queryParameters: {},
    requestContext: { http: { method: 'POST', path: rawPath } },
  };
  const started = performance.now();
  const r = await webhook(Buffer.from(JSON.stringify(event)), { requestId: `r-${n}`, credentials }, () => {});
  const ms = performance.now() - started;
  if (r.statusCode !== 200 || !r.body.includes('"patch"')) throw new Error(`unexpected answer ${r.statusCode}`);
  return ms;
}

function stats(label: string, samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return {
    path: label,
    calls: samples.length,
    'p50 ms': at(0.5).toFixed(1),
    'p99 ms': at(0.99).toFixed(1),
    'max ms': at(1).toFixed(1),
  };
}

try {
  const ns = (i: number, kind: string) => {
    const name = `${kind}-${i}`;
    kube.seed('namespaces', { metadata: { name } });
    return name;
  };
  const cold: number[] = [];
  for (let i = 0; i < COLD; i++) {
    await resetWebhookInstance();
    cold.push(await admit(ns(i, 'cold')));
  }
  await resetWebhookInstance();
  await admit(ns(0, 'warmup'));
  const fresh: number[] = [];
  for (let i = 0; i < WARM; i++) fresh.push(await admit(ns(i, 'warm')));
  const existing: number[] = [];
  for (let i = 0; i < WARM; i++) existing.push(await admit(`warm-${i}`));
  console.log('webhook handler (in-process, emulated cluster and cloud on loopback)');
  console.table([
    stats('cold (new instance: config, KMS key + kubeconfig, token, connect, get + create Secret)', cold),
    stats('warm, new namespace (get + create Secret)', fresh),
    stats('warm, Secret already there (get)', existing),
  ]);
} finally {
  await resetWebhookInstance();
  delete process.env.ACR_FLEET_CONFIG;
  await Promise.all([cloud.close(), kube.close()]);
  await rm(dir, { recursive: true, force: true });
}
