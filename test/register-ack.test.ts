/**
 * Issue 18, ACK clusters without kubeconfigs: `register --discovered` / `--ack-cluster-id` work with the
 * operator's own RAM identity (a temporary ACK kubeconfig, no admin file, nothing in KMS), install the
 * ClusterRole, and bind the FUNCTION's RAM role to it with GrantPermissions, keeping the role's other grants.
 * The function then refreshes a cluster where all it has is that binding (made by ACK: the emulator's onRbac).
 */
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { credentialFromEnv } from '../src/cloud/credentials.js';
import { CsApi } from '../src/cloud/cs.js';
import { SdkOpenApiCaller } from '../src/cloud/openapi.js';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import type { AckRbacHook } from './emulators/alibaba/index.js';
import type { KubeEmulator } from './emulators/kube/index.js';
import { loginDomains, SECRET } from './support/assert.js';
import { cli } from './support/cli.js';
import { ACCOUNT } from './support/fleet.js';
import { sandbox, type Sandbox } from './support/sandbox.js';

const TAGS = { 'acr-fleet': 'enabled' };
const FUNCTION_ACTIONS = [
  'cr:GetAuthorizationToken',
  'cr:ListInstanceEndpoint',
  'cs:DescribeClusterUserKubeconfig',
  'cs:GetClusters',
];
const OPERATOR_ACTIONS = [
  'cs:DescribeClusterUserKubeconfig',
  'cs:GetClusters',
  'cs:GrantPermission',
  'cs:GetUserPermissions',
  'ram:GetRole',
];

const timerEvent = () =>
  Buffer.from(JSON.stringify({ triggerTime: '2026-12-07T04:00:00Z', triggerName: 'every-5m', payload: '{}' }));

/** What ACK does after GrantPermissions: the uid's bindings in the cluster (seeded; this test never removes). */
const seedBindings =
  (kube: KubeEmulator): AckRbacHook =>
  ({ bindings }) => {
    for (const b of bindings)
      kube.seed('clusterrolebindings', {
        metadata: { name: b.name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: b.clusterRole },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: b.user }],
      });
  };

interface World {
  s: Sandbox;
  role: string;
  roleUid: string;
  operator: Record<string, string>;
  operatorUid: string;
  kubes: Map<string, KubeEmulator>;
}

/**
 * A discovery-only fleet: tagged clusters c0tagged (cn-hangzhou) and c1tagged (cn-beijing), untagged c2other;
 * an operator bound to cluster-admin in each (ACK's binding for its RAM user id), and, unless
 * `operatorIsAdmin: false`, RBAC administrator of each in ACK (who may call GrantPermissions on it).
 */
async function world(s: Sandbox, opts: { operatorIsAdmin?: boolean } = {}): Promise<World> {
  const role = s.cloud.addRole({ accountId: ACCOUNT, name: 'acr-fleet-fn', actions: FUNCTION_ACTIONS });
  const operator = s.operatorEnv(OPERATOR_ACTIONS);
  const operatorUid = s.cloud.ackUserName({ accessKeyId: operator.ALIBABA_CLOUD_ACCESS_KEY_ID! });
  await s.editConfig((d) => {
    delete d.clusters;
    // The emulated API servers listen on 127.0.0.1, which the operator allows.
    d.discovery = [{ ack: { regions: ['cn-hangzhou', 'cn-beijing'], tags: TAGS, allowPrivateAddress: true } }];
    (d.endpoints as Record<string, unknown>).ram = { 'cn-hangzhou': s.cloud.endpoint('ram', 'cn-hangzhou') };
  });
  const kubes = new Map<string, KubeEmulator>();
  const seeds = [
    { region: 'cn-hangzhou', clusterId: 'c0tagged', name: 'shop-hz', tags: TAGS },
    { region: 'cn-beijing', clusterId: 'c1tagged', name: 'shop-bj', tags: TAGS },
    { region: 'cn-hangzhou', clusterId: 'c2other', name: 'other', tags: {} },
  ];
  for (const seed of seeds) {
    const kube = await s.startCluster();
    kube.seed('serviceaccounts', { metadata: { namespace: 'default', name: 'default' } });
    kube.seed('clusterrolebindings', {
      metadata: { name: `${operatorUid}-cluster-admin-clusterrolebinding` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: operatorUid }],
    });
    s.cloud.addAckCluster({
      accountId: ACCOUNT,
      ...seed,
      kube,
      rbacAdmins: (opts.operatorIsAdmin ?? true) ? [operatorUid] : [],
      onRbac: seedBindings(kube),
    });
    kubes.set(seed.clusterId, kube);
  }
  return { s, role, roleUid: s.cloud.ackUserName(role), operator, operatorUid, kubes };
}

test.serial(
  'register --discovered binds the function role through GrantPermissions (other grants kept), then the function refreshes with that binding alone',
  async (t) => {
    const s = await sandbox(t, { functionConfig: true });
    const w = await world(s);
    // The role already holds a grant someone else made: GrantPermissions replaces all, so it must survive.
    const root = new CsApi(
      new SdkOpenApiCaller({
        endpoints: { cs: s.cloud.endpointsConfig().cs },
        credential: credentialFromEnv({
          ALIBABA_CLOUD_ACCESS_KEY_ID: s.cloud.rootCredentials(ACCOUNT).accessKeyId,
          ALIBABA_CLOUD_ACCESS_KEY_SECRET: s.cloud.rootCredentials(ACCOUNT).accessKeySecret,
        }),
      }),
    );
    const other = {
      cluster: 'c2other',
      role_name: 'dev',
      role_type: 'namespace' as const,
      namespace: 'team-x',
      is_custom: false,
      is_ram_role: true,
    };
    await root.grantPermissions('cn-hangzhou', w.roleUid, [other]);
    const before = s.cloud.requests.length;

    const fleetYaml = await readFile(s.configFile, 'utf8');
    const reg = await cli(['register', '--discovered', '--function-role-arn', w.role], {
      cwd: s.dir,
      env: w.operator,
    });
    t.is(reg.code, 0, reg.stderr);
    t.is(reg.stdout, 'registered cluster shop-bj\nregistered cluster shop-hz\n');
    t.regex(reg.stderr, /function role acr-fleet-fn: grant: bound to ClusterRole acr-fleet in shop-bj, shop-hz/);
    t.is(await readFile(s.configFile, 'utf8'), fleetYaml, 'fleet.yaml unchanged: discovery finds them');

    const grantOf = (cluster: string) => ({
      cluster,
      role_name: 'acr-fleet',
      role_type: 'cluster',
      namespace: '',
      is_custom: true,
      is_ram_role: true,
    });
    t.deepEqual(s.cloud.ackGrants(ACCOUNT, w.roleUid), [other, grantOf('c1tagged'), grantOf('c0tagged')]);
    const operatorRun = s.cloud.requests.slice(before);
    t.deepEqual(
      operatorRun.filter((r) => r.product === 'kms'),
      [],
      'nothing stored in KMS',
    );
    t.deepEqual(
      s.cloud.ackKubeconfigs.map((k) => [k.clusterId, k.user, k.minutes]).sort(),
      [
        ['c0tagged', w.operatorUid, 15],
        ['c1tagged', w.operatorUid, 15],
      ],
      "the operator's own short-lived kubeconfigs, for the tagged clusters only",
    );
    for (const id of ['c0tagged', 'c1tagged']) {
      const kube = w.kubes.get(id)!;
      t.truthy(kube.get('clusterroles', undefined, 'acr-fleet'), `${id}: ClusterRole installed`);
      t.is(kube.get('serviceaccounts', 'kube-system', 'acr-fleet'), undefined, `${id}: no ServiceAccount, no token`);
    }
    t.is(w.kubes.get('c2other')!.get('clusterroles', undefined, 'acr-fleet'), undefined);

    const report = (await handler(timerEvent(), { credentials: s.cloud.roleSession(w.role) }, () => {})) as FleetReport;
    t.deepEqual(
      report.clusters.map((c) => [c.name, c.status, c.error]),
      [
        ['shop-bj', 'ok', undefined],
        ['shop-hz', 'ok', undefined],
      ],
    );
    t.is(loginDomains(s.cloud, w.kubes.get('c0tagged')!, 'default').length, 5);

    const grants = s.cloud.requests.filter((r) => r.action === 'GrantPermissions').length;
    const again = await cli(['register', '--discovered', '--function-role-arn', w.role], {
      cwd: s.dir,
      env: w.operator,
    });
    t.is(again.code, 0, again.stderr);
    t.is(again.stdout, 'nothing to register\n');
    t.is(
      s.cloud.requests.filter((r) => r.action === 'GrantPermissions').length,
      grants,
      'no write when nothing changed',
    );

    const dereg = await cli(['deregister', '--ack-cluster-id', 'c0tagged', '--function-role-arn', w.role], {
      cwd: s.dir,
      env: w.operator,
    });
    t.is(dereg.code, 0, dereg.stderr);
    t.is(dereg.stdout, 'deregistered cluster shop-hz\n');
    t.deepEqual(s.cloud.ackGrants(ACCOUNT, w.roleUid), [other, grantOf('c1tagged')], 'only our grant there removed');
    const hz = w.kubes.get('c0tagged')!;
    t.is(hz.get('clusterroles', undefined, 'acr-fleet'), undefined, 'ClusterRole deleted');
    t.is(hz.get('secrets', 'default', SECRET), undefined, 'Secret deleted');
    t.regex(dereg.stderr, /shop-hz: still found by discovery\[0\]: remove its tag/);
  },
);

test('register --ack-cluster-id adds the cluster to fleet.yaml under its ACK name, with no kubeconfig stored', async (t) => {
  const s = await sandbox(t);
  const w = await world(s);
  const out = await cli(['register', '--ack-cluster-id', 'c2other', '--function-role-arn', w.role], {
    cwd: s.dir,
    env: w.operator,
  });
  t.is(out.code, 0, out.stderr);
  t.is(out.stdout, 'registered cluster other\n');
  t.regex(
    await readFile(s.configFile, 'utf8'),
    /- name: other\n\s+kubeconfig: \{ ackClusterId: c2other, regionId: cn-hangzhou \}/,
  );
  t.deepEqual(
    s.cloud.ackGrants(ACCOUNT, w.roleUid).map((g) => g.cluster),
    ['c2other'],
  );
  t.deepEqual(
    s.cloud.requests.filter((r) => r.product === 'kms'),
    [],
  );
});

test('an operator who is not an RBAC administrator in ACK is told so, and nothing is granted', async (t) => {
  const s = await sandbox(t);
  const w = await world(s, { operatorIsAdmin: false });
  const out = await cli(['register', '--discovered', '--function-role-arn', w.role], { cwd: s.dir, env: w.operator });
  t.is(out.code, 1);
  t.regex(
    out.stderr,
    /\nacr-fleet register: function role acr-fleet-fn: grant: GrantPermissions: ForbiddenGrantPermissions \(HTTP 403\): The caller is not an RBAC administrator of cluster c1tagged\. \(the operator must be an RBAC administrator in ACK \(console: Authorizations\) of every cluster the function's role has grants on\)\n$/,
  );
  t.deepEqual(s.cloud.ackGrants(ACCOUNT, w.roleUid), []);
});

test('register of an ACK cluster without the function role says where it comes from', async (t) => {
  const s = await sandbox(t);
  const w = await world(s);
  const out = await cli(['register', '--discovered'], { cwd: s.dir, env: w.operator });
  t.is(out.code, 1);
  t.is(
    out.stderr,
    "acr-fleet register: --function-role-arn: required (or ACR_FLEET_FUNCTION_ROLE_ARN): the RAM role of the deployed function, which ACK grants acr-fleet's ClusterRole\n",
  );
});

test("policy renders the function's discovery and kubeconfig rights, and with --operator the operator's", async (t) => {
  const s = await sandbox(t);
  const w = await world(s);
  const fn = await cli(['policy', '--account-id', ACCOUNT], { cwd: s.dir, env: w.operator });
  t.is(fn.code, 0, fn.stderr);
  const doc = JSON.parse(fn.stdout) as { Statement: { Action: string[]; Resource: string[] }[] };
  const of = (action: string) => doc.Statement.find((x) => x.Action[0] === action)?.Resource;
  t.deepEqual(of('cs:GetClusters'), [`acs:cs:*:${ACCOUNT}:cluster/*`]);
  t.deepEqual(of('cs:DescribeClusterUserKubeconfig'), [
    `acs:cs:cn-beijing:${ACCOUNT}:cluster/c1tagged`,
    `acs:cs:cn-hangzhou:${ACCOUNT}:cluster/c0tagged`,
  ]);
  t.regex(fn.stderr, /discovery: discovery\[0\] \(ack cn-hangzhou, cn-beijing; acr-fleet=enabled\): 2 cluster\(s\)/);

  const op = await cli(['policy', '--operator', '--account-id', ACCOUNT, '--function-role-arn', w.role], {
    cwd: s.dir,
    env: w.operator,
  });
  t.is(op.code, 0, op.stderr);
  const operatorDoc = JSON.parse(op.stdout) as { Statement: { Action: string[]; Resource: string[] }[] };
  t.deepEqual(
    operatorDoc.Statement.map((x) => x.Action[0]),
    [
      'cs:DescribeClusterUserKubeconfig',
      'cs:GetClusters',
      'cs:GetUserPermissions',
      'cs:GrantPermission',
      'ram:GetRole',
    ],
  );
  t.deepEqual(operatorDoc.Statement.find((x) => x.Action[0] === 'ram:GetRole')?.Resource, [
    `acs:ram:*:${ACCOUNT}:role/acr-fleet-fn`,
  ]);
});
