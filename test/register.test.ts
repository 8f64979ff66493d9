/**
 * `acr-fleet register` → refresh → `deregister` against the emulators: the cluster ends exactly as it
 * started apart from what was asked, the admin kubeconfig is never stored or printed, and an identity
 * denied a verb it needs is reported at register time.
 */
import { readFile } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KubeEmulator, type KubeKind } from './emulators/kube/index.js';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { FLEET_SA_USER, MANAGED_BY, MANAGED_BY_VALUE, NEW_CLUSTER, NEW_CLUSTER_GRANTS } from './support/fleet.js';
import { readReport } from './support/parse.js';
import { cli } from './support/cli.js';
import { loginDomains, pullSecrets, SECRET, storedKubeconfig } from './support/assert.js';

const KINDS: KubeKind[] = [
  'namespaces',
  'secrets',
  'serviceaccounts',
  'configmaps',
  'roles',
  'rolebindings',
  'clusterroles',
  'clusterrolebindings',
];
const ADMIN_TOKEN = 'admin-token-never-stored-0123456789';
/**
 * `register` of the new cluster: fleet.yaml's two registries, named (issue 15: none by default); the emulator
 * listens on 127.0.0.1, which the operator allows.
 */
const REGISTER_NEW = ['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml', ...NEW_CLUSTER_GRANTS];

/** Every object, without the bookkeeping a write changes (resourceVersion). */
function world(kube: KubeEmulator): unknown[] {
  return KINDS.flatMap((k) =>
    kube.list(k).map((o: { metadata: Record<string, unknown> }) => ({
      ...o,
      metadata: { ...o.metadata, resourceVersion: undefined },
    })),
  );
}

/** A cluster outside fleet.yaml, its admin kubeconfig in admin.yaml, and an operator allowed to register it. */
async function newCluster(s: Sandbox) {
  const kube = await s.startCluster();
  kube.seed('namespaces', { metadata: { name: 'shop' } });
  kube.seed('serviceaccounts', {
    metadata: { namespace: 'default', name: 'default' },
    imagePullSecrets: [{ name: 'docker-hub' }],
  });
  kube.seed('serviceaccounts', { metadata: { namespace: 'shop', name: 'default' } });
  const admin = await s.adminKubeconfig(kube, { token: ADMIN_TOKEN, contextName: NEW_CLUSTER });
  // The operator running register may write KMS secrets; the sandbox's own user may not.
  const env = s.operatorEnv([
    'kms:CreateSecret',
    'kms:PutSecretValue',
    'kms:DeleteSecret',
    'kms:GetSecretValue',
    'cr:GetAuthorizationToken',
    'cr:ListInstanceEndpoint',
  ]);
  return { kube, admin, env };
}

test('register, refresh and deregister leave the cluster exactly as it was, apart from what was asked', async (t) => {
  const { s, kube, env } = await registering(t);
  const before = world(kube);
  const fleetBefore = await readFile(s.configFile, 'utf8');
  const printed: string[] = [];
  const run = async (...args: string[]) => {
    const r = await cli(args, { cwd: s.dir, env });
    printed.push(r.stdout, r.stderr);
    return r;
  };

  const reg = await run(...REGISTER_NEW);
  t.is(reg.code, 0, reg.stderr);
  t.is(reg.stdout, 'registered cluster new-1\n');
  t.regex(reg.stderr, /^new-1: clusterrole acr-fleet: created$/m);
  t.regex(reg.stderr, /^new-1: verify: can do exactly its job$/m);
  t.regex(reg.stderr, /^new-1: kms secret acr-fleet\/new-1: created$/m);

  const stored = storedKubeconfig(s.cloud, NEW_CLUSTER);
  t.truthy(stored);
  const kc = yaml.load(stored?.data ?? '') as { users: { user: { token: string } }[] };
  t.truthy(kc.users[0]?.user.token);
  t.false(stored?.data.includes(ADMIN_TOKEN), 'the admin token is not what is stored');
  const doc = yaml.load(await readFile(s.configFile, 'utf8')) as { clusters: { name: string; kubeconfig: unknown }[] };
  t.deepEqual(doc.clusters.find((c) => c.name === 'new-1')?.kubeconfig, {
    kmsSecret: 'acr-fleet/new-1',
    allowPrivateAddress: true,
  });

  const again = await run('register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
  t.is(again.code, 0, 'register is safe to re-run');
  t.regex(again.stderr, /^new-1: clusterrole acr-fleet: unchanged$/m);
  t.regex(again.stderr, /^new-1: kms secret acr-fleet\/new-1: rotated$/m);

  const refresh = await run('refresh', '--config', 'fleet.yaml', '--cluster', 'new-1', '--json');
  t.is(refresh.code, 0, refresh.stdout);
  t.is(kube.get('secrets', 'shop', SECRET), undefined, 'default watchNamespace is "default" only');
  t.is(loginDomains(s.cloud, kube, 'default').length, 5);
  t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', SECRET]);
  t.true(
    kube.requests.some((r) => r.user === FLEET_SA_USER && r.method === 'POST'),
    'the refresh ran as the registered identity',
  );

  const dereg = await run('deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
  t.is(dereg.code, 0, dereg.stderr);
  t.regex(dereg.stderr, /^new-1: secrets and imagePullSecrets: 1 Secret\(s\) deleted, 1 ServiceAccount\(s\) cleaned$/m);
  t.deepEqual(world(kube), before);
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined);
  t.deepEqual(yaml.load(await readFile(s.configFile, 'utf8')), yaml.load(fleetBefore));

  const twice = await run('deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
  t.is(twice.code, 0, 'deregister is safe to re-run');
  t.regex(twice.stderr, /^new-1: kms secret acr-fleet\/new-1: absent$/m);
  t.false(printed.join('\n').includes(ADMIN_TOKEN), 'the admin token is never printed');
  t.false(printed.join('\n').includes(kc.users[0]?.user.token ?? '<none>'), 'the minted token is never printed');
});

test('an identity denied a verb it needs is reported at register time, and nothing is stored', async (t) => {
  const { s, kube, env } = await registering(t);
  // Someone else's binding already holds the name: acr-fleet leaves it alone, so its identity gets nothing.
  kube.seed('clusterrolebindings', {
    metadata: { name: 'acr-fleet' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'User', name: 'someone-else' }],
  });
  const fleetBefore = await readFile(s.configFile, 'utf8');
  const r = await cli([...REGISTER_NEW], { cwd: s.dir, env });
  t.is(r.code, 1);
  t.regex(r.stderr, /^new-1: clusterrolebinding acr-fleet: not ours: left alone$/m);
  t.regex(r.stderr, /^acr-fleet register: cluster new-1: verify: .*may not list namespaces/m);
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined);
  t.is(await readFile(s.configFile, 'utf8'), fleetBefore);
  t.false(r.stderr.includes(ADMIN_TOKEN));
});

test('register and deregister name what is missing', async (t) => {
  const s = await sandbox(t);
  const r = await cli(['register', '--cluster', 'x'], { cwd: s.dir, env: {} });
  t.deepEqual(r, {
    code: 2,
    stdout: '',
    stderr: 'acr-fleet: required option --kubeconfig <file> not specified (see acr-fleet register --help)\n',
  });
  const missing = await cli(['register', '--cluster', 'x', '--kubeconfig', 'nope.yaml', '--registries', 'acme-ee'], {
    cwd: s.dir,
    env: s.env,
  });
  t.is(missing.code, 1);
  t.regex(
    missing.stderr,
    /^acr-fleet register: cluster x: admin kubeconfig: kubeconfig .*nope\.yaml: file not found$/m,
  );
});

/** Client-node clients authenticating with the kubeconfig register stored in KMS. */
function identity(s: Sandbox, cluster = NEW_CLUSTER) {
  const kc = new KubeConfig();
  kc.loadFromString(storedKubeconfig(s.cloud, cluster)?.data ?? '');
  return kc.makeApiClient(CoreV1Api);
}

/** The HTTP status a call ends with. */
async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

/**
 * A sandbox fleet plus a new cluster to register, both closed when the test ends, and CLI runs of
 * `register` and `refresh --json` for it that must succeed.
 */
async function registering(t: ExecutionContext) {
  const s = await sandbox(t);
  const c = await newCluster(s);
  const run = async (...args: string[]) => {
    const r = await cli(args, { cwd: s.dir, env: c.env });
    t.is(r.code, 0, r.stderr);
    return r;
  };
  return {
    s,
    ...c,
    register: () => run(...REGISTER_NEW),
    refresh: () => run('refresh', '--config', 'fleet.yaml', '--cluster', 'new-1', '--json'),
  };
}

/** Sets keys of the cluster's fleet.yaml entry. */
async function editCluster(s: Sandbox, name: string, keys: Record<string, unknown>): Promise<void> {
  await s.editConfig((d) => Object.assign((d.clusters as { name: string }[]).find((c) => c.name === name) ?? {}, keys));
}

test('the registered identity lists its Secrets by name and cannot list all, list by label, or get another Secret', async (t) => {
  const { s, kube, env } = await registering(t);
  kube.seed('secrets', { metadata: { namespace: 'shop', name: 'db-password' }, stringData: { password: 'hunter2' } });
  t.is((await cli([...REGISTER_NEW], { cwd: s.dir, env })).code, 0);
  t.is((await cli(['refresh', '--config', 'fleet.yaml', '--cluster', 'new-1'], { cwd: s.dir, env })).code, 0);
  const core = identity(s);
  const mine = await core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${SECRET}` });
  t.deepEqual(
    mine.items.map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`),
    [`default/${SECRET}`],
  );
  t.is(await status(core.listSecretForAllNamespaces()), 403, 'list all Secrets');
  t.is(
    await status(core.listSecretForAllNamespaces({ labelSelector: `${MANAGED_BY}=${MANAGED_BY_VALUE}` })),
    403,
    'list by label',
  );
  t.is(
    await status(core.listSecretForAllNamespaces({ fieldSelector: 'metadata.name=db-password' })),
    403,
    'list by another name',
  );
  t.is(await status(core.listNamespacedSecret({ namespace: 'shop' })), 403, 'list in a namespace');
  t.is(await status(core.readNamespacedSecret({ namespace: 'shop', name: 'db-password' })), 403, 'get another Secret');
  t.is(await status(core.readNamespacedSecret({ namespace: 'default', name: SECRET })), 200, 'get its own');
  t.is(
    await status(core.deleteNamespacedSecret({ namespace: 'shop', name: 'db-password' })),
    403,
    'delete another Secret',
  );
  t.truthy(kube.get('secrets', 'shop', 'db-password'));
  // What the refresh itself sent for Secrets: one list, by name.
  const secretLists = kube.requests.filter(
    (r) => r.user === FLEET_SA_USER && r.method === 'GET' && r.path === '/api/v1/secrets' && r.status === 200,
  );
  t.true(
    secretLists.every((r) => r.query.includes(`fieldSelector=metadata.name%3D${SECRET}`)),
    JSON.stringify(secretLists),
  );
});

test('a ServiceAccount outside an explicit selection cannot be patched, and re-running register after a settings change updates the ClusterRole', async (t) => {
  const { s, kube, env } = await registering(t);
  kube.seed('serviceaccounts', { metadata: { namespace: 'shop', name: 'builder' } });
  t.is((await cli([...REGISTER_NEW], { cwd: s.dir, env })).code, 0);
  const core = identity(s);
  // A patch that changes nothing: RBAC alone decides (the admission policy refuses any change but imagePullSecrets).
  const patch = (name: string) =>
    core.patchNamespacedServiceAccount(
      { namespace: 'shop', name, body: {} },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  t.is(await status(patch('default')), 200, 'the selected ServiceAccount');
  t.is(await status(patch('builder')), 403, 'one outside the selection');
  t.is(await status(core.readNamespacedServiceAccount({ namespace: 'shop', name: 'builder' })), 403);
  t.is(await status(core.listServiceAccountForAllNamespaces()), 200, 'every ServiceAccount can be listed');

  await editCluster(s, 'new-1', { serviceAccount: 'default,builder', secretName: 'pull-creds' });
  const again = await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /^new-1: clusterrole acr-fleet: updated$/m);
  t.regex(again.stderr, /^new-1: verify: can do exactly its job$/m);
  const rules = (
    kube.get('clusterroles', undefined, 'acr-fleet') as {
      rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
    }
  ).rules;
  t.deepEqual(
    rules.map(
      (r) => `${r.verbs.join(',')} ${r.resources.join(',')}${r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''}`,
    ),
    [
      'list namespaces',
      'list,get,update,delete secrets [pull-creds]',
      'create secrets',
      'list serviceaccounts',
      'get,patch serviceaccounts [default,builder]',
    ],
  );
  t.is(await status(patch('builder')), 200, 'now selected');

  await editCluster(s, 'new-1', { serviceAccount: '*' });
  await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  const any = (
    kube.get('clusterroles', undefined, 'acr-fleet') as { rules: { resources: string[]; resourceNames?: string[] }[] }
  ).rules.at(-1);
  t.deepEqual(
    any,
    { verbs: ['get', 'patch'], apiGroups: [''], resources: ['serviceaccounts'] },
    '"*" needs them unrestricted',
  );
});

test('a secretName change leaves no Secret of the old name behind, and ends with one Secret list per run', async (t) => {
  const { s, kube, env, register, refresh } = await registering(t);
  const entry = async () =>
    (yaml.load(await readFile(s.configFile, 'utf8')) as { clusters: Record<string, unknown>[] }).clusters.find(
      (c) => c.name === 'new-1',
    );
  const secretNames = () =>
    (kube.get('clusterroles', undefined, 'acr-fleet') as { rules: { resources: string[]; resourceNames?: string[] }[] })
      .rules[1]?.resourceNames;
  await register();
  await editCluster(s, 'new-1', { watchNamespace: 'default,shop' });
  await refresh();
  t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', SECRET]);

  await editCluster(s, 'new-1', { secretName: 'acr-pull' });
  const stale = await cli(['refresh', '--config', 'fleet.yaml', '--cluster', 'new-1', '--json'], { cwd: s.dir, env });
  t.is(stale.code, 1, 'the rules do not name the new secretName yet');
  t.is(
    readReport(stale.stdout).clusters[0]?.error,
    'cluster new-1: list secrets: HTTP 403 Forbidden: secrets "acr-pull" is forbidden: User "system:serviceaccount:kube-system:acr-fleet" cannot list resource "secrets" in API group "" at the cluster scope',
  );
  const reg = await register();
  t.regex(
    reg.stderr,
    /^new-1: secret names: acr-pull, and acr-credential-fleet until the next refresh has deleted its 2 Secret\(s\); then run register again$/m,
  );
  t.deepEqual(secretNames(), ['acr-pull', SECRET], 'the rules carry both names meanwhile');
  t.deepEqual((await entry())?.previousSecretNames, [SECRET]);

  const moved = readReport((await refresh()).stdout);
  t.like(moved.clusters[0]?.secrets, { created: 2, deleted: 2 });
  t.deepEqual(
    kube
      .list('secrets')
      .map((x: { metadata: { namespace: string; name: string } }) => `${x.metadata.namespace}/${x.metadata.name}`),
    ['default/acr-pull', 'shop/acr-pull'],
  );
  t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', 'acr-pull']);
  t.deepEqual(pullSecrets(kube, 'shop'), ['acr-pull']);

  const done = await register();
  t.regex(done.stderr, /^new-1: secret names: acr-pull$/m);
  t.deepEqual(secretNames(), ['acr-pull']);
  t.is((await entry())?.previousSecretNames, undefined, 'fleet.yaml forgets the old name');

  kube.resetRequests();
  await refresh();
  const fleetRequests = kube.requests.filter((r) => r.user === FLEET_SA_USER);
  const secretLists = fleetRequests
    .filter((r) => r.path === '/api/v1/secrets')
    .map((r) => new URLSearchParams(r.query).get('fieldSelector'));
  t.deepEqual(secretLists, ['metadata.name=acr-pull'], 'one Secret list per run');
  t.deepEqual(
    fleetRequests.filter((r) => r.method !== 'GET'),
    [],
    'and no write',
  );

  // A function still deployed with the old fleet.yaml lists the former name, which the rules no longer
  // grant: nothing is left under it, so the cluster is refreshed all the same.
  await editCluster(s, 'new-1', { previousSecretNames: [SECRET] });
  const lagging = readReport((await refresh()).stdout);
  t.like(lagging.clusters[0], { status: 'ok', secrets: { created: 0, updated: 0, unchanged: 2, deleted: 0 } });
});

test('register fails, naming each right, when the identity can do more than its job, and leaves the cluster as it was (issue 15)', async (t) => {
  const { s, kube, env } = await registering(t);
  // Someone bound a broader role to acr-fleet's ServiceAccount.
  kube.seed('clusterroles', {
    metadata: { name: 'secret-reader' },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
  });
  kube.seed('clusterrolebindings', {
    metadata: { name: 'secret-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'secret-reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'acr-fleet', namespace: 'kube-system' }],
  });
  const before = world(kube);
  const fleetBefore = await readFile(s.configFile, 'utf8');
  const r = await cli([...REGISTER_NEW], { cwd: s.dir, env });
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    /^acr-fleet register: cluster new-1: verify: the acr-fleet identity may also list all Secrets, get other Secrets \(kube-system\/acr-fleet-access-probe\), list Secrets by label \(a real request was answered\), get other Secrets \(a real request for kube-system\/acr-fleet-access-probe was answered\): something else grants it more than its rules; remove that binding and run register again \(removed what this run created: .*serviceaccount kube-system\/acr-fleet.*\)$/m,
  );
  t.deepEqual(world(kube), before, 'what this run created is gone again');
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined, 'nothing stored in KMS');
  t.is(await readFile(s.configFile, 'utf8'), fleetBefore, 'fleet.yaml untouched');
});

test('deleting the ServiceAccount and re-running register revokes every token minted before', async (t) => {
  const { s, kube, env } = await registering(t);
  t.is((await cli([...REGISTER_NEW], { cwd: s.dir, env })).code, 0);
  const leaked = identity(s);
  t.is(await status(leaked.listNamespace()), 200);
  const admin = new KubeConfig();
  admin.loadFromString(kube.kubeconfig({ token: ADMIN_TOKEN }));
  await admin.makeApiClient(CoreV1Api).deleteNamespacedServiceAccount({ namespace: 'kube-system', name: 'acr-fleet' });
  const again = await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /^new-1: serviceaccount kube-system\/acr-fleet: created$/m);
  t.is(await status(leaked.listNamespace()), 401, 'the leaked token is dead');
  t.is(await status(identity(s).listNamespace()), 200, 'the new one works');
});

test('register --with-configmap grants the add-on ConfigMap and any ServiceAccount, and takes both back when the cluster leaves settings: configmap', async (t) => {
  const { s, kube, env } = await registering(t);
  const saRule = () =>
    (
      kube.get('clusterroles', undefined, 'acr-fleet') as { rules: { resources: string[]; resourceNames?: string[] }[] }
    ).rules.at(-1)?.resourceNames;
  const r = await cli([...REGISTER_NEW, '--with-configmap'], {
    cwd: s.dir,
    env,
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^new-1: role kube-system\/acr-fleet-configmap: created$/m);
  t.regex(r.stderr, /^new-1: verify: can do exactly its job$/m);
  t.deepEqual((kube.get('roles', 'kube-system', 'acr-fleet-configmap') as { rules: unknown[] }).rules, [
    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['acr-configuration'] },
  ]);
  t.is(saRule(), undefined, 'the ConfigMap chooses ServiceAccounts at run time');

  const kept = await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  t.regex(
    kept.stderr,
    /^new-1: role kube-system\/acr-fleet-configmap: unchanged$/m,
    'fleet.yaml still says settings: configmap',
  );

  await s.editConfig((d) => {
    const c = (d.clusters as { name: string; settings?: string; configmap?: unknown }[]).find(
      (x) => x.name === 'new-1',
    );
    // Leaving settings: configmap, the operator drops what its ConfigMap could pick too.
    delete c?.settings;
    delete c?.configmap;
  });
  const left = await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  t.is(left.code, 0, left.stderr);
  t.regex(left.stderr, /^new-1: role kube-system\/acr-fleet-configmap: deleted$/m);
  t.regex(left.stderr, /^new-1: rolebinding kube-system\/acr-fleet-configmap: deleted$/m);
  t.is(kube.get('roles', 'kube-system', 'acr-fleet-configmap'), undefined);
  t.deepEqual(saRule(), ['default']);
});

test("a ServiceAccount no longer selected that still names acr-fleet's Secret stays patchable until a refresh has removed the reference", async (t) => {
  const { s, kube, register, refresh } = await registering(t);
  kube.seed('serviceaccounts', { metadata: { namespace: 'shop', name: 'builder' } });
  const patchable = () =>
    (
      kube.get('clusterroles', undefined, 'acr-fleet') as { rules: { resources: string[]; resourceNames?: string[] }[] }
    ).rules.at(-1)?.resourceNames;
  await register();
  await editCluster(s, 'new-1', { watchNamespace: 'default,shop', serviceAccount: '*' });
  await register();
  await refresh();
  t.deepEqual(pullSecrets(kube, 'shop', 'builder'), [SECRET]);

  // shop is no longer watched and only default is selected: builder's reference must still go.
  await editCluster(s, 'new-1', { watchNamespace: 'default', serviceAccount: 'default' });
  const narrowed = await register();
  t.regex(
    narrowed.stderr,
    /^new-1: serviceaccounts: also builder until the next refresh has removed their references to acr-fleet's Secret; then run register again$/m,
  );
  t.deepEqual(patchable(), ['default', 'builder']);
  const cleaned = readReport((await refresh()).stdout);
  t.like(cleaned.clusters[0], { status: 'ok', secrets: { deleted: 1 } });
  t.deepEqual(pullSecrets(kube, 'shop', 'builder'), []);
  t.deepEqual(pullSecrets(kube, 'shop', 'default'), []);
  t.is(kube.get('secrets', 'shop', SECRET), undefined);

  await register();
  t.deepEqual(patchable(), ['default'], 'register drops it once no reference is left');
});
