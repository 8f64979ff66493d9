// The Alibaba emulator's fleet-onboarding surface (issue 18) and its hostile endpoint (issue 15), driven by the
// real SDK clients: ACK cluster listing, temporary kubeconfigs mapped to RAM identities, RBAC grants, ACK One
// fleet members, and the cloud's limits (FC payloads and instance quota, RAM policy size, token throttling).
import test, { type ExecutionContext } from 'ava';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import FcSdk from '@alicloud/fc20230330';
import OpenApi from '@alicloud/openapi-client';
import OpenApiUtilPkg from '@alicloud/openapi-util';
import TeaUtil from '@alicloud/tea-util';
import { AlibabaEmulator, type AckBinding, type Credentials } from './alibaba/index.js';
import { KubeEmulator } from './kube/index.js';

const Client = OpenApi.default;
const OpenApiUtil = OpenApiUtilPkg.default;
type SdkClient = InstanceType<typeof Client>;
type SdkError = Error & { code?: string; statusCode?: number };

const HZ = 'cn-hangzhou';
const BJ = 'cn-beijing';
const SH = 'cn-shanghai';
const ACCOUNT = '1234567890123456';

async function emulator(t: ExecutionContext): Promise<AlibabaEmulator> {
  const emu = await AlibabaEmulator.start();
  t.teardown(() => emu.close());
  emu.createAccount(ACCOUNT);
  return emu;
}

function sdk(url: string, creds: Credentials): SdkClient {
  const u = new URL(url);
  return new Client(
    new OpenApi.Config({ ...creds, endpoint: u.host, protocol: u.protocol.replace(':', ''), regionId: HZ }),
  );
}

const runtime = () => new TeaUtil.RuntimeOptions({});

/** An ROA call with the Params cs-20151215 generates (JSON request body, `bodyType` json or array). */
async function roa(
  c: SdkClient,
  o: {
    action: string;
    method: string;
    pathname: string;
    query?: Record<string, unknown>;
    body?: unknown;
    bodyType?: string;
    version?: string;
  },
): Promise<unknown> {
  const params = new OpenApi.Params({
    action: o.action,
    version: o.version ?? '2015-12-15',
    protocol: 'HTTPS',
    pathname: o.pathname,
    method: o.method,
    authType: 'AK',
    style: 'ROA',
    reqBodyType: 'json',
    bodyType: o.bodyType ?? 'json',
  });
  const req = new OpenApi.OpenApiRequest({
    query: OpenApiUtil.query(o.query ?? {}),
    ...(o.body === undefined ? {} : { body: o.body }),
  });
  return (await c.callApi(params, req, runtime())).body;
}

async function rpc(c: SdkClient, action: string, version: string, query: Record<string, unknown>) {
  const params = new OpenApi.Params({
    action,
    version,
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const res = await c.callApi(params, new OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) }), runtime());
  return res.body as Record<string, unknown>;
}

async function fails(t: ExecutionContext, call: Promise<unknown>, code: string, status: number): Promise<SdkError> {
  const err = (await t.throwsAsync(call)) as SdkError;
  t.is(err.code, code, err.message);
  t.is(err.statusCode, status, err.message);
  return err;
}

interface ClusterEntry {
  cluster_id: string;
  name: string;
  region_id: string;
  state: string;
  cluster_type: string;
  profile: string;
  vpc_id: string;
  current_version: string;
  tags: { key: string; value: string }[];
}
interface ClusterPage {
  clusters: ClusterEntry[];
  page_info: { page_number: number; page_size: number; total_count: number };
}

const listClusters = (c: SdkClient, query: Record<string, unknown>) =>
  roa(c, { action: 'DescribeClustersV1', method: 'GET', pathname: '/api/v1/clusters', query }) as Promise<ClusterPage>;

const noKubeconfig = () => 'apiVersion: v1';

// ---------------------------------------------------------------- ACK cluster listing

test('DescribeClustersV1 lists every cluster of the account with tags and VPC, page by page, at most 100 a page', async (t) => {
  const emu = await emulator(t);
  for (let i = 0; i < 230; i++)
    emu.addAckCluster({
      accountId: ACCOUNT,
      region: HZ,
      clusterId: `c${String(i).padStart(3, '0')}`,
      name: `shop-${i}`,
      vpcId: `vpc-${i % 3}`,
      tags: i % 2 ? { fleet: 'acr' } : {},
      kubeconfig: noKubeconfig,
    });
  emu.createAccount('999');
  emu.addAckCluster({ accountId: '999', region: HZ, clusterId: 'foreign', kubeconfig: noKubeconfig });
  const client = sdk(
    emu.endpoint('cs', HZ),
    emu.addUser({ accountId: ACCOUNT, name: 'lister', actions: ['cs:GetClusters'] }),
  );

  const seen: ClusterEntry[] = [];
  for (let page = 1; ; page++) {
    const res = await listClusters(client, { region_id: HZ, page_size: 500, page_number: page });
    t.deepEqual(res.page_info, { page_number: page, page_size: 100, total_count: 230 });
    seen.push(...res.clusters);
    if (res.clusters.length < 100) break;
  }
  t.is(seen.length, 230);
  t.is(new Set(seen.map((c) => c.cluster_id)).size, 230);
  t.false(seen.some((c) => c.cluster_id === 'foreign'));
  t.like(seen[1], {
    cluster_id: 'c001',
    name: 'shop-1',
    region_id: HZ,
    state: 'running',
    cluster_type: 'ManagedKubernetes',
    vpc_id: 'vpc-1',
  });
  t.deepEqual(seen[1]?.tags, [{ key: 'fleet', value: 'acr' }]);
  t.deepEqual(seen[0]?.tags, []);

  const firstPage = await listClusters(client, {});
  t.deepEqual(firstPage.page_info, { page_number: 1, page_size: 10, total_count: 230 });
});

test('DescribeClustersV1 filters by region, name, cluster type, spec and profile but not by tag', async (t) => {
  const emu = await emulator(t);
  const seed = [
    { clusterId: 'a', region: HZ, name: 'prod-web', tags: { team: 'web' } },
    { clusterId: 'b', region: BJ, name: 'prod-api', clusterSpec: 'ack.standard' },
    { clusterId: 'c', region: SH, name: 'edge-1', profile: 'Edge' },
    { clusterId: 'd', region: SH, name: 'dedicated', clusterType: 'Kubernetes' },
  ];
  for (const s of seed) emu.addAckCluster({ accountId: ACCOUNT, kubeconfig: noKubeconfig, ...s });
  const client = sdk(emu.endpoint('cs', SH), emu.rootCredentials(ACCOUNT));
  const ids = async (query: Record<string, unknown>) =>
    (await listClusters(client, query)).clusters.map((c) => c.cluster_id);
  const cases: [Record<string, unknown>, string[]][] = [
    [{}, ['a', 'b', 'c', 'd']],
    [{ region_id: SH }, ['c', 'd']],
    [{ name: 'prod' }, ['a', 'b']],
    [{ cluster_type: 'Kubernetes' }, ['d']],
    [{ cluster_spec: 'ack.standard' }, ['b']],
    [{ profile: 'Edge' }, ['c']],
    [{ cluster_id: 'b' }, ['b']],
    [{ tags: 'team=web', tag: 'team' }, ['a', 'b', 'c', 'd']],
  ];
  for (const [query, expected] of cases) t.deepEqual(await ids(query), expected, JSON.stringify(query));
});

test('DescribeClustersV1 needs cs:GetClusters and refuses a page number that is not a positive integer', async (t) => {
  const emu = await emulator(t);
  const other = emu.addUser({ accountId: ACCOUNT, name: 'kms-only', actions: ['kms:*'] });
  await fails(t, listClusters(sdk(emu.endpoint('cs', HZ), other), {}), 'ErrorCheckAcl', 403);
  await fails(
    t,
    listClusters(sdk(emu.endpoint('cs', HZ), emu.rootCredentials(ACCOUNT)), { page_number: 0 }),
    'ErrorParamInvalid',
    400,
  );
});

// ---------------------------------------------------------------- temporary kubeconfigs and RAM identities

const kubeconfigOf = (c: SdkClient, clusterId: string, minutes?: number) =>
  roa(c, {
    action: 'DescribeClusterUserKubeconfig',
    method: 'GET',
    pathname: `/k8s/${clusterId}/user_config`,
    query: { PrivateIpAddress: false, ...(minutes ? { TemporaryDurationMinutes: minutes } : {}) },
  }) as Promise<{ config: string; expiration: string }>;

test('a temporary kubeconfig authenticates in the cluster as the caller RAM id: UserId for a user, RoleId for every session of a role', async (t) => {
  const emu = await emulator(t);
  const kube = await KubeEmulator.start();
  t.teardown(() => kube.close());
  emu.addAckCluster({ accountId: ACCOUNT, region: HZ, clusterId: 'c1', kube });
  const user = emu.addUser({ accountId: ACCOUNT, name: 'operator', actions: ['cs:*'] });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'acr-fleet', actions: ['cs:*', 'sts:GetCallerIdentity'] });
  const sessions = [emu.roleSession(role), emu.roleSession(role)];

  const res = await kubeconfigOf(sdk(emu.endpoint('cs', HZ), user), 'c1', 15);
  t.true(Math.abs(Date.parse(res.expiration) - (Date.now() + 15 * 60_000)) < 5000);
  for (const s of sessions) await kubeconfigOf(sdk(emu.endpoint('cs', HZ), s), 'c1', 15);

  const userId = emu.ackUserName(user);
  const roleId = emu.ackUserName(role);
  t.regex(userId, /^\d{17}$/);
  t.regex(roleId, /^\d{18}$/);
  t.is(emu.ackUserName(sessions[0] as Credentials), roleId);
  t.deepEqual(
    emu.ackKubeconfigs.map((k) => [k.clusterId, k.user, k.minutes]),
    [
      ['c1', userId, 15],
      ['c1', roleId, 15],
      ['c1', roleId, 15],
    ],
  );
  // STS reports the same RoleId that names the Kubernetes user.
  const who = await rpc(
    sdk(emu.endpoint('sts', HZ), sessions[0] as Credentials),
    'GetCallerIdentity',
    '2015-04-01',
    {},
  );
  t.is(who.RoleId, roleId);

  // The kubeconfig works against the kube emulator as that user: authenticated (no 401), but without RBAC (403).
  const kc = new KubeConfig();
  kc.loadFromString(res.config);
  const err = (await t.throwsAsync(
    kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'default' }),
  )) as ApiException<string>;
  t.is(err.code, 403);
  t.regex(
    (JSON.parse(String(err.body)) as { message: string }).message,
    new RegExp(`^secrets is forbidden: User "${userId}" `),
  );
});

// ---------------------------------------------------------------- RBAC grants

const grant = (c: SdkClient, uid: string, body: unknown[]) =>
  roa(c, { action: 'GrantPermissions', method: 'POST', pathname: `/permissions/users/${uid}`, body });
const describePermission = (c: SdkClient, uid: string) =>
  roa(c, {
    action: 'DescribeUserPermission',
    method: 'GET',
    pathname: `/permissions/users/${uid}`,
    bodyType: 'array',
  }) as Promise<Record<string, unknown>[]>;

test('GrantPermissions with a custom ClusterRole lets the mapped Kubernetes user in through the binding the hook creates', async (t) => {
  const emu = await emulator(t);
  const kube = await KubeEmulator.start();
  t.teardown(() => kube.close());
  kube.seed('clusterroles', {
    metadata: { name: 'acr-fleet' },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
  });
  const changes: { clusterId: string; user: string; bindings: AckBinding[] }[] = [];
  emu.addAckCluster({
    accountId: ACCOUNT,
    region: HZ,
    clusterId: 'c1',
    kube,
    onRbac: (change) => {
      changes.push(change);
      for (const b of change.bindings)
        kube.seed('clusterrolebindings', {
          metadata: { name: b.name },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: b.clusterRole },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: b.user }],
        });
    },
  });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'acr-fleet', actions: ['cs:*'] });
  const roleId = emu.ackUserName(role);
  const operator = sdk(emu.endpoint('cs', HZ), emu.rootCredentials(ACCOUNT));

  const custom = {
    cluster: 'c1',
    role_name: 'acr-fleet',
    role_type: 'cluster',
    namespace: '',
    is_custom: true,
    is_ram_role: true,
  };
  t.deepEqual(await grant(operator, roleId, [custom]), {});
  t.deepEqual(changes, [
    {
      clusterId: 'c1',
      user: roleId,
      bindings: [
        {
          kind: 'ClusterRoleBinding',
          name: `${roleId}-acr-fleet-clusterrolebinding`,
          clusterRole: 'acr-fleet',
          user: roleId,
        },
      ],
    },
  ]);
  t.deepEqual(emu.ackGrants(ACCOUNT, roleId), [custom]);
  t.deepEqual(await describePermission(operator, roleId), [
    {
      resource_id: 'c1',
      resource_type: 'cluster',
      role_name: 'acr-fleet',
      role_type: 'custom',
      is_owner: 0,
      is_ram_role: 1,
    },
  ]);

  const { config } = await kubeconfigOf(sdk(emu.endpoint('cs', HZ), emu.roleSession(role)), 'c1', 15);
  const kc = new KubeConfig();
  kc.loadFromString(config);
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'default' });
  t.deepEqual(list.items, []);
});

test('GrantPermissions replaces every earlier grant of the uid, and the hook hears the clusters it left', async (t) => {
  const emu = await emulator(t);
  const heard: [string, string[]][] = [];
  for (const id of ['c1', 'c2'])
    emu.addAckCluster({
      accountId: ACCOUNT,
      region: HZ,
      clusterId: id,
      kubeconfig: noKubeconfig,
      onRbac: (c) =>
        void heard.push([c.clusterId, c.bindings.map((b) => `${b.kind}/${b.namespace ?? ''}/${b.clusterRole}`)]),
    });
  const user = emu.addUser({ accountId: ACCOUNT, name: 'dev', actions: [] });
  const uid = emu.ackUserName(user);
  const operator = sdk(emu.endpoint('cs', HZ), emu.rootCredentials(ACCOUNT));
  await grant(operator, uid, [
    { cluster: 'c1', role_name: 'admin', role_type: 'cluster', namespace: '', is_custom: false, is_ram_role: false },
    { cluster: 'c2', role_name: 'dev', role_type: 'namespace', namespace: 'web', is_custom: false, is_ram_role: false },
  ]);
  await grant(operator, uid, [
    { cluster: 'c2', role_name: 'ops', role_type: 'cluster', namespace: '', is_custom: false, is_ram_role: false },
  ]);
  t.deepEqual(
    emu.ackGrants(ACCOUNT, uid).map((g) => `${g.cluster}:${g.role_name}`),
    ['c2:ops'],
  );
  t.deepEqual(heard, [
    ['c1', ['ClusterRoleBinding//cluster-admin']],
    ['c2', ['RoleBinding/web/cs:dev']],
    ['c2', ['ClusterRoleBinding//cs:ops']],
    ['c1', []],
  ]);
});

test('GrantPermissions refuses callers that do not administer the cluster, unknown clusters, unknown uids and bad grants', async (t) => {
  const emu = await emulator(t);
  emu.addAckCluster({ accountId: ACCOUNT, region: HZ, clusterId: 'c1', kubeconfig: noKubeconfig });
  const role = emu.addRole({ accountId: ACCOUNT, name: 'fn', actions: [] });
  const roleId = emu.ackUserName(role);
  const ok = { cluster: 'c1', role_name: 'x', role_type: 'cluster', namespace: '', is_custom: true, is_ram_role: true };
  const ramAdmin = emu.addUser({ accountId: ACCOUNT, name: 'ram-admin', actions: ['cs:*'] });
  const asRamAdmin = sdk(emu.endpoint('cs', HZ), ramAdmin);
  // RAM lets it call the API, but it holds no RBAC admin grant on c1.
  await fails(t, grant(asRamAdmin, roleId, [ok]), 'ForbiddenGrantPermissions', 403);
  const noRam = emu.addUser({ accountId: ACCOUNT, name: 'nobody', actions: [] });
  await fails(t, grant(sdk(emu.endpoint('cs', HZ), noRam), roleId, [ok]), 'ErrorCheckAcl', 403);

  const root = sdk(emu.endpoint('cs', HZ), emu.rootCredentials(ACCOUNT));
  await fails(t, grant(root, roleId, [{ ...ok, cluster: 'missing' }]), 'ErrorClusterNotFound', 404);
  await fails(t, grant(root, '399999999999999999', [ok]), 'ErrorUserNotFound', 404);
  await fails(t, grant(root, roleId, [{ ...ok, is_custom: false }]), 'ErrorParamInvalid', 400);
  await fails(t, grant(root, roleId, [{ ...ok, is_ram_role: false }]), 'ErrorParamInvalid', 400);
  await fails(t, grant(root, roleId, [{ ...ok, role_type: 'namespace' }]), 'ErrorParamInvalid', 400);
  t.deepEqual(emu.ackGrants(ACCOUNT, roleId), []);

  // Once root makes it an RBAC admin of c1, the RAM user may grant there.
  await grant(root, emu.ackUserName(ramAdmin), [{ ...ok, role_name: 'admin', is_custom: false, is_ram_role: false }]);
  t.deepEqual(await grant(asRamAdmin, roleId, [ok]), {});
  t.is(emu.ackGrants(ACCOUNT, roleId).length, 1);
});

// ---------------------------------------------------------------- ACK One

test('DescribeManagedClusters lists the member clusters of an ACK One fleet instance', async (t) => {
  const emu = await emulator(t);
  emu.addAckOneFleet({
    accountId: ACCOUNT,
    region: HZ,
    hubClusterId: 'hub-1',
    members: [
      { clusterId: 'm1', name: 'bj-prod', region: BJ, vpcId: 'vpc-bj' },
      { clusterId: 'm2', region: SH, memberState: 'Failed' },
    ],
  });
  const reader = emu.addUser({ accountId: ACCOUNT, name: 'r', actions: ['adcp:DescribeManagedClusters'] });
  const res = await rpc(sdk(emu.endpoint('adcp', HZ), reader), 'DescribeManagedClusters', '2022-01-01', {
    ClusterId: 'hub-1',
  });
  const clusters = res.Clusters as { Cluster: Record<string, unknown>; Status: Record<string, unknown> }[];
  t.deepEqual(
    clusters.map((c) => [c.Cluster.ClusterID, c.Cluster.Name, c.Cluster.Region, c.Cluster.VpcID, c.Status.State]),
    [
      ['m1', 'bj-prod', BJ, 'vpc-bj', 'Running'],
      ['m2', 'm2', SH, `vpc-${SH}-default`, 'Failed'],
    ],
  );
  await fails(
    t,
    rpc(sdk(emu.endpoint('adcp', BJ), reader), 'DescribeManagedClusters', '2022-01-01', { ClusterId: 'hub-1' }),
    'NotFound.Cluster',
    404,
  );
  await fails(
    t,
    rpc(
      sdk(emu.endpoint('adcp', HZ), emu.addUser({ accountId: ACCOUNT, name: 'n', actions: [] })),
      'DescribeManagedClusters',
      '2022-01-01',
      {
        ClusterId: 'hub-1',
      },
    ),
    'Forbidden.RAM',
    403,
  );
});

// ---------------------------------------------------------------- Function Compute limits

function fcClient(emu: AlibabaEmulator, creds: Credentials) {
  const u = new URL(emu.endpoint('fc', HZ));
  return new FcSdk.default(new OpenApi.Config({ ...creds, endpoint: u.host, protocol: 'http', regionId: HZ }));
}

async function invoke(emu: AlibabaEmulator, creds: Credentials, type: 'Sync' | 'Async', event: Buffer) {
  const res = await fcClient(emu, creds).invokeFunctionWithOptions(
    'fn',
    new FcSdk.InvokeFunctionRequest({ body: Readable.from([event]) }),
    new FcSdk.InvokeFunctionHeaders({ xFcInvocationType: type }),
    runtime(),
  );
  return res.statusCode;
}

function deploy(emu: AlibabaEmulator, handler: (event: Buffer) => Promise<unknown> = () => Promise.resolve(null)) {
  emu.addFunction({
    accountId: ACCOUNT,
    region: HZ,
    name: 'fn',
    role: emu.addRole({ accountId: ACCOUNT, name: 'fn-role', actions: [] }),
    handler,
  });
  return emu.addUser({ accountId: ACCOUNT, name: 'invoker', actions: ['fc:InvokeFunction'] });
}

test('InvokeFunction refuses an async event over 128 KB with EntityTooLarge and accepts one of exactly 128 KB', async (t) => {
  const emu = await emulator(t);
  const caller = deploy(emu);
  t.is(await invoke(emu, caller, 'Async', Buffer.alloc(128 * 1024, 'a')), 202);
  const err = await fails(t, invoke(emu, caller, 'Async', Buffer.alloc(128 * 1024 + 1, 'a')), 'EntityTooLarge', 400);
  t.regex(err.message, /payload size exceeds maximum allowed size \(131072 bytes\)/);
  t.is(await invoke(emu, caller, 'Sync', Buffer.alloc(1024 * 1024, 'a')), 200);
  await emu.settled();
  t.is(emu.asyncInvocations.length, 1);
});

test('over the on-demand instance quota a sync invocation is refused with ResourceExhausted and async ones wait their turn', async (t) => {
  const emu = await emulator(t);
  const release: (() => void)[] = [];
  const caller = deploy(emu, () => new Promise<void>((resolve) => release.push(resolve)).then(() => null));
  emu.setFcInstanceQuota({ accountId: ACCOUNT, region: HZ, instances: 2 });
  for (let i = 0; i < 5; i++) t.is(await invoke(emu, caller, 'Async', Buffer.from(`{"shard":${i}}`)), 202);
  while (release.length < 2) await new Promise((r) => setTimeout(r, 5));
  await fails(t, invoke(emu, caller, 'Sync', Buffer.from('{}')), 'ResourceExhausted', 429);
  // Let every queued run finish, one instance freed at a time.
  const done = emu.settled();
  while (emu.asyncInvocations.some((a) => a.status === 'queued')) {
    release.shift()?.();
    await new Promise((r) => setTimeout(r, 5));
  }
  await done;
  t.like(emu.fcInstanceUsage(ACCOUNT, HZ), { quota: 2, running: 0, peak: 2, throttledSync: 1, queuedAsync: 3 });
  t.true(emu.asyncInvocations.every((a) => a.status === 'succeeded'));
});

// ---------------------------------------------------------------- RAM policy size

test('RAM CreatePolicy accepts a document of 6,144 characters and refuses one of 6,145', async (t) => {
  const emu = await emulator(t);
  const admin = sdk(
    emu.endpoint('ram', HZ),
    emu.addUser({ accountId: ACCOUNT, name: 'ram', actions: ['ram:CreatePolicy'] }),
  );
  const doc = (length: number): string => {
    const base = JSON.stringify({
      Version: '1',
      Statement: [{ Effect: 'Allow', Action: ['cr:GetAuthorizationToken'], Resource: [''] }],
    });
    const resource = 'acs:cr:*:1:repository/' + 'x'.repeat(length - base.length - 22);
    const text = JSON.stringify({
      Version: '1',
      Statement: [{ Effect: 'Allow', Action: ['cr:GetAuthorizationToken'], Resource: [resource] }],
    });
    t.is(text.length, length);
    return text;
  };
  const ok = await rpc(admin, 'CreatePolicy', '2015-05-01', { PolicyName: 'acr-fleet', PolicyDocument: doc(6144) });
  t.like(ok, { Policy: { PolicyName: 'acr-fleet', PolicyType: 'Custom', DefaultVersion: 'v1' } });
  const err = await fails(
    t,
    rpc(admin, 'CreatePolicy', '2015-05-01', { PolicyName: 'too-big', PolicyDocument: doc(6145) }),
    'InvalidParameter.PolicyDocument.Length',
    400,
  );
  t.regex(err.message, /beyond the length limit/);
  t.deepEqual(
    emu.ramPolicies(ACCOUNT).map((p) => p.name),
    ['acr-fleet'],
  );
});

// ---------------------------------------------------------------- throttling of token APIs

test('a burst of GetAuthorizationToken calls over the bucket is throttled per caller on both editions', async (t) => {
  const emu = await emulator(t);
  emu.addEnterpriseInstance({ accountId: ACCOUNT, instanceId: 'cri-a', name: 'acme', region: HZ });
  emu.enablePersonalEdition({ accountId: ACCOUNT, region: HZ });
  emu.throttle({ action: 'GetAuthorizationToken', ratePerSecond: 0.001, burst: 2 });
  const a = sdk(emu.endpoint('cr', HZ), emu.addUser({ accountId: ACCOUNT, name: 'a', actions: ['cr:*'] }));
  const b = sdk(emu.endpoint('cr', HZ), emu.addUser({ accountId: ACCOUNT, name: 'b', actions: ['cr:*'] }));
  const ee = (c: SdkClient) => rpc(c, 'GetAuthorizationToken', '2018-12-01', { InstanceId: 'cri-a' });
  const pe = (c: SdkClient) =>
    roa(c, { action: 'GetAuthorizationToken', version: '2016-06-07', method: 'GET', pathname: '/tokens' });
  t.like(await ee(a), { IsSuccess: true });
  t.like(await ee(a), { IsSuccess: true });
  const err = await fails(t, ee(a), 'Throttling.User', 400);
  t.regex(err.message, /Request was denied due to user flow control\./);
  t.like(await ee(b), { IsSuccess: true });
  t.truthy(await pe(a));
  t.truthy(await pe(a));
  await fails(t, pe(a), 'Throttling.User', 400);
  t.is(emu.tokens.length, 5);

  emu.throttle({ action: 'GetAuthorizationToken', ratePerSecond: 1000, burst: 1 });
  await new Promise((r) => setTimeout(r, 20));
  t.like(await ee(a), { IsSuccess: true });
});

// ---------------------------------------------------------------- hostile endpoint

/** Sends one request and counts the bytes on the wire and, optionally, inflated. */
function fetchRaw(
  url: string,
  inflate: boolean,
): Promise<{ status: number; encoding: string; wire: number; inflated: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/?Action=AssumeRole`,
      { method: 'POST', headers: { host: 'sts.evil.example' } },
      (res) => {
        let wire = 0;
        let inflated = 0;
        res.on('data', (c: Buffer) => (wire += c.length));
        const done = () =>
          resolve({ status: res.statusCode ?? 0, encoding: String(res.headers['content-encoding']), wire, inflated });
        if (!inflate) {
          res.on('end', done);
          return;
        }
        const gunzip = res.pipe(createGunzip());
        gunzip.on('data', (c: Buffer) => (inflated += c.length));
        gunzip.on('end', done);
        gunzip.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end('x=1');
  });
}

test('a hostile endpoint answers a 1.5 MB gzip body that inflates to 1.6 GB, and records every request it gets', async (t) => {
  const emu = await emulator(t);
  const bomb = await emu.hostileEndpoint();
  t.true(bomb.compressedBytes < 1.6 * 1024 * 1024, String(bomb.compressedBytes));
  t.true(bomb.inflatedBytes >= 1_600_000_000);
  const res = await fetchRaw(bomb.url, false);
  t.deepEqual([res.status, res.encoding, res.wire], [200, 'gzip', bomb.compressedBytes]);

  const small = await emu.hostileEndpoint({ inflatedBytes: 40 * 1024 * 1024, status: 403 });
  const inflated = await fetchRaw(small.url, true);
  t.deepEqual([inflated.status, inflated.inflated], [403, small.inflatedBytes]);
  t.is(small.inflatedBytes, 48 * 1024 * 1024);

  t.deepEqual(
    emu.requestsTo(bomb.url).map((r) => [r.product, r.host, r.method, r.path]),
    [['hostile', 'sts.evil.example', 'POST', '/']],
  );
  t.is(emu.requestsTo(small.url).length, 1);
  t.deepEqual(emu.requestsTo(emu.endpoint('sts', HZ)), []);
});

test('every product listener records host, method and path, so a test can assert which listener a call reached', async (t) => {
  const emu = await emulator(t);
  emu.addAckCluster({ accountId: ACCOUNT, region: BJ, clusterId: 'c1', kubeconfig: noKubeconfig });
  const root = emu.rootCredentials(ACCOUNT);
  await kubeconfigOf(sdk(emu.endpoint('cs', BJ), root), 'c1', 15);
  const bj = new URL(emu.endpoint('cs', BJ));
  t.deepEqual(
    emu.requestsTo(bj.href).map((r) => [r.product, r.region, r.host, r.method, r.path, r.action, r.status]),
    [['cs', BJ, bj.host, 'GET', '/k8s/c1/user_config', 'DescribeClusterUserKubeconfig', 200]],
  );
  t.deepEqual(emu.requestsTo(emu.endpoint('cs', HZ)), []);
});

test('openapi-client reads the hostile gzip body undecoded (only httpx.read, used by @alicloud/credentials, inflates it)', async (t) => {
  const emu = await emulator(t);
  const bomb = await emu.hostileEndpoint({ inflatedBytes: 32 * 1024 * 1024 });
  const client = sdk(bomb.url, emu.rootCredentials(ACCOUNT));
  const params = new OpenApi.Params({
    action: 'AssumeRole',
    version: '2015-04-01',
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'byte',
  });
  const res = await client.callApi(params, new OpenApi.OpenApiRequest({ query: {} }), runtime());
  // tea-util readAsBytes reads the raw stream: the compressed bytes, not the 32 MiB they inflate to.
  t.is((res.body as Buffer).length, bomb.compressedBytes);
  t.deepEqual(
    emu.requestsTo(bomb.url).map((r) => [r.product, r.host, r.action]),
    [['hostile', new URL(bomb.url).host, 'AssumeRole']],
  );
  t.is(emu.requestsTo(bomb.url)[0]?.accessKeyId, emu.rootCredentials(ACCOUNT).accessKeyId);
});
