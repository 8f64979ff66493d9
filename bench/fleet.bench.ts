/**
 * `npm run bench`: refreshes an emulated fleet (CLUSTERS clusters × NAMESPACES namespaces) twice and
 * prints what the scale goals are about: Kubernetes requests per cluster (first run and steady
 * state), writes in steady state, registry tokens per run, and wall time. Numbers, not assertions.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { runCli } from '../src/entry/cli.js';
import { AlibabaEmulator } from '../test/emulators/alibaba/index.js';
import { KubeEmulator } from '../test/emulators/kube/index.js';

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 20);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 50);
const ACCOUNT = '1000000000000001';

const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-bench-'));
const cloud = await AlibabaEmulator.start({ regions: ['cn-hangzhou', 'cn-beijing'] });
cloud.createAccount(ACCOUNT);
const creds = cloud.addUser({ accountId: ACCOUNT, name: 'bench', actions: ['cr:*'] });
cloud.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-bench', name: 'bench', region: 'cn-beijing' });
cloud.enablePersonalEdition({ accountId: ACCOUNT, region: 'cn-hangzhou' });
const kubes: KubeEmulator[] = [];
const clusters = [];
for (let i = 0; i < CLUSTERS; i++) {
  const kube = await KubeEmulator.start();
  kube.addToken('bench-admin-token', { name: 'bench', groups: ['system:masters'] });
  for (let n = 0; n < NAMESPACES; n++) {
    kube.seed('namespaces', { metadata: { name: `ns-${n}` } });
    kube.seed('serviceaccounts', { metadata: { namespace: `ns-${n}`, name: 'default' } });
  }
  const file = path.join(dir, `c${i}.yaml`);
  await writeFile(file, kube.kubeconfig({ token: 'bench-admin-token', contextName: `c${i}` }));
  kubes.push(kube);
  clusters.push({ name: `c${i}`, kubeconfig: { file }, watchNamespace: 'all' });
}
const endpoints = cloud.endpointsConfig();
await writeFile(
  path.join(dir, 'fleet.yaml'),
  yaml.dump({
    regionId: 'cn-hangzhou',
    endpoints: { cr: endpoints.cr },
    registries: [{ name: 'ee', instanceId: 'cri-bench', regionId: 'cn-beijing' }, { name: 'pe' }],
    clusters,
  }),
);

async function run(label: string) {
  for (const k of kubes) k.resetRequests();
  const tokensBefore = cloud.tokens.length;
  let out = '';
  const started = performance.now();
  const code = await runCli(['refresh', '--config', 'fleet.yaml', '--json'], {
    stdout: (t) => void (out += t),
    stderr: () => {},
    env: { ALIBABA_CLOUD_ACCESS_KEY_ID: creds.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: creds.accessKeySecret },
    cwd: dir,
  });
  const ms = performance.now() - started;
  const perCluster = kubes.map((k) => k.requests.length);
  const writes = kubes.reduce((n, k) => n + k.requests.filter((r) => r.method !== 'GET').length, 0);
  const report = JSON.parse(out) as { summary: { failed: number } };
  return {
    run: label,
    exit: code,
    failed: report.summary.failed,
    'requests/cluster (max)': Math.max(...perCluster),
    'writes (all clusters)': writes,
    'tokens fetched': cloud.tokens.length - tokensBefore,
    'wall ms': Math.round(ms),
  };
}

try {
  console.log(`fleet: ${CLUSTERS} clusters × ${NAMESPACES} namespaces, 2 registries (EE + PE), concurrency 8`);
  console.table([await run('first (creates everything)'), await run('steady state'), await run('steady state again')]);
} finally {
  await Promise.all([cloud.close(), ...kubes.map((k) => k.close())]);
  await rm(dir, { recursive: true, force: true });
}
