/**
 * Issue 16: a stolen acr-fleet identity cannot become cluster-admin. After a real `register` (through the CLI),
 * each test plays the thief with the token register stored in KMS and asserts what did NOT happen: the emulated
 * API server (which evaluates ValidatingAdmissionPolicies and runs the token controller, so the attacks are real
 * without the policy) stored nothing and changed nothing. acr-fleet's own refresh still works under the fence.
 */
import { readFile } from 'node:fs/promises';
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { KubeEmulator, type KubeEmulatorOptions } from './emulators/kube/index.js';
import { admissionPolicyObjects, admissionSettingsOf } from '../src/policy/admission.js';
import { sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { MANAGED_BY, MANAGED_BY_VALUE, NEW_CLUSTER, NEW_CLUSTER_GRANTS } from './support/fleet.js';
import { pullSecrets, SECRET, snapshot, storedKubeconfig, writes } from './support/assert.js';

const ADMIN_TOKEN = 'admin-token-for-the-fence-0123456789';
const POLICY = "ValidatingAdmissionPolicy 'acr-fleet' with binding 'acr-fleet' denied request";
const OURS = { [MANAGED_BY]: MANAGED_BY_VALUE };
const ANNOTATIONS = {
  'acr-fleet.io/expires-at': '2030-01-01T00:00:00.000Z',
  'acr-fleet.io/inputs-hash': 'forged',
  'acr-fleet.io/registries': 'acme-ee',
};
const DOCKERCONFIG = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };

/**
 * A cluster outside the fleet with a powerful ServiceAccount (kube-system/cluster-operator, bound to
 * cluster-admin) worth stealing a token for, registered through the CLI; `thief` is the API as the stored
 * identity. `refresh` runs acr-fleet's refresh for it.
 */
async function fenced(t: ExecutionContext, emulator: KubeEmulatorOptions = {}, registerArgs: string[] = []) {
  const s = await sandbox(t);
  const kube = await s.startCluster(emulator);
  kube.seed('namespaces', { metadata: { name: 'shop' } });
  kube.seed('serviceaccounts', {
    metadata: { namespace: 'default', name: 'default' },
    imagePullSecrets: [{ name: 'docker-hub' }],
  });
  kube.seed('serviceaccounts', { metadata: { namespace: 'shop', name: 'default' } });
  kube.seed('serviceaccounts', { metadata: { namespace: 'kube-system', name: 'cluster-operator' } });
  kube.seed('clusterrolebindings', {
    metadata: { name: 'cluster-operator' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'cluster-operator', namespace: 'kube-system' }],
  });
  await s.adminKubeconfig(kube, { token: ADMIN_TOKEN, contextName: NEW_CLUSTER });
  const env = s.operatorEnv([
    'kms:CreateSecret',
    'kms:PutSecretValue',
    'kms:DeleteSecret',
    'kms:GetSecretValue',
    'cr:GetAuthorizationToken',
    'cr:ListInstanceEndpoint',
  ]);
  const run = (...args: string[]) => cli(args, { cwd: s.dir, env });
  const register = () =>
    run(
      'register',
      '--cluster',
      NEW_CLUSTER,
      '--kubeconfig',
      'admin.yaml',
      // Issue 15: a new cluster gets only the registries named; the emulator listens on 127.0.0.1.
      ...NEW_CLUSTER_GRANTS,
      ...registerArgs,
    );
  const thief = () => {
    const kc = new KubeConfig();
    kc.loadFromString(storedKubeconfig(s.cloud, NEW_CLUSTER)?.data ?? '');
    return kc.makeApiClient(CoreV1Api);
  };
  return { s, kube, run, register, thief };
}

/** The HTTP status and Status message a call ends with (200 and '' when it succeeds). */
async function outcome(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
    return { code: 200, message: '' };
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, message: (body as { message?: string }).message ?? '' };
  }
}

/** One turn for the token controller, which fills a service-account-token Secret after it is written. */
const tokenControllerTurn = () => new Promise((r) => setTimeout(r, 50));

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Each attack: what the thief sends, the validation that must deny it, and what the cluster held before. */
const ATTACKS: [
  title: string,
  attack: (api: CoreV1Api) => Promise<unknown>,
  denial: string,
  prepare?: (kube: KubeEmulator) => void,
][] = [
  [
    "a stolen identity cannot mint a cluster-admin token with a service-account-token Secret named like acr-fleet's in kube-system",
    (api) =>
      api.createNamespacedSecret({
        namespace: 'kube-system',
        body: {
          metadata: {
            name: SECRET,
            labels: OURS,
            annotations: { ...ANNOTATIONS, 'kubernetes.io/service-account.name': 'cluster-operator' },
          },
          type: 'kubernetes.io/service-account-token',
        },
      }),
    'acr-fleet may write only Secrets of type kubernetes.io/dockerconfigjson',
  ],
  [
    'a stolen identity cannot create a bootstrap-token Secret',
    (api) =>
      api.createNamespacedSecret({
        namespace: 'kube-system',
        body: {
          metadata: { name: 'bootstrap-token-abcdef' },
          type: 'bootstrap.kubernetes.io/token',
          stringData: {
            'token-id': 'abcdef',
            'token-secret': '0123456789abcdef',
            'usage-bootstrap-authentication': 'true',
            'auth-extra-groups': 'system:masters',
          },
        },
      }),
    'acr-fleet may write and delete only Secrets named acr-credential-fleet',
  ],
  [
    "a stolen identity cannot create a Secret of another name, even one shaped like acr-fleet's (a forged Helm release record)",
    (api) =>
      api.createNamespacedSecret({
        namespace: 'shop',
        body: {
          metadata: { name: 'sh.helm.release.v1.shop.v1', labels: OURS, annotations: ANNOTATIONS },
          type: 'kubernetes.io/dockerconfigjson',
          data: DOCKERCONFIG,
        },
      }),
    'acr-fleet may write and delete only Secrets named acr-credential-fleet',
  ],
  [
    "a stolen identity cannot create acr-fleet's Secret without acr-fleet's label",
    (api) =>
      api.createNamespacedSecret({
        namespace: 'shop',
        body: {
          metadata: { name: SECRET, annotations: ANNOTATIONS },
          type: 'kubernetes.io/dockerconfigjson',
          data: DOCKERCONFIG,
        },
      }),
    "acr-fleet's Secrets carry exactly the label app.kubernetes.io/managed-by=acr-fleet",
  ],
  [
    "a stolen identity cannot add a data key to acr-fleet's own Secret",
    async (api) => {
      const current = await api.readNamespacedSecret({ namespace: 'default', name: SECRET });
      return api.replaceNamespacedSecret({
        namespace: 'default',
        name: SECRET,
        body: { ...current, data: { ...current.data, token: Buffer.from('stolen').toString('base64') } },
      });
    },
    "acr-fleet's Secrets hold exactly one key, .dockerconfigjson",
  ],
  [
    "a stolen identity cannot take over someone else's Secret named like acr-fleet's",
    (api) =>
      api.replaceNamespacedSecret({
        namespace: 'shop',
        name: SECRET,
        body: {
          metadata: { name: SECRET, namespace: 'shop', labels: OURS, annotations: ANNOTATIONS },
          type: 'kubernetes.io/dockerconfigjson',
          data: DOCKERCONFIG,
        },
      }),
    'acr-fleet may replace or delete only Secrets that carry its label app.kubernetes.io/managed-by=acr-fleet',
    // The shop team's own pull Secret, which happens to bear acr-fleet's name.
    (kube) =>
      kube.seed('secrets', {
        metadata: { namespace: 'shop', name: SECRET },
        type: 'kubernetes.io/dockerconfigjson',
        data: DOCKERCONFIG,
      }),
  ],
  [
    'a stolen identity cannot set ownerReferences on a ServiceAccount (to have it garbage-collected)',
    (api) =>
      api.patchNamespacedServiceAccount(
        {
          namespace: 'default',
          name: 'default',
          body: {
            metadata: {
              ownerReferences: [
                { apiVersion: 'v1', kind: 'ConfigMap', name: 'doomed', uid: '11111111-2222-3333-4444-555555555555' },
              ],
            },
          },
        },
        merge,
      ),
    'acr-fleet may change a ServiceAccount only in imagePullSecrets (not its metadata, ownerReferences, automountServiceAccountToken or secrets)',
  ],
  [
    'a stolen identity cannot switch automountServiceAccountToken on a ServiceAccount',
    (api) =>
      api.patchNamespacedServiceAccount(
        { namespace: 'default', name: 'default', body: { automountServiceAccountToken: true } },
        merge,
      ),
    'acr-fleet may change a ServiceAccount only in imagePullSecrets (not its metadata, ownerReferences, automountServiceAccountToken or secrets)',
  ],
  [
    'a stolen identity cannot point a ServiceAccount at a pull Secret of its choosing',
    (api) =>
      api.patchNamespacedServiceAccount(
        {
          namespace: 'default',
          name: 'default',
          body: { imagePullSecrets: [{ name: 'docker-hub' }, { name: SECRET }, { name: 'attacker-registry' }] },
        },
        merge,
      ),
    'acr-fleet may add or remove only imagePullSecrets entries named acr-credential-fleet',
  ],
];

for (const [title, attack, denial, prepare] of ATTACKS) {
  test(title, async (t) => {
    const { kube, register, run, thief } = await fenced(t);
    t.is((await register()).code, 0);
    t.is((await run('refresh', '--config', 'fleet.yaml', '--cluster', NEW_CLUSTER)).code, 0);
    prepare?.(kube);
    const api = thief();
    const before = snapshot(kube);
    const r = await outcome(attack(api));
    await tokenControllerTurn();
    t.is(r.code, 403, r.message);
    t.true(r.message.endsWith(`${POLICY}: ${denial}`), r.message);
    t.deepEqual(snapshot(kube), before, 'nothing the thief sent was stored or changed');
    t.is(kube.get('secrets', 'kube-system', SECRET), undefined, 'no token Secret');
  });
}

test("acr-fleet's own refresh works under the fence: Secrets written, imagePullSecrets extended, and again after a secretName change", async (t) => {
  const { s, kube, register, run } = await fenced(t);
  const reg = await register();
  t.is(reg.code, 0, reg.stderr);
  t.regex(reg.stderr, /^new-1: admission policy: admissionregistration\.k8s\.io\/v1$/m);
  t.regex(reg.stderr, /^new-1: validatingadmissionpolicy acr-fleet: created$/m);
  t.regex(reg.stderr, /^new-1: validatingadmissionpolicybinding acr-fleet: created$/m);
  for (const line of [
    'create a service-account-token Secret kube-system/acr-credential-fleet: denied by the admission policy',
    'create a bootstrap-token Secret kube-system/bootstrap-token-acrflt: denied by the admission policy',
    'create a Secret of another name default/acr-fleet-admission-proof: denied by the admission policy',
    "create a Secret without acr-fleet's label default/acr-credential-fleet: denied by the admission policy",
    'set ownerReferences on ServiceAccount default/default: denied by the admission policy',
    "create acr-fleet's Secret default/acr-credential-fleet: allowed",
    'add acr-credential-fleet to the imagePullSecrets of ServiceAccount default/default: allowed',
  ])
    t.true(reg.stderr.includes(`\nnew-1: admission proof: ${line}\n`), line);
  t.deepEqual(kube.list('secrets'), [], 'the proofs were dry runs: nothing stored');

  const refresh = await run('refresh', '--config', 'fleet.yaml', '--cluster', NEW_CLUSTER);
  t.is(refresh.code, 0, refresh.stderr);
  t.is(kube.get('secrets', 'default', SECRET)?.metadata.labels[MANAGED_BY], MANAGED_BY_VALUE);
  t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', SECRET]);

  // A rename: the new Secret is created, the old one deleted and the entry swapped, all as the fenced identity.
  await s.editConfig((d) => {
    const c = (d.clusters as { name: string; secretName?: string }[]).find((x) => x.name === NEW_CLUSTER);
    if (c) c.secretName = 'pull-creds';
  });
  t.is((await register()).code, 0);
  t.is((await run('refresh', '--config', 'fleet.yaml', '--cluster', NEW_CLUSTER)).code, 0);
  t.deepEqual(pullSecrets(kube, 'default'), ['docker-hub', 'pull-creds']);
  t.is(kube.get('secrets', 'default', SECRET), undefined);
  t.truthy(kube.get('secrets', 'default', 'pull-creds'));
});

test('deregister leaves no admission policy or binding behind', async (t) => {
  const { kube, register, run } = await fenced(t);
  t.is((await register()).code, 0);
  t.truthy(kube.get('validatingadmissionpolicies', undefined, 'acr-fleet'));
  const dereg = await run('deregister', '--cluster', NEW_CLUSTER, '--kubeconfig', 'admin.yaml');
  t.is(dereg.code, 0, dereg.stderr);
  t.regex(dereg.stderr, /^new-1: validatingadmissionpolicybinding acr-fleet: deleted$/m);
  t.regex(dereg.stderr, /^new-1: validatingadmissionpolicy acr-fleet: deleted$/m);
  t.deepEqual(kube.list('validatingadmissionpolicies'), []);
  t.deepEqual(kube.list('validatingadmissionpolicybindings'), []);
});

test('a server serving the policy API only as v1beta1 (Kubernetes 1.28, 1.29) gets v1beta1 objects, and they fence', async (t) => {
  const { kube, register, thief } = await fenced(t, { admissionPolicyVersions: ['v1beta1'] });
  const reg = await register();
  t.is(reg.code, 0, reg.stderr);
  t.regex(reg.stderr, /^new-1: admission policy: admissionregistration\.k8s\.io\/v1beta1$/m);
  t.deepEqual(
    writes(kube).filter((w) => w.includes('validatingadmissionpolic')),
    [
      'POST /apis/admissionregistration.k8s.io/v1beta1/validatingadmissionpolicies',
      'POST /apis/admissionregistration.k8s.io/v1beta1/validatingadmissionpolicybindings',
    ],
  );
  const r = await outcome(
    thief().createNamespacedSecret({
      namespace: 'kube-system',
      body: {
        metadata: { name: SECRET, annotations: { 'kubernetes.io/service-account.name': 'cluster-operator' } },
        type: 'kubernetes.io/service-account-token',
      },
    }),
  );
  t.is(r.code, 403);
  await tokenControllerTurn();
  t.is(kube.get('secrets', 'kube-system', SECRET), undefined);
});

test('a server without the policy API makes register refuse, writing nothing, unless --allow-no-admission-policy; then the token attack stays open', async (t) => {
  const refused = await fenced(t, { admissionPolicyVersions: [] });
  const fleetBefore = await readFile(refused.s.configFile, 'utf8');
  const r = await refused.register();
  t.is(r.code, 1);
  t.is(
    r.stderr.split('\n').at(-2),
    'acr-fleet register: cluster new-1: admission policy: the server serves no ValidatingAdmissionPolicy (admissionregistration.k8s.io v1 or v1beta1, Kubernetes 1.28+); without the policy only RBAC fences the identity: its unnamed create on Secrets can still mint a ServiceAccount token (a service-account-token Secret) or a bootstrap token, and its patch on ServiceAccounts can change more than imagePullSecrets; pass --allow-no-admission-policy to register anyway',
  );
  t.deepEqual(writes(refused.kube), [], 'nothing written');
  t.is(storedKubeconfig(refused.s.cloud, NEW_CLUSTER), undefined);
  t.is(await readFile(refused.s.configFile, 'utf8'), fleetBefore);

  const allowed = await fenced(t, { admissionPolicyVersions: [] }, ['--allow-no-admission-policy']);
  const ok = await allowed.register();
  t.is(ok.code, 0, ok.stderr);
  t.regex(
    ok.stderr,
    /^new-1: admission policy: not served \(admissionregistration\.k8s\.io v1 or v1beta1, Kubernetes 1\.28\+\), registering anyway \(--allow-no-admission-policy\): without the policy only RBAC fences the identity: /m,
  );
  t.false(ok.stderr.includes('admission proof'), 'nothing to prove');
  const doc = yaml.load(await readFile(allowed.s.configFile, 'utf8')) as { clusters: { name: string }[] };
  t.true(doc.clusters.some((c) => c.name === NEW_CLUSTER));
  // What the line says stays open does: RBAC alone lets the identity have a cluster-admin token minted.
  const attack = await outcome(
    allowed.thief().createNamespacedSecret({
      namespace: 'kube-system',
      body: {
        metadata: { name: SECRET, annotations: { 'kubernetes.io/service-account.name': 'cluster-operator' } },
        type: 'kubernetes.io/service-account-token',
      },
    }),
  );
  t.is(attack.code, 200);
  await tokenControllerTurn();
  t.truthy(allowed.kube.get('secrets', 'kube-system', SECRET)?.data?.token, 'the token controller minted a token');
});

test('register fails, naming each attack let through, when the policy cannot take effect (a binding of that name is not ours)', async (t) => {
  const { s, kube, register } = await fenced(t);
  kube.seed('validatingadmissionpolicybindings', {
    metadata: { name: 'acr-fleet' },
    spec: { policyName: 'someone-elses', validationActions: ['Audit'] },
  });
  const r = await register();
  t.is(r.code, 1);
  t.regex(r.stderr, /^new-1: validatingadmissionpolicybinding acr-fleet: not ours: left alone$/m);
  const last = r.stderr.split('\n').at(-2) ?? '';
  t.true(last.startsWith('acr-fleet register: cluster new-1: admission proof: '), last);
  for (const attack of [
    'the identity may still create a service-account-token Secret kube-system/acr-credential-fleet (a dry-run request was allowed)',
    'the identity may still create a bootstrap-token Secret kube-system/bootstrap-token-acrflt (a dry-run request was allowed)',
    'the identity may still create a Secret of another name default/acr-fleet-admission-proof (a dry-run request was allowed)',
    "the identity may still create a Secret without acr-fleet's label default/acr-credential-fleet (a dry-run request was allowed)",
    'the identity may still set ownerReferences on ServiceAccount default/default (a dry-run request was allowed)',
  ])
    t.true(last.includes(attack), attack);
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined, 'nothing stored');
  t.deepEqual(kube.list('secrets'), [], 'the proofs were dry runs');
});

test("the policy fences an ACK cluster's RAM identity (its numeric user) as well, and no one else", async (t) => {
  const kube = await KubeEmulator.start();
  t.teardown(() => kube.close());
  const ramUser = '276543210987654321';
  const settings = admissionSettingsOf(
    {
      secretName: SECRET,
      namespaces: { all: false, names: ['default'] },
      excludeNamespaces: ['kube-system', 'kube-public', 'kube-node-lease'],
    },
    { ramUser },
  );
  for (const obj of admissionPolicyObjects(settings, 'v1'))
    kube.seed(
      obj.kind === 'ValidatingAdmissionPolicy' ? 'validatingadmissionpolicies' : 'validatingadmissionpolicybindings',
      obj,
    );
  kube.seed('clusterrolebindings', {
    metadata: { name: 'secret-writers' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [
      { kind: 'User', name: ramUser },
      { kind: 'User', name: 'platform-admin' },
    ],
  });
  kube.addToken('ram-token', { name: ramUser, groups: [] });
  kube.addToken('admin-token', { name: 'platform-admin', groups: [] });
  const as = (token: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfig({ token }));
    return kc.makeApiClient(CoreV1Api);
  };
  const tokenSecret = (api: CoreV1Api, name: string) =>
    outcome(
      api.createNamespacedSecret({
        namespace: 'kube-system',
        body: {
          metadata: { name, annotations: { 'kubernetes.io/service-account.name': 'default' } },
          type: 'kubernetes.io/service-account-token',
        },
      }),
    );
  const denied = await tokenSecret(as('ram-token'), SECRET);
  t.is(denied.code, 403, denied.message);
  t.true(denied.message.includes(POLICY));
  t.is(kube.get('secrets', 'kube-system', SECRET), undefined);
  t.is((await tokenSecret(as('admin-token'), 'admins-own')).code, 200, 'other users are not matched');
});
