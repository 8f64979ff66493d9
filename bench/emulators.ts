/**
 * The benchmark's emulated world, in its own process so that its CPU and memory are not the product's:
 * the Alibaba Cloud emulator and CLUSTERS Kubernetes API emulators (NAMESPACES namespaces each, a `default`
 * ServiceAccount in each), every request delayed by LATENCY_MS. Writes fleet.yaml and the kubeconfigs into
 * DIR, deploys a stand-in `acr-fleet` function (for the dispatch measurement), then answers the parent
 * over IPC: `stats` (requests, writes and accepted connections per cluster since the last `reset`), `reset`,
 * `session` (FC-style credentials of the function role), `invocations` (async invocations queued).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { AlibabaEmulator } from '../test/emulators/alibaba/index.js';
import { KubeEmulator } from '../test/emulators/kube/index.js';

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const CLUSTERS = env('CLUSTERS', 100);
const NAMESPACES = env('NAMESPACES', 20);
const LATENCY_MS = env('LATENCY_MS', 50);
const DIR = process.env.DIR ?? '.';
export const BENCH_ACCOUNT = '1000000000000001';

const cloud = await AlibabaEmulator.start({ regions: ['cn-hangzhou', 'cn-beijing'], latencyMs: LATENCY_MS });
cloud.createAccount(BENCH_ACCOUNT);
const creds = cloud.addUser({ accountId: BENCH_ACCOUNT, name: 'bench', actions: ['cr:*'] });
cloud.addEnterpriseInstance({ accountId: BENCH_ACCOUNT, instanceId: 'cri-bench', name: 'bench', region: 'cn-beijing' });
cloud.enablePersonalEdition({ accountId: BENCH_ACCOUNT, region: 'cn-hangzhou' });
const role = cloud.addRole({
  accountId: BENCH_ACCOUNT,
  name: 'acr-fleet-function',
  actions: ['cr:*', 'fc:InvokeFunction'],
});
// The dispatch measurement only queues shard invocations; the shards themselves are measured as a fleet.
cloud.addFunction({
  accountId: BENCH_ACCOUNT,
  region: 'cn-hangzhou',
  name: 'acr-fleet',
  role,
  handler: () => Promise.resolve({}),
});

const kubes: KubeEmulator[] = [];
const clusters = [];
for (let i = 0; i < CLUSTERS; i++) {
  const kube = await KubeEmulator.start({ latencyMs: LATENCY_MS });
  kube.addToken('bench-token', { name: 'bench', groups: ['system:masters'] });
  for (let n = 0; n < NAMESPACES; n++) {
    kube.seed('namespaces', { metadata: { name: `ns-${n}` } });
    kube.seed('serviceaccounts', { metadata: { namespace: `ns-${n}`, name: 'default' } });
  }
  const file = path.join(DIR, `c${i}.yaml`);
  await writeFile(file, kube.kubeconfig({ token: 'bench-token', contextName: `c${i}` }));
  kubes.push(kube);
  clusters.push({ name: `c${i}`, kubeconfig: { file }, watchNamespace: 'all' });
}
// For runs by hand (a profile, say): the emulated AccessKey of the bench user, beside fleet.yaml.
await writeFile(path.join(DIR, 'credentials.json'), JSON.stringify(creds));
const endpoints = cloud.endpointsConfig();
await writeFile(
  path.join(DIR, 'fleet.yaml'),
  yaml.dump({
    regionId: 'cn-hangzhou',
    endpoints: { cr: endpoints.cr, fc: endpoints.fc },
    registries: [{ name: 'ee', instanceId: 'cri-bench', regionId: 'cn-beijing' }, { name: 'pe' }],
    clusters,
  }),
);

type Command = 'stats' | 'reset' | 'session' | 'invocations';
process.on('message', (cmd: Command) => {
  if (cmd === 'reset') {
    for (const k of kubes) k.resetRequests();
    baseline = kubes.map((k) => k.connections);
    process.send?.({ ok: true });
  } else if (cmd === 'stats') {
    process.send?.(
      kubes.map((k, i) => ({
        requests: k.requests.length,
        writes: k.requests.filter((r) => r.method !== 'GET').length,
        connections: k.connections - (baseline[i] ?? 0),
      })),
    );
  } else if (cmd === 'session') {
    process.send?.(cloud.roleSession(role));
  } else if (cmd === 'invocations') {
    process.send?.(cloud.asyncInvocations.length);
  }
});
let baseline = kubes.map((k) => k.connections);
process.send?.({ ready: true, credentials: creds, clusters: CLUSTERS });
