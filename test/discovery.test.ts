/**
 * Issue 18, discovery: fleet.yaml's `discovery:` finds ACK clusters by regions and tags (one paged
 * DescribeClustersV1 listing per region and run); each found cluster is refreshed through a 15-minute ACK
 * kubeconfig of the function's own role, nothing stored in KMS. A failed listing fails its source only,
 * named, and removes nothing; explicit entries win; colliding names get stable distinct names.
 */
import test from 'ava';
import { discoverClusters, type ClusterLister, type ListedCluster } from '../src/config/discover.js';
import { parseFleet } from '../src/config/load.js';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { rbacObjects } from '../src/policy/rbac.js';
import type { KubeEmulator } from './emulators/kube/index.js';
import { loginDomains, SECRET } from './support/assert.js';
import { cli } from './support/cli.js';
import { ACCOUNT } from './support/fleet.js';
import { readReport } from './support/parse.js';
import { sandbox, type Sandbox } from './support/sandbox.js';

const REGIONS = ['cn-hangzhou', 'cn-beijing', 'cn-shanghai'];
const TAGS = { 'acr-fleet': 'enabled' };
const FUNCTION_ACTIONS = [
  'cr:GetAuthorizationToken',
  'cr:ListInstanceEndpoint',
  'cs:DescribeClusterUserKubeconfig',
  'cs:GetClusters',
];

const timerEvent = () =>
  Buffer.from(JSON.stringify({ triggerTime: '2026-12-07T04:00:00Z', triggerName: 'every-5m', payload: '{}' }));

/** A discovery-only fleet over the sandbox's registries (its own file clusters removed). */
function discoveryOnly(d: Record<string, unknown>): void {
  delete d.clusters;
  d.discovery = [{ ack: { regions: REGIONS, tags: TAGS, allowPrivateAddress: true } }];
}

/** Grants `user` acr-fleet's ClusterRole in `kube`, as ACK's binding for a GrantPermissions would. */
function bindFleetRole(kube: KubeEmulator, user: string): void {
  const [role] = rbacObjects({
    secretNames: [SECRET],
    serviceAccounts: ['default'],
    retiringServiceAccounts: [],
    configmap: false,
  }).filter((o) => o.kind === 'ClusterRole');
  kube.seed('clusterroles', role!);
  kube.seed('clusterrolebindings', {
    metadata: { name: `${user}-acr-fleet-clusterrolebinding` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'acr-fleet' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: user }],
  });
}

interface AckSeed {
  region: string;
  clusterId: string;
  name: string;
  tagged: boolean;
}

/** ACK clusters, each served by its own kube emulator with a `default` ServiceAccount. */
async function addClusters(s: Sandbox, seeds: AckSeed[], bindUser?: string): Promise<Map<string, KubeEmulator>> {
  const kubes = new Map<string, KubeEmulator>();
  for (const seed of seeds) {
    const kube = await s.startCluster();
    kube.seed('serviceaccounts', { metadata: { namespace: 'default', name: 'default' } });
    if (bindUser) bindFleetRole(kube, bindUser);
    s.cloud.addAckCluster({
      accountId: ACCOUNT,
      region: seed.region,
      clusterId: seed.clusterId,
      name: seed.name,
      tags: seed.tagged ? TAGS : { team: 'other' },
      kube,
    });
    kubes.set(seed.clusterId, kube);
  }
  return kubes;
}

/** Three regions, a tagged and an untagged cluster in each. */
const THREE_BY_TWO: AckSeed[] = REGIONS.flatMap((region, i) => [
  { region, clusterId: `c${i}tagged`, name: `Shop ${region.toUpperCase()}`, tagged: true },
  { region, clusterId: `c${i}untagged`, name: `legacy-${region}`, tagged: false },
]);

test.serial(
  'a discovery-only fleet over 3 regions refreshes exactly the tagged clusters, with 15-minute ACK kubeconfigs and nothing in KMS',
  async (t) => {
    const s = await sandbox(t, { regions: REGIONS, functionConfig: true, editConfig: discoveryOnly });
    const role = s.cloud.addRole({ accountId: ACCOUNT, name: 'acr-fleet-fn', actions: FUNCTION_ACTIONS });
    const kubes = await addClusters(s, THREE_BY_TWO, s.cloud.ackUserName(role));

    const report = (await handler(timerEvent(), { credentials: s.cloud.roleSession(role) }, () => {})) as FleetReport;

    t.deepEqual(report.clusters.map((c) => c.name).sort(), ['shop-cn-beijing', 'shop-cn-hangzhou', 'shop-cn-shanghai']);
    t.deepEqual(report.summary, { clusters: 3, ok: 3, failed: 0 });
    for (const seed of THREE_BY_TWO) {
      const kube = kubes.get(seed.clusterId)!;
      if (seed.tagged) t.is(loginDomains(s.cloud, kube, 'default').length, 5, `${seed.clusterId} has its Secret`);
      else t.deepEqual(kube.requests.length, 0, `${seed.clusterId} (untagged) was never contacted`);
    }
    t.deepEqual(
      s.cloud.ackKubeconfigs.map((k) => [k.clusterId, k.minutes]).sort(),
      [
        ['c0tagged', 15],
        ['c1tagged', 15],
        ['c2tagged', 15],
      ],
      'one 15-minute kubeconfig per tagged cluster, none for the others',
    );
    t.deepEqual(s.cloud.requests.filter((r) => r.action === 'DescribeClustersV1').length, 3, 'one listing per region');
    t.deepEqual(
      s.cloud.requests.filter((r) => r.product === 'kms'),
      [],
      'nothing read from or stored in KMS',
    );
    t.deepEqual(
      report.discovery?.map((d) => [d.source, d.clusters.length, d.errors]),
      [['discovery[0]', 3, undefined]],
    );
  },
);

test.serial('a listing that fails in one region fails only that source, named, and deletes nothing', async (t) => {
  const edit = (d: Record<string, unknown>) => {
    delete d.clusters;
    d.discovery = [
      { ack: { regions: ['cn-hangzhou'], tags: TAGS, allowPrivateAddress: true } },
      { ack: { regions: ['cn-beijing'], tags: TAGS, allowPrivateAddress: true } },
    ];
  };
  const s = await sandbox(t, { regions: REGIONS, editConfig: edit });
  const role = s.cloud.addRole({ accountId: ACCOUNT, name: 'acr-fleet-fn', actions: FUNCTION_ACTIONS });
  const seeds = THREE_BY_TWO.filter((x) => x.region !== 'cn-shanghai');
  // The CLI runs as a RAM user: bind its Kubernetes user in every cluster.
  const user = s.operatorEnv(FUNCTION_ACTIONS, 'fleet-runner');
  const kubes = await addClusters(s, seeds, s.cloud.ackUserName({ accessKeyId: user.ALIBABA_CLOUD_ACCESS_KEY_ID! }));
  void role;

  const first = await cli(['refresh', '--json'], { cwd: s.dir, env: user });
  t.is(first.code, 0, first.stderr);
  const bj = kubes.get('c1tagged')!;
  const before = bj.get('secrets', 'default', SECRET) as { metadata: { uid: string } };

  s.cloud.injectError({
    action: 'DescribeClustersV1',
    region: 'cn-beijing',
    status: 503,
    code: 'ServiceUnavailable',
    times: 10,
  });
  bj.resetRequests();
  const second = await cli(['refresh', '--json'], { cwd: s.dir, env: user });
  t.is(second.code, 1, 'a failed listing fails the run');
  const report = readReport(second.stdout);
  t.deepEqual(
    report.clusters.map((c) => [c.name, c.status]),
    [['shop-cn-hangzhou', 'ok']],
  );
  const failed = report.discovery?.find((d) => d.source === 'discovery[1]');
  t.regex(
    failed?.errors?.[0] ?? '',
    /^discovery\[1\] \(ack cn-beijing; acr-fleet=enabled\): cn-beijing: DescribeClustersV1: ServiceUnavailable \(HTTP 503\)/,
  );
  t.is(report.discovery?.find((d) => d.source === 'discovery[0]')?.errors, undefined, 'the other source is fine');
  t.regex(second.stderr, /discovery\[1\] \(ack cn-beijing; acr-fleet=enabled\): cn-beijing: DescribeClustersV1/);
  t.is(bj.requests.length, 0, 'the cluster that vanished from the listing was not touched');
  t.is(
    (bj.get('secrets', 'default', SECRET) as { metadata: { uid: string } }).metadata.uid,
    before.metadata.uid,
    'its Secret is still there',
  );
});

test.serial('an explicit clusters: entry wins over the discovered one of the same cluster id', async (t) => {
  const edit = (d: Record<string, unknown>) => {
    d.clusters = [
      {
        name: 'payments',
        kubeconfig: { ackClusterId: 'c0tagged', regionId: 'cn-hangzhou', allowPrivateAddress: true },
        watchNamespace: 'all',
      },
    ];
    d.discovery = [
      {
        ack: {
          regions: ['cn-hangzhou'],
          tags: TAGS,
          allowPrivateAddress: true,
          settings: { watchNamespace: 'default' },
        },
      },
    ];
  };
  const s = await sandbox(t, { regions: REGIONS, editConfig: edit });
  const user = s.operatorEnv(FUNCTION_ACTIONS, 'fleet-runner');
  await addClusters(
    s,
    THREE_BY_TWO.filter((x) => x.region === 'cn-hangzhou'),
    s.cloud.ackUserName({ accessKeyId: user.ALIBABA_CLOUD_ACCESS_KEY_ID! }),
  );
  const out = await cli(['refresh', '--dry-run', '--json'], { cwd: s.dir, env: user });
  t.is(out.code, 0, out.stderr);
  const report = readReport(out.stdout);
  t.deepEqual(
    report.clusters.map((c) => c.name),
    ['payments'],
  );
  t.like(report.discovery?.[0], { clusters: [], claimed: 1 });
  const validate = await cli(['validate'], { cwd: s.dir, env: user });
  t.is(validate.code, 0, validate.stderr);
  t.regex(
    validate.stdout,
    /fleet\.yaml: discovery\[0\] \(ack cn-hangzhou; acr-fleet=enabled\): 0 cluster\(s\); 1 taken by clusters: or an earlier source/,
  );
});

/** A lister over fixed listings, counting calls. */
function fixedLister(byRegion: Record<string, ListedCluster[]>): ClusterLister & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ackClusters: (region) => (calls.push(region), Promise.resolve(byRegion[region] ?? [])),
    ackOneMembers: () => Promise.resolve([]),
  };
}

const listed = (clusterId: string, name: string, created: string, regionId = 'cn-hangzhou'): ListedCluster => ({
  clusterId,
  name,
  regionId,
  state: 'running',
  tags: TAGS,
  created,
});

test('clusters sharing a name get stable distinct names: the oldest keeps it, the others add their id prefix', async (t) => {
  const fleet = parseFleet(
    [
      'regionId: cn-hangzhou',
      'registries: [{ name: pe, instanceId: "" }]',
      'clusters:',
      '  - { name: web, kubeconfig: { ackClusterId: cexplicit } }',
      'discovery:',
      '  - ack: { regions: [cn-hangzhou, cn-beijing], tags: { acr-fleet: enabled } }',
    ].join('\n'),
    { file: 'fleet.yaml' },
  );
  const older = listed('cbbbbbb222', 'Shop', '2025-01-01T00:00:00Z');
  const newer = listed('caaaaaa111', 'shop', '2026-01-01T00:00:00Z', 'cn-beijing');
  const web = listed('cccccc3333', 'WEB', '2024-01-01T00:00:00Z');
  const names = async (hz: ListedCluster[], bj: ListedCluster[]) =>
    (await discoverClusters(fleet, fixedLister({ 'cn-hangzhou': hz, 'cn-beijing': bj }))).fleet.clusters
      .map((c) => `${c.name}=${c.kubeconfig.kind === 'ack' ? c.kubeconfig.clusterId : ''}`)
      .sort();
  const expected = ['shop-caaaaa=caaaaaa111', 'shop=cbbbbbb222', 'web-cccccc=cccccc3333', 'web=cexplicit'];
  t.deepEqual(await names([older, web], [newer]), expected);
  t.deepEqual(await names([web, older], [newer]), expected, 'listing order does not matter');
  const lister = fixedLister({ 'cn-hangzhou': [older] });
  const { fleet: alone } = await discoverClusters(fleet, lister);
  t.deepEqual(
    alone.clusters.map((c) => c.name),
    ['web', 'shop'],
    'a cluster alone keeps its plain name',
  );
  t.deepEqual(lister.calls.sort(), ['cn-beijing', 'cn-hangzhou']);
});

test('discovery: is validated in the one pass, with the cluster requirement and registry references', (t) => {
  const error = t.throws(() =>
    parseFleet(
      [
        'registries: [{ name: pe, instanceId: "" }]',
        'discovery:',
        '  - ack: { regions: [cn-hangzhou, "cn hangzhou"], tags: {}, settings: { registries: [ep] } }',
        '  - ackOne: { hubClusterId: hub }',
        '  - eks: {}',
      ].join('\n'),
      { file: 'fleet.yaml', env: {} },
    ),
  );
  t.is(
    error?.message,
    [
      'fleet.yaml: discovery[0].ack.regions[1]: expected a region id such as cn-hangzhou',
      'fleet.yaml: discovery[0].ack.tags: expected at least one tag (key: value)',
      'fleet.yaml: discovery[1].ackOne.hubClusterId: expected the ACK One fleet instance (hub cluster) id, such as c4f2a1b9e8d7c6b5a',
      'fleet.yaml: discovery[2]: expected { ack: { regions, tags } } or { ackOne: { hubClusterId } }',
      'fleet.yaml: discovery[0].ack.settings.registries[0]: unknown registry "ep" (defined: pe)',
    ].join('\n'),
  );
  const none = t.throws(() => parseFleet('registries: [{ name: pe, instanceId: "" }]\n', { file: 'fleet.yaml' }));
  t.is(none?.message, 'fleet.yaml: clusters: required (or discovery:)');
});

test('an ACK One source finds the serving members of its fleet instance, shown by validate --json', async (t) => {
  const edit = (d: Record<string, unknown>) => {
    delete d.clusters;
    d.discovery = [{ ackOne: { hubClusterId: 'chub1', region: 'cn-hangzhou', allowPrivateAddress: true } }];
  };
  const s = await sandbox(t, { editConfig: edit });
  await s.editConfig((d) => {
    (d.endpoints as Record<string, unknown>).adcp = { 'cn-hangzhou': s.cloud.endpoint('adcp', 'cn-hangzhou') };
  });
  s.cloud.addAckOneFleet({
    accountId: ACCOUNT,
    region: 'cn-hangzhou',
    hubClusterId: 'chub1',
    members: [
      { clusterId: 'cm1', name: 'Member One', region: 'cn-beijing' },
      { clusterId: 'cm2', name: 'member-two', region: 'cn-hangzhou', state: 'deleting' },
    ],
  });
  const user = s.operatorEnv(['adcp:DescribeManagedClusters'], 'fleet-viewer');
  const out = await cli(['validate', '--json'], { cwd: s.dir, env: user });
  t.is(out.code, 0, out.stderr);
  const doc = JSON.parse(out.stdout) as { valid: boolean; discovery: unknown[] };
  t.true(doc.valid);
  t.deepEqual(doc.discovery, [
    {
      source: 'discovery[0]',
      label: 'discovery[0] (ackOne chub1 in cn-hangzhou)',
      clusters: ['member-one'],
      claimed: 0,
      skipped: 1,
    },
  ]);
});
