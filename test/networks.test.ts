/**
 * Clusters in many networks (issue 18): fleet.yaml's networks, the timer run dispatching each network's clusters
 * to its function within FC's payload and instance limits, a missing network function failing its clusters
 * by name, and CR throttling ridden out by concurrent shards.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import { ConfigError } from '../src/errors.js';
import { parseFleet } from '../src/config/load.js';
import { continueChain, type DispatchReport } from '../src/entry/fc-dispatch.js';
import { handler } from '../src/entry/fc.js';
import { MAX_PAYLOAD_BYTES, planDispatch } from '../src/fleet/dispatch.js';
import type { FleetReport } from '../src/fleet/report.js';
import { createLogger, Redactor } from '../src/log/logger.js';
import { ACCOUNT, sandbox } from './support/sandbox.js';
import { loginDomains } from './support/assert.js';
import { CLUSTER_NAMES, HOME_REGION } from './support/fleet.js';

const NET = (id: string) => ({
  region: HOME_REGION,
  vpcId: `vpc-bp1${id}00000001`,
  vSwitchIds: [`vsw-bp1${id}00000001`],
  securityGroupId: `sg-bp1${id}00000001`,
});

const BASE = `regionId: cn-hangzhou
registries:
  - name: main
    instanceId: cri-abc
networks:
  vpc-a: { region: cn-hangzhou, vpcId: vpc-bp1aaaa0001, vSwitchIds: [vsw-bp1aaaa0001], securityGroupId: sg-bp1aaaa0001 }
clusters:
  - name: one
    kubeconfig: { ackClusterId: c1234 }
`;

const problems = (text: string) => {
  try {
    parseFleet(text, { file: 'fleet.yaml', env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

test('a cluster names a network of networks:, with did-you-mean; defaults.network is checked too', (t) => {
  t.deepEqual(problems(`${BASE}    network: vpc-b\n`), [
    { path: 'clusters[0].network', message: 'unknown network "vpc-b" (defined: vpc-a); did you mean "vpc-a"?' },
  ]);
  t.deepEqual(problems(`${BASE}defaults: { network: internet }\n`), [
    { path: 'defaults.network', message: 'unknown network "internet" (defined: vpc-a)' },
  ]);
  const fleet = parseFleet(`${BASE}    network: vpc-a\n`, { file: 'fleet.yaml', env: {} });
  t.is(fleet.clusters[0]?.network, 'vpc-a');
  t.like(fleet.networks?.['vpc-a'], { name: 'vpc-a', vpcId: 'vpc-bp1aaaa0001' });
  t.is(parseFleet(BASE, { file: 'fleet.yaml', env: {} }).clusters[0]?.network, undefined, 'default: the internet');
});

const BAD_IDS: [string, string, string][] = [
  ['vpcId: vpc-bp1aaaa0001', 'vpcId: vsw-bp1aaaa0001', 'networks.vpc-a.vpcId'],
  ['vSwitchIds: [vsw-bp1aaaa0001]', 'vSwitchIds: [VSW-1]', 'networks.vpc-a.vSwitchIds[0]'],
  ['vSwitchIds: [vsw-bp1aaaa0001]', 'vSwitchIds: []', 'networks.vpc-a.vSwitchIds'],
  ['securityGroupId: sg-bp1aaaa0001', 'securityGroupId: sg', 'networks.vpc-a.securityGroupId'],
  ['region: cn-hangzhou, vpcId', 'region: hangzhou, vpcId', 'networks.vpc-a.region'],
  ['  vpc-a: {', '  VPC_A: {', 'networks.VPC_A'],
];
for (const [from, to, path] of BAD_IDS) {
  test(`a network with ${to} is refused at ${path}`, (t) => {
    const found = problems(BASE.replace(from, to));
    t.true(
      found.some((p) => p.path === path),
      JSON.stringify(found),
    );
  });
}

test('payloads stay under 128 KB: a shard whose names would not fit is split, each cluster in exactly one invocation', (t) => {
  const names = Array.from({ length: 6000 }, (_, i) => `c-${String(i).padStart(5, '0')}-${'x'.repeat(54)}`);
  const clusters = names.map((name, i) => ({ name, ...(i % 3 ? { network: i % 3 === 1 ? 'a' : 'b' } : {}) }));
  const plan = planDispatch({ clusters: clusters as never, shardSize: 5000, networks: {} }, { name: 'f', region: 'r' });
  const sizes = plan.map((p) => Buffer.byteLength(JSON.stringify({ shard: p.shard, clusters: p.clusters })));
  t.true(Math.max(...sizes) <= MAX_PAYLOAD_BYTES);
  t.true(plan.length > 3, 'the 2000-name shards do not fit one payload');
  t.deepEqual(plan.flatMap((p) => p.clusters).sort(), [...names].sort());
  t.deepEqual([...new Set(plan.map((p) => p.target.name))], ['f', 'f-net-a', 'f-net-b']);
});

/** The sandbox deployed: the main function (timer) and the functions of `deployedNetworks`, one role for all. */
async function deployed(
  t: Parameters<typeof sandbox>[0],
  opts: { networks: Record<string, string[]>; deployedNetworks: string[]; shardSize?: number },
) {
  const s = await sandbox(t, {
    kubeconfigs: 'kms',
    functionConfig: true,
    editConfig: (d) => {
      d.shardSize = opts.shardSize ?? 500;
      d.networks = Object.fromEntries(Object.keys(opts.networks).map((n, i) => [n, NET(String(i + 1))]));
      for (const c of d.clusters as { name: string; network?: string }[]) {
        const net = Object.entries(opts.networks).find(([, names]) => names.includes(c.name))?.[0];
        if (net) c.network = net;
      }
    },
  });
  await s.editConfig((d) => ((d.endpoints as Record<string, unknown>).fc = s.cloud.endpointsConfig().fc));
  const role = s.cloud.addRole({
    accountId: ACCOUNT,
    name: 'acr-fleet-networks',
    actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint', 'kms:GetSecretValue', 'sts:AssumeRole'],
    policy: {
      Statement: [
        {
          Effect: 'Allow',
          Action: ['fc:InvokeFunction'],
          Resource: [`acs:fc:${HOME_REGION}:${ACCOUNT}:functions/acr-fleet*`],
        },
      ],
    },
  });
  const lines: string[] = [];
  for (const name of ['acr-fleet', ...opts.deployedNetworks.map((n) => `acr-fleet-net-${n}`)])
    s.cloud.addFunction({
      accountId: ACCOUNT,
      region: HOME_REGION,
      name,
      role,
      maxAsyncRetryAttempts: 0,
      handler: (event, context) => handler(event, context, (l) => lines.push(l)),
    });
  const timer = Buffer.from(
    JSON.stringify({ triggerTime: '2026-12-07T04:00:00Z', triggerName: 'refresh', payload: '{}' }),
  );
  const context = {
    requestId: 'timer-1',
    credentials: s.cloud.roleSession(role),
    region: HOME_REGION,
    accountId: ACCOUNT,
    function: { name: 'acr-fleet' },
  };
  return { s, lines, tick: () => handler(timer, context, (l) => lines.push(l)) as Promise<DispatchReport> };
}

const logs = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

test.serial(
  "each network's clusters are refreshed by its function; a network without a function fails its clusters by name",
  async (t) => {
    const { s, lines, tick } = await deployed(t, {
      networks: { 'vpc-a': [CLUSTER_NAMES.hzDev], 'vpc-b': [CLUSTER_NAMES.bjProd] },
      deployedNetworks: ['vpc-a'],
    });
    const report = await tick();
    const missing =
      'network vpc-b: function acr-fleet-net-vpc-b not found; deploy it (README, "Clusters in many networks")';
    t.deepEqual(report.dispatch, { shards: 3, clusters: 3, queued: 2, failed: 1 });
    t.deepEqual(
      report.invocations.map((i) => [i.network ?? 'internet', i.clusters, i.error]),
      [
        ['internet', 1, undefined],
        ['vpc-a', 1, undefined],
        ['vpc-b', 1, missing],
      ],
    );
    await s.cloud.settled();
    const ran = s.cloud.asyncInvocations.map((i) => [
      i.function,
      (i.result as FleetReport).clusters.map((c) => `${c.name}:${c.status}`).join(),
    ]);
    t.deepEqual(ran.sort(), [
      ['acr-fleet', 'hz-prod-1:ok'],
      ['acr-fleet-net-vpc-a', 'hz-dev-1:ok'],
    ]);
    t.true(
      s.cloud.asyncInvocations.every((i) => Object.keys(JSON.parse(i.event) as object).join() === 'shard,clusters'),
    );
    t.is(loginDomains(s.cloud, s.cluster(CLUSTER_NAMES.hzDev).kube, 'default').length, 3);
    t.is(s.cluster(CLUSTER_NAMES.bjProd).kube.get('secrets', 'default', 'acr-credential-fleet'), undefined);
    t.like(
      logs(lines).find((l) => l.event === 'cluster' && l.cluster === CLUSTER_NAMES.bjProd),
      { level: 'error', status: 'failed', msg: `cluster bj-prod-1: ${missing}` },
    );
  },
);

test.serial(
  'with CR throttling on, a burst of clusters fetches one token per registry, and a second tick in the same second rides Throttling.User out',
  async (t) => {
    const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
    s.cloud.throttle({ action: 'GetAuthorizationToken', ratePerSecond: 1, burst: 1 });
    const context = { requestId: 'tick', credentials: s.cloud.roleSession(s.functionRole) };
    const tick = () => handler(Buffer.from('{}'), context, () => {}) as Promise<FleetReport>;
    const first = await tick();
    t.deepEqual(first.summary, { clusters: 3, ok: 3, failed: 0 });
    const calls = () => s.cloud.requests.filter((r) => r.action === 'GetAuthorizationToken');
    const apis = new Set(calls().map((r) => `${r.product} ${r.path}`));
    t.is(calls().length, apis.size, 'one call per registry API for three clusters: nothing to throttle');
    t.false(calls().some((r) => r.code === 'Throttling.User'));
    const second = await tick();
    t.deepEqual(second.summary, { clusters: 3, ok: 3, failed: 0 }, 'converged');
    t.true(
      calls().some((r) => r.code === 'Throttling.User'),
      'the second tick was throttled',
    );
    t.is(calls().filter((r) => r.status === 200).length, 2 * apis.size, 'one token per registry per tick');
  },
);

/** A fleet of `n` ACK clusters named by index (59 bytes each), a quarter on the internet, the rest in three VPCs. */
function bigFleet(d: Record<string, unknown>, n: number): void {
  d.networks = { 'vpc-a': NET('a'), 'vpc-b': NET('b'), 'vpc-c': NET('c') };
  d.clusters = Array.from({ length: n }, (_, i) => ({
    name: `ack-${String(i).padStart(5, '0')}-${'0123456789'.repeat(5)}`,
    kubeconfig: { ackClusterId: `c${i.toString(16).padStart(8, '0')}` },
    ...(i % 4 ? { network: ['vpc-a', 'vpc-b', 'vpc-c'][(i % 4) - 1] } : {}),
  }));
}

/**
 * The timer run of a 10,000-cluster fleet through the emulator, with functions that only continue the chain
 * (dispatch measured alone: no cluster is reached).
 */
async function dispatch10k(t: Parameters<typeof sandbox>[0], maxConcurrentInvocations: number, quota: number) {
  const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
  await s.editConfig((d) => {
    (d.endpoints as Record<string, unknown>).fc = s.cloud.endpointsConfig().fc;
    d.dispatch = { maxConcurrentInvocations };
    d.shardSize = 5000;
    bigFleet(d, 10_000);
  });
  const fleet = parseFleet(readFileSync(s.configFile, 'utf8'), { file: s.configFile, env: {} });
  const role = s.cloud.addRole({
    accountId: ACCOUNT,
    name: 'acr-fleet-10k',
    actions: [],
    policy: {
      Statement: [
        { Effect: 'Allow', Action: ['fc:InvokeFunction'], Resource: [`acs:fc:*:${ACCOUNT}:functions/acr-fleet*`] },
      ],
    },
  });
  s.cloud.setFcInstanceQuota({ accountId: ACCOUNT, region: HOME_REGION, instances: quota });
  const log = createLogger({ format: 'json', write: () => {}, redactor: new Redactor() });
  for (const name of ['acr-fleet', 'acr-fleet-net-vpc-a', 'acr-fleet-net-vpc-b', 'acr-fleet-net-vpc-c'])
    s.cloud.addFunction({
      accountId: ACCOUNT,
      region: HOME_REGION,
      name,
      role,
      maxAsyncRetryAttempts: 0,
      handler: async (event, context) => {
        const payload = JSON.parse(event.toString()) as { clusters: string[] };
        await new Promise((r) => setTimeout(r, 100)); // a shard's refresh, as far as the instance count cares
        await continueChain(fleet, context, payload.clusters, false, log);
        return payload.clusters.length;
      },
    });
  const started = performance.now();
  const report = (await handler(
    Buffer.from('{}'),
    {
      credentials: s.cloud.roleSession(role),
      region: HOME_REGION,
      accountId: ACCOUNT,
      function: { name: 'acr-fleet' },
    },
    () => {},
  )) as DispatchReport;
  const queuedMs = performance.now() - started;
  await s.cloud.settled();
  const totalMs = performance.now() - started;
  return { s, report, fleet, queuedMs, totalMs };
}

test.serial(
  'a 10,000-cluster fleet in three networks is dispatched within the 128 KB payload and the instance quota',
  async (t) => {
    // An invocation holds its instance until it has queued its successor: 2 × M instances at most, for a moment.
    const max = 3;
    const quota = 2 * max;
    const { s, report, fleet, queuedMs, totalMs } = await dispatch10k(t, max, quota);
    const invocations = s.cloud.asyncInvocations;
    const bytes = invocations.map((i) => Buffer.byteLength(i.event));
    t.log(
      `10,000 clusters: ${invocations.length} invocations, largest payload ${Math.max(...bytes)} bytes, timer run ${queuedMs.toFixed(0)} ms, all chains ${totalMs.toFixed(0)} ms`,
    );
    t.true(invocations.every((i) => i.status === 'succeeded'));
    t.is(invocations.length, report.dispatch.shards);
    t.like(report.dispatch, { clusters: 10_000, queued: max, failed: 0 });
    t.true(Math.max(...bytes) <= MAX_PAYLOAD_BYTES);
    const named = invocations.flatMap((i) => (JSON.parse(i.event) as { clusters: string[] }).clusters);
    t.deepEqual(named.sort(), fleet.clusters.map((c) => c.name).sort(), 'each cluster in exactly one invocation');
    const usage = s.cloud.fcInstanceUsage(ACCOUNT, HOME_REGION);
    t.true(usage.peak <= quota, `peak ${usage.peak}`);
    t.is(usage.queuedAsync, 0, 'no invocation waited for an instance');
    t.is(usage.throttledSync, 0);
    t.false(s.cloud.requests.some((r) => r.code === 'ResourceExhausted' || r.code === 'EntityTooLarge'));
  },
);

test.serial('without the cap the same fleet would wait for instances (the quota proof can fail)', async (t) => {
  const { s } = await dispatch10k(t, 1000, 6);
  t.true(s.cloud.fcInstanceUsage(ACCOUNT, HOME_REGION).queuedAsync > 0);
});
