/**
 * `acr-fleet register` → refresh → `deregister` against the emulators: the cluster ends exactly as it
 * started apart from what was asked, the admin kubeconfig is never stored or printed, and an identity
 * denied a verb it needs is reported at register time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { KubeEmulator, type KubeKind } from './emulators/kube/index.js';
import { ACCOUNT, startSandbox, type Sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { loginDomains, pullSecrets, SECRET } from './support/assert.js';

const KINDS: KubeKind[] = ['namespaces', 'secrets', 'serviceaccounts', 'configmaps', 'roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'];
const ADMIN_TOKEN = 'admin-token-never-stored-0123456789';

/** Every object, without the bookkeeping a write changes (resourceVersion). */
function world(kube: KubeEmulator): unknown[] {
  return KINDS.flatMap((k) => kube.list(k).map((o: { metadata: Record<string, unknown> }) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } })));
}

async function newCluster(s: Sandbox) {
  const kube = await KubeEmulator.start();
  kube.addToken(ADMIN_TOKEN, { name: 'platform-admin', groups: ['system:masters'] });
  kube.seed('namespaces', { metadata: { name: 'shop' } });
  kube.seed('serviceaccounts', { metadata: { namespace: 'default', name: 'default' }, imagePullSecrets: [{ name: 'docker-hub' }] });
  kube.seed('serviceaccounts', { metadata: { namespace: 'shop', name: 'default' } });
  const admin = path.join(s.dir, 'admin.yaml');
  await writeFile(admin, kube.kubeconfig({ token: ADMIN_TOKEN, contextName: 'new-1' }));
  // The operator running register may write KMS secrets; the sandbox's own user may not.
  const operator = s.cloud.addUser({ accountId: ACCOUNT, name: 'platform-operator', actions: ['kms:CreateSecret', 'kms:PutSecretValue', 'kms:DeleteSecret', 'kms:GetSecretValue', 'cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint'] });
  const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: operator.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: operator.accessKeySecret };
  return { kube, admin, env };
}

test('register, refresh and deregister leave the cluster exactly as it was, apart from what was asked', async (t) => {
  const s = await startSandbox();
  const { kube, env } = await newCluster(s);
  try {
    const before = world(kube);
    const fleetBefore = await readFile(s.configFile, 'utf8');
    const printed: string[] = [];
    const run = async (...args: string[]) => {
      const r = await cli(args, { cwd: s.dir, env });
      printed.push(r.stdout, r.stderr);
      return r;
    };

    const reg = await run('register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
    t.is(reg.code, 0, reg.stderr);
    t.is(reg.stdout, 'registered cluster new-1\n');
    t.regex(reg.stderr, /^new-1: clusterrole acr-fleet: created$/m);
    t.regex(reg.stderr, /^new-1: verify: can do exactly its job$/m);
    t.regex(reg.stderr, /^new-1: kms secret acr-fleet\/new-1: created$/m);

    const stored = s.cloud.getKmsSecret(ACCOUNT, 'cn-hangzhou', 'acr-fleet/new-1');
    t.truthy(stored);
    const kc = yaml.load(stored?.data ?? '') as { users: { user: { token: string } }[] };
    t.truthy(kc.users[0]?.user.token);
    t.false(stored?.data.includes(ADMIN_TOKEN), 'the admin token is not what is stored');
    const doc = yaml.load(await readFile(s.configFile, 'utf8')) as { clusters: { name: string; kubeconfig: unknown }[] };
    t.deepEqual(doc.clusters.find((c) => c.name === 'new-1')?.kubeconfig, { kmsSecret: 'acr-fleet/new-1' });

    const again = await run('register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
    t.is(again.code, 0, 'register is safe to re-run');
    t.regex(again.stderr, /^new-1: clusterrole acr-fleet: unchanged$/m);
    t.regex(again.stderr, /^new-1: kms secret acr-fleet\/new-1: rotated$/m);

    const refresh = await run('refresh', '--config', 'fleet.yaml', '--cluster', 'new-1', '--json');
    t.is(refresh.code, 0, refresh.stdout);
    t.is(kube.get('secrets', 'shop', SECRET), undefined, 'default watchNamespace is "default" only');
    t.is(loginDomains(s.cloud, kube, 'default').length, 5);
    t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', SECRET]);
    t.true(kube.requests.some((r) => r.user === 'system:serviceaccount:kube-system:acr-fleet' && r.method === 'POST'), 'the refresh ran as the registered identity');

    const dereg = await run('deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
    t.is(dereg.code, 0, dereg.stderr);
    t.regex(dereg.stderr, /^new-1: secrets and imagePullSecrets: 1 Secret\(s\) deleted, 1 ServiceAccount\(s\) cleaned$/m);
    t.deepEqual(world(kube), before);
    t.is(s.cloud.getKmsSecret(ACCOUNT, 'cn-hangzhou', 'acr-fleet/new-1'), undefined);
    t.deepEqual(yaml.load(await readFile(s.configFile, 'utf8')), yaml.load(fleetBefore));

    const twice = await run('deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml');
    t.is(twice.code, 0, 'deregister is safe to re-run');
    t.regex(twice.stderr, /^new-1: kms secret acr-fleet\/new-1: absent$/m);
    t.false(printed.join('\n').includes(ADMIN_TOKEN), 'the admin token is never printed');
    t.false(printed.join('\n').includes(kc.users[0]?.user.token ?? '<none>'), 'the minted token is never printed');
  } finally {
    await kube.close();
    await s.close();
  }
});

test('an identity denied a verb it needs is reported at register time, and nothing is stored', async (t) => {
  const s = await startSandbox();
  const { kube, env } = await newCluster(s);
  try {
    // Someone else's binding already holds the name: acr-fleet leaves it alone, so its identity gets nothing.
    kube.seed('clusterrolebindings', {
      metadata: { name: 'acr-fleet' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', name: 'someone-else' }],
    });
    const fleetBefore = await readFile(s.configFile, 'utf8');
    const r = await cli(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
    t.is(r.code, 1);
    t.regex(r.stderr, /^new-1: clusterrolebinding acr-fleet: not ours: left alone$/m);
    t.regex(r.stderr, /^acr-fleet register: cluster new-1: verify: .*may not list namespaces/m);
    t.is(s.cloud.getKmsSecret(ACCOUNT, 'cn-hangzhou', 'acr-fleet/new-1'), undefined);
    t.is(await readFile(s.configFile, 'utf8'), fleetBefore);
    t.false(r.stderr.includes(ADMIN_TOKEN));
  } finally {
    await kube.close();
    await s.close();
  }
});

test('register and deregister name what is missing', async (t) => {
  const s = await startSandbox();
  try {
    const r = await cli(['register', '--cluster', 'x'], { cwd: s.dir, env: {} });
    t.deepEqual(r, { code: 2, stdout: '', stderr: 'acr-fleet: required option --kubeconfig <file> not specified (see acr-fleet register --help)\n' });
    const missing = await cli(['register', '--cluster', 'x', '--kubeconfig', 'nope.yaml'], { cwd: s.dir, env: s.env });
    t.is(missing.code, 1);
    t.regex(missing.stderr, /^acr-fleet register: cluster x: admin kubeconfig: kubeconfig .*nope\.yaml: file not found$/m);
  } finally {
    await s.close();
  }
});
