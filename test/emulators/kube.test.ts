/**
 * Behaviour of the Kubernetes API emulator, driven through the real @kubernetes/client-node
 * (over HTTPS with the generated kubeconfig) and, where the client cannot express a request,
 * through raw fetch against a plain-HTTP emulator.
 */
import test, { type ExecutionContext } from 'ava';
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { KubeEmulator } from './kube/index.js';

const ADMIN = 'admin-token';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const DOCKER = b64(JSON.stringify({ auths: { 'registry.example.com': { auth: b64('u:p') } } }));

function clients(emu: KubeEmulator, token?: string) {
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfig({ token }));
  return {
    core: kc.makeApiClient(CoreV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    authz: kc.makeApiClient(AuthorizationV1Api),
  };
}

async function start(t: ExecutionContext, opts?: { tls?: boolean }) {
  const emu = await KubeEmulator.start(opts);
  t.teardown(() => emu.close());
  emu.addToken(ADMIN, { name: 'admin', groups: ['system:masters'] });
  emu.seed('namespaces', { metadata: { name: 'demo' } });
  return { emu, ...clients(emu, ADMIN) };
}

interface Failure {
  code: number;
  body: { message?: string; reason?: string; details?: Record<string, unknown>; code?: number };
}

/** Awaits a call expected to fail and returns the HTTP code and parsed Status. */
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) {
      const raw = (e as ApiException<unknown>).body;
      return {
        code: e.code,
        body: typeof raw === 'string' && raw ? JSON.parse(raw) : ((raw ?? {}) as Failure['body']),
      };
    }
    throw e;
  }
  throw new Error('expected the call to fail');
}

const patchAs = (type: string) => setHeaderOptions('Content-Type', type);

test('secrets are created, read back and listed across namespaces with label and field selectors', async (t) => {
  const { emu, core } = await start(t);
  emu.seed('namespaces', { metadata: { name: 'other' } });
  const created = await core.createNamespacedSecret({
    namespace: 'demo',
    body: {
      metadata: { name: 'pull', labels: { app: 'acr', tier: 'a' } },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': DOCKER },
    },
  });
  t.truthy(created.metadata?.uid);
  t.regex(String(created.metadata?.creationTimestamp?.toISOString()), /^\d{4}-/);
  await core.createNamespacedSecret({
    namespace: 'other',
    body: { metadata: { name: 'plain', labels: { app: 'acr', tier: 'b' } }, stringData: { k: 'v' } },
  });
  await core.createNamespacedSecret({ namespace: 'other', body: { metadata: { name: 'unlabelled' } } });

  const got = await core.readNamespacedSecret({ namespace: 'other', name: 'plain' });
  t.is(got.type, 'Opaque', 'type defaults to Opaque');
  t.deepEqual(got.data, { k: b64('v') }, 'stringData is folded into data');
  t.is(got.stringData, undefined, 'stringData is never stored');

  const names = async (q: { labelSelector?: string; fieldSelector?: string }) =>
    (await core.listSecretForAllNamespaces(q)).items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`);
  const cases: [{ labelSelector?: string; fieldSelector?: string }, string[]][] = [
    [{}, ['demo/pull', 'other/plain', 'other/unlabelled']],
    [{ labelSelector: 'app=acr' }, ['demo/pull', 'other/plain']],
    [{ labelSelector: 'app==acr,tier!=a' }, ['other/plain']],
    [{ labelSelector: 'tier!=a' }, ['other/plain', 'other/unlabelled']],
    [{ labelSelector: 'tier in (a, b)' }, ['demo/pull', 'other/plain']],
    [{ labelSelector: 'tier notin (a)' }, ['other/plain', 'other/unlabelled']],
    [{ labelSelector: '!tier' }, ['other/unlabelled']],
    [{ labelSelector: 'app' }, ['demo/pull', 'other/plain']],
    [{ fieldSelector: 'type=kubernetes.io/dockerconfigjson' }, ['demo/pull']],
    [{ fieldSelector: 'metadata.namespace!=demo,metadata.name==plain' }, ['other/plain']],
    [{ labelSelector: 'app=acr', fieldSelector: 'type!=Opaque' }, ['demo/pull']],
  ];
  for (const [q, expected] of cases) t.deepEqual(await names(q), expected, JSON.stringify(q));

  const list = await core.listNamespacedSecret({ namespace: 'demo' });
  t.is(list.kind, 'SecretList');
  t.is(
    list.metadata?.resourceVersion,
    emu
      .list('secrets')
      .reduce((n, s) => Math.max(n, Number(s.metadata.resourceVersion)), 0)
      .toString(),
  );
});

test('list items carry no kind or apiVersion, like the real server', async (t) => {
  const { emu } = await start(t, { tls: false });
  emu.addToken('t', { name: 'admin', groups: ['system:masters'] });
  emu.seed('secrets', { metadata: { name: 's', namespace: 'demo' } });
  const res = await fetch(`${emu.url}/api/v1/namespaces/demo/secrets`, { headers: { authorization: 'Bearer t' } });
  const body = (await res.json()) as { kind: string; apiVersion: string; items: Record<string, unknown>[] };
  t.is(body.kind, 'SecretList');
  t.is(body.apiVersion, 'v1');
  t.is(body.items[0]?.kind, undefined);
  t.is(body.items[0]?.apiVersion, undefined);
  const one = (await (
    await fetch(`${emu.url}/api/v1/namespaces/demo/secrets/s`, { headers: { authorization: 'Bearer t' } })
  ).json()) as Record<string, unknown>;
  t.deepEqual(Object.keys(one).slice(0, 3), ['kind', 'apiVersion', 'metadata']);
});

test('creating an existing name is 409 AlreadyExists', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'x' } } });
  const f = await failure(core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'x' } } }));
  t.is(f.code, 409);
  t.is(f.body.reason, 'AlreadyExists');
  t.is(f.body.message, 'secrets "x" already exists');
  t.deepEqual(f.body.details, { name: 'x', kind: 'secrets' });
});

test('creating in a missing namespace is 404 for the namespace', async (t) => {
  const { core } = await start(t);
  const f = await failure(core.createNamespacedSecret({ namespace: 'nope', body: { metadata: { name: 'x' } } }));
  t.is(f.code, 404);
  t.is(f.body.reason, 'NotFound');
  t.is(f.body.message, 'namespaces "nope" not found');
});

test('creating in a terminating namespace is 403 with the NamespaceLifecycle message and cause', async (t) => {
  const { emu, core } = await start(t);
  emu.terminateNamespace('demo');
  const f = await failure(core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'x' } } }));
  t.is(f.code, 403);
  t.is(f.body.reason, 'Forbidden');
  t.is(
    f.body.message,
    'secrets "x" is forbidden: unable to create new content in namespace demo because it is being terminated',
  );
  t.deepEqual(f.body.details?.causes, [
    { reason: 'NamespaceTerminating', message: 'namespace demo is being terminated', field: 'metadata.namespace' },
  ]);
});

test('deleting a namespace marks it Terminating; a second delete conflicts until it is finalized', async (t) => {
  const { emu, core } = await start(t);
  emu.seed('secrets', { metadata: { name: 's', namespace: 'demo' } });
  const ns = await core.deleteNamespace({ name: 'demo' });
  t.is((ns as { status?: { phase?: string } }).status?.phase, 'Terminating');
  t.is((await core.readNamespace({ name: 'demo' })).status?.phase, 'Terminating');
  t.truthy(emu.get('secrets', 'demo', 's'), 'contents stay until finalized');
  const f = await failure(core.deleteNamespace({ name: 'demo' }));
  t.is(f.code, 409);
  t.regex(
    String(f.body.message),
    /^Operation cannot be fulfilled on namespaces "demo": The system is ensuring all content is removed/,
  );
  emu.finalizeNamespace('demo');
  t.is(emu.get('namespaces', undefined, 'demo'), undefined);
  t.is(emu.get('secrets', 'demo', 's'), undefined);
});

test('a PUT with a stale resourceVersion is 409 Conflict; without one it updates unconditionally', async (t) => {
  const { core } = await start(t);
  const first = await core.createNamespacedSecret({
    namespace: 'demo',
    body: { metadata: { name: 'x' }, stringData: { a: '1' } },
  });
  await core.replaceNamespacedSecret({
    namespace: 'demo',
    name: 'x',
    body: { metadata: { name: 'x' }, stringData: { a: '2' } },
  });
  const f = await failure(
    core.replaceNamespacedSecret({
      namespace: 'demo',
      name: 'x',
      body: { metadata: { name: 'x', resourceVersion: first.metadata?.resourceVersion }, stringData: { a: '3' } },
    }),
  );
  t.is(f.code, 409);
  t.is(f.body.reason, 'Conflict');
  t.is(
    f.body.message,
    'Operation cannot be fulfilled on secrets "x": the object has been modified; please apply your changes to the latest version and try again',
  );
  t.is((await core.readNamespacedSecret({ namespace: 'demo', name: 'x' })).data?.a, b64('2'));
});

test('a PUT that changes nothing keeps the resourceVersion; a real change bumps it', async (t) => {
  const { core } = await start(t);
  const s = await core.createNamespacedSecret({
    namespace: 'demo',
    body: { metadata: { name: 'x', labels: { a: 'b' } }, data: { k: b64('v') } },
  });
  const same = await core.replaceNamespacedSecret({ namespace: 'demo', name: 'x', body: s });
  t.is(same.metadata?.resourceVersion, s.metadata?.resourceVersion);
  const sameViaPatch = await core.patchNamespacedSecret(
    { namespace: 'demo', name: 'x', body: { metadata: { labels: { a: 'b' } } } },
    patchAs(PatchStrategy.MergePatch),
  );
  t.is(sameViaPatch.metadata?.resourceVersion, s.metadata?.resourceVersion);
  const changed = await core.replaceNamespacedSecret({
    namespace: 'demo',
    name: 'x',
    body: { ...s, data: { k: b64('w') } },
  });
  t.true(Number(changed.metadata?.resourceVersion) > Number(s.metadata?.resourceVersion));
});

test('PUT rejects a name mismatch (400), a missing secret (404) and a type change (422, immutable)', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedSecret({
    namespace: 'demo',
    body: { metadata: { name: 'x' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': DOCKER } },
  });
  const mismatch = await failure(
    core.replaceNamespacedSecret({ namespace: 'demo', name: 'x', body: { metadata: { name: 'y' } } }),
  );
  t.is(mismatch.code, 400);
  t.is(mismatch.body.message, 'the name of the object (y) does not match the name on the URL (x)');
  const missing = await failure(
    core.replaceNamespacedSecret({ namespace: 'demo', name: 'nope', body: { metadata: { name: 'nope' } } }),
  );
  t.is(missing.code, 404);
  t.is(missing.body.message, 'secrets "nope" not found');
  // Omitting `type` defaults it to Opaque, which is a change of an immutable field.
  const immutable = await failure(
    core.replaceNamespacedSecret({
      namespace: 'demo',
      name: 'x',
      body: { metadata: { name: 'x' }, data: { a: b64('1') } },
    }),
  );
  t.is(immutable.code, 422);
  t.is(immutable.body.message, 'Secret "x" is invalid: type: Invalid value: "Opaque": field is immutable');
});

test('dockerconfigjson secrets need valid JSON under .dockerconfigjson (422 at data[.dockerconfigjson])', async (t) => {
  const { core } = await start(t);
  const bad = await failure(
    core.createNamespacedSecret({
      namespace: 'demo',
      body: {
        metadata: { name: 'x' },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': b64('{"auths":') },
      },
    }),
  );
  t.is(bad.code, 422);
  t.is(bad.body.reason, 'Invalid');
  t.is(
    bad.body.message,
    'Secret "x" is invalid: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input',
  );
  t.deepEqual(bad.body.details, {
    name: 'x',
    kind: 'Secret',
    causes: [
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: "<secret contents redacted>": unexpected end of JSON input',
        field: 'data[.dockerconfigjson]',
      },
    ],
  });
  const missing = await failure(
    core.createNamespacedSecret({
      namespace: 'demo',
      body: { metadata: { name: 'x' }, type: 'kubernetes.io/dockerconfigjson' },
    }),
  );
  t.is(missing.body.message, 'Secret "x" is invalid: data[.dockerconfigjson]: Required value');
  const notObject = await failure(
    core.createNamespacedSecret({
      namespace: 'demo',
      body: {
        metadata: { name: 'x' },
        type: 'kubernetes.io/dockerconfigjson',
        stringData: { '.dockerconfigjson': '[]' },
      },
    }),
  );
  t.regex(
    String(notObject.body.message),
    /json: cannot unmarshal array into Go value of type map\[string\]interface \{\}$/,
  );
  const badName = await failure(
    core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'Bad_Name' } } }),
  );
  t.regex(
    String(badName.body.message),
    /^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
  );
});

test("data that is not base64 is a 400 decode error with Go's byte offset", async (t) => {
  const { emu } = await start(t, { tls: false });
  const res = await fetch(`${emu.url}/api/v1/namespaces/demo/secrets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name: 'x' }, data: { key: 'APIKEY_BASE64' } }),
  });
  t.is(res.status, 400);
  t.is(
    ((await res.json()) as { message: string }).message,
    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 6',
  );
});

test('imagePullSecrets patches: JSON patch appends, merge patch and strategic merge patch replace the list', async (t) => {
  const { core } = await start(t);
  const sa = (name: string) =>
    core.createNamespacedServiceAccount({
      namespace: 'demo',
      body: { metadata: { name }, imagePullSecrets: [{ name: 'existing' }] },
    });
  const pulls = async (name: string) =>
    (await core.readNamespacedServiceAccount({ namespace: 'demo', name })).imagePullSecrets?.map((r) => r.name);
  const cases: [string, string, object, (string | undefined)[]][] = [
    [
      'json',
      PatchStrategy.JsonPatch,
      [{ op: 'add', path: '/imagePullSecrets/-', value: { name: 'acr' } }],
      ['existing', 'acr'],
    ],
    ['merge', PatchStrategy.MergePatch, { imagePullSecrets: [{ name: 'acr' }] }, ['acr']],
    // ServiceAccount.imagePullSecrets has no patchStrategy tag in k8s.io/api, so SMP replaces it atomically.
    ['smp', PatchStrategy.StrategicMergePatch, { imagePullSecrets: [{ name: 'acr' }] }, ['acr']],
    // ...and a `$patch: delete` element does not delete on an atomic list: the list becomes that element.
    [
      'smpdelete',
      PatchStrategy.StrategicMergePatch,
      { imagePullSecrets: [{ name: 'existing', $patch: 'delete' }] },
      ['existing'],
    ],
  ];
  for (const [name, type, body, expected] of cases) {
    await sa(name);
    await core.patchNamespacedServiceAccount({ namespace: 'demo', name, body }, patchAs(type));
    t.deepEqual(await pulls(name), expected, name);
  }
});

test('strategic merge patch merges ServiceAccount.secrets by name (new entries first) and finalizers as a set', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedServiceAccount({
    namespace: 'demo',
    body: { metadata: { name: 'sa', finalizers: ['example.com/a'] }, secrets: [{ name: 'one' }, { name: 'two' }] },
  });
  const patched = await core.patchNamespacedServiceAccount(
    {
      namespace: 'demo',
      name: 'sa',
      body: {
        metadata: { finalizers: ['example.com/b', 'example.com/a'] },
        secrets: [{ name: 'three' }, { name: 'one', $patch: 'delete' }],
      },
    },
    patchAs(PatchStrategy.StrategicMergePatch),
  );
  t.deepEqual(
    patched.secrets?.map((s) => s.name),
    ['three', 'two'],
  );
  t.deepEqual(patched.metadata?.finalizers, ['example.com/b', 'example.com/a']);
  const removed = await core.patchNamespacedServiceAccount(
    { namespace: 'demo', name: 'sa', body: { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/a'] } } },
    patchAs(PatchStrategy.StrategicMergePatch),
  );
  t.deepEqual(removed.metadata?.finalizers, ['example.com/b']);
});

test('secret data, labels and annotations patch as maps with every patch type', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedSecret({
    namespace: 'demo',
    body: {
      metadata: { name: 's', labels: { keep: '1', drop: '1' }, annotations: { note: 'x' } },
      data: { a: b64('1'), b: b64('2') },
    },
  });
  const merge = await core.patchNamespacedSecret(
    {
      namespace: 'demo',
      name: 's',
      body: { metadata: { labels: { drop: null, add: '1' } }, data: { b: null, c: b64('3') } },
    },
    patchAs(PatchStrategy.MergePatch),
  );
  t.deepEqual(merge.metadata?.labels, { add: '1', keep: '1' });
  t.deepEqual(merge.data, { a: b64('1'), c: b64('3') });
  const smp = await core.patchNamespacedSecret(
    { namespace: 'demo', name: 's', body: { metadata: { annotations: { other: 'y' } }, stringData: { d: '4' } } },
    patchAs(PatchStrategy.StrategicMergePatch),
  );
  t.deepEqual(smp.metadata?.annotations, { note: 'x', other: 'y' });
  t.is(smp.data?.d, b64('4'));
  const json = await core.patchNamespacedSecret(
    {
      namespace: 'demo',
      name: 's',
      body: [
        { op: 'test', path: '/metadata/labels/keep', value: '1' },
        { op: 'replace', path: '/data/a', value: b64('9') },
        { op: 'add', path: '/metadata/annotations/acr~1synced', value: 'yes' },
      ],
    },
    patchAs(PatchStrategy.JsonPatch),
  );
  t.is(json.data?.a, b64('9'));
  t.is(json.metadata?.annotations?.['acr/synced'], 'yes');
});

test('a failing JSON patch test op is 422 with the generic message', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 's', labels: { v: '1' } } } });
  const f = await failure(
    core.patchNamespacedSecret(
      {
        namespace: 'demo',
        name: 's',
        body: [
          { op: 'test', path: '/metadata/labels/v', value: '2' },
          { op: 'remove', path: '/metadata/labels/v' },
        ],
      },
      patchAs(PatchStrategy.JsonPatch),
    ),
  );
  t.is(f.code, 422);
  t.deepEqual(f.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the server rejected our request due to an error in our request',
    reason: 'Invalid',
    details: {},
    code: 422,
  });
  t.is((await core.readNamespacedSecret({ namespace: 'demo', name: 's' })).metadata?.labels?.v, '1');
});

test('a patch that sets metadata.resourceVersion is a precondition; patching a missing object is 404', async (t) => {
  const { core } = await start(t);
  await core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 's' } } });
  const stale = await failure(
    core.patchNamespacedSecret(
      { namespace: 'demo', name: 's', body: { metadata: { resourceVersion: '1', labels: { a: 'b' } } } },
      patchAs(PatchStrategy.MergePatch),
    ),
  );
  t.is(stale.code, 409);
  t.is(stale.body.reason, 'Conflict');
  const missing = await failure(
    core.patchNamespacedSecret({ namespace: 'demo', name: 'nope', body: {} }, patchAs(PatchStrategy.MergePatch)),
  );
  t.is(missing.code, 404);
});

test('PATCH with Content-Type application/json is 415 UnsupportedMediaType', async (t) => {
  const { emu } = await start(t, { tls: false });
  emu.seed('secrets', { metadata: { name: 's', namespace: 'demo' } });
  const res = await fetch(`${emu.url}/api/v1/namespaces/demo/secrets/s`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: '{}',
  });
  t.is(res.status, 415);
  t.is(res.headers.get('content-type'), 'application/json');
  t.deepEqual(await res.json(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml',
    reason: 'UnsupportedMediaType',
    code: 415,
  });
});

test('an unknown bearer token is 401; no token is system:anonymous and forbidden', async (t) => {
  const { emu } = await start(t);
  const bad = await failure(clients(emu, 'wrong').core.listNamespace());
  t.is(bad.code, 401);
  const anon = await failure(clients(emu).core.listNamespacedSecret({ namespace: 'demo' }));
  t.is(anon.code, 403);
  t.is(
    anon.body.message,
    'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" in the namespace "demo"',
  );
  t.deepEqual(
    emu.requests.map((r) => [r.user, r.status]),
    [
      ['', 401],
      ['system:anonymous', 403],
    ],
  );
});

test('RBAC denies with the real messages and allows exactly what a Role grants', async (t) => {
  const { emu, rbac } = await start(t);
  emu.addToken('alice-token', { name: 'alice', groups: ['team'] });
  const alice = clients(emu, 'alice-token').core;
  const listDenied = await failure(alice.listNamespacedSecret({ namespace: 'demo' }));
  t.is(listDenied.code, 403);
  t.is(listDenied.body.reason, 'Forbidden');
  t.is(
    listDenied.body.message,
    'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "demo"',
  );
  t.is(
    (await failure(alice.listSecretForAllNamespaces())).body.message,
    'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" at the cluster scope',
  );
  t.is(
    (await failure(alice.readNamespacedSecret({ namespace: 'demo', name: 'x' }))).body.message,
    'secrets "x" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "demo"',
  );

  await rbac.createNamespacedRole({
    namespace: 'demo',
    body: {
      metadata: { name: 'pull-secrets' },
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'create'] },
        { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: ['default'], verbs: ['get', 'list'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'demo',
    body: {
      metadata: { name: 'team' },
      subjects: [{ kind: 'Group', name: 'team' }],
      roleRef: { kind: 'Role', name: 'pull-secrets', apiGroup: 'rbac.authorization.k8s.io' },
    },
  });
  emu.seed('serviceaccounts', { metadata: { name: 'default', namespace: 'demo' } });
  t.is((await alice.listNamespacedSecret({ namespace: 'demo' })).items.length, 0);
  await alice.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'mine' } } });
  t.is((await alice.readNamespacedServiceAccount({ namespace: 'demo', name: 'default' })).metadata?.name, 'default');
  t.is(
    (await failure(alice.listNamespacedServiceAccount({ namespace: 'demo' }))).code,
    403,
    'resourceNames never match a plain list',
  );
  t.is((await failure(alice.deleteNamespacedSecret({ namespace: 'demo', name: 'mine' }))).code, 403);
  t.is(
    (await failure(alice.listNamespacedSecret({ namespace: 'default' }))).code,
    403,
    'a RoleBinding grants only its namespace',
  );
});

test('resourceNames match named requests, and a list or watch only through a metadata.name field selector', async (t) => {
  const { emu } = await start(t, { tls: false });
  emu.addToken('t', { name: 'fleet' });
  emu.seed('namespaces', { metadata: { name: 'other' } });
  for (const [namespace, name] of [
    ['demo', 'pull'],
    ['demo', 'other'],
    ['other', 'pull'],
  ])
    emu.seed('secrets', { metadata: { namespace, name } });
  emu.seed('clusterroles', {
    metadata: { name: 'named' },
    rules: [
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['pull'],
        verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete', 'create', 'deletecollection'],
      },
    ],
  });
  emu.seed('clusterrolebindings', {
    metadata: { name: 'named' },
    subjects: [{ kind: 'User', name: 'fleet' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'named' },
  });
  const body = JSON.stringify({ metadata: { name: 'pull', namespace: 'demo' } });
  const cases: [string, string, string, number][] = [
    ['GET', '/api/v1/secrets?fieldSelector=metadata.name%3Dpull', 'a list by name', 200],
    ['GET', '/api/v1/secrets?fieldSelector=metadata.name%3D%3Dpull', '== is an exact match too', 200],
    [
      'GET',
      '/api/v1/secrets?fieldSelector=metadata.namespace%3Ddemo,metadata.name%3Dpull',
      'other terms may come along',
      200,
    ],
    ['GET', '/api/v1/namespaces/demo/secrets?fieldSelector=metadata.name%3Dpull', 'a namespaced list by name', 200],
    [
      'GET',
      '/api/v1/secrets?fieldSelector=metadata.name%3Dpull&labelSelector=app%3Dx',
      'a label selector besides the name',
      200,
    ],
    ['GET', '/api/v1/secrets', 'a list of all Secrets', 403],
    ['GET', '/api/v1/secrets?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dacr-fleet', 'a list by label', 403],
    ['GET', '/api/v1/secrets?fieldSelector=metadata.name%3Dother', 'a list by another name', 403],
    ['GET', '/api/v1/secrets?fieldSelector=metadata.name!%3Dother', '!= is no exact match', 403],
    [
      'GET',
      '/api/v1/secrets?fieldSelector=metadata.name%3Dpull&labelSelector=a%20in',
      'a bad label selector leaves the list unnamed',
      403,
    ],
    ['GET', '/api/v1/secrets?fieldSelector=metadata.name%3Dpull&limit=ten', 'a bad limit leaves the list unnamed', 403],
    [
      'GET',
      '/api/v1/namespaces/demo/secrets?watch=true&fieldSelector=metadata.name%3Dpull',
      'a watch by name is authorized (then 405: watch is not emulated)',
      405,
    ],
    ['GET', '/api/v1/namespaces/demo/secrets?watch=true', 'a watch without the name', 403],
    ['GET', '/api/v1/namespaces/demo/secrets/pull', 'get by name', 200],
    ['GET', '/api/v1/namespaces/demo/secrets/other', 'get of another Secret', 403],
    ['PATCH', '/api/v1/namespaces/demo/secrets/other', 'patch of another Secret', 403],
    ['PUT', '/api/v1/namespaces/demo/secrets/pull', 'update by name', 200],
    ['DELETE', '/api/v1/namespaces/other/secrets/pull', 'delete by name', 200],
    [
      'DELETE',
      '/api/v1/namespaces/demo/secrets?fieldSelector=metadata.name%3Dpull',
      'deletecollection has no name, whatever the selector',
      403,
    ],
    ['POST', '/api/v1/namespaces/demo/secrets', 'create has no name, so resourceNames never allow it', 403],
  ];
  for (const [method, url, what, status] of cases) {
    const res = await fetch(`${emu.url}${url}`, {
      method,
      headers: {
        authorization: 'Bearer t',
        'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
      },
      ...(['PUT', 'POST', 'PATCH'].includes(method) ? { body: method === 'PATCH' ? '{}' : body } : {}),
    });
    t.is(res.status, status, `${method} ${url}: ${what}`);
  }
  const create = await (
    await fetch(`${emu.url}/api/v1/namespaces/demo/secrets`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body,
    })
  ).json();
  t.is(
    (create as { message: string }).message,
    'secrets is forbidden: User "fleet" cannot create resource "secrets" in API group "" in the namespace "demo"',
  );
  const list = await (
    await fetch(`${emu.url}/api/v1/secrets?fieldSelector=metadata.name%3Dpull`, {
      headers: { authorization: 'Bearer t' },
    })
  ).json();
  t.deepEqual(
    (list as { items: { metadata: { namespace: string } }[] }).items.map((i) => i.metadata.namespace),
    ['demo'],
    'other was deleted above',
  );

  const review = async (verb: string, name?: string) => {
    const res = await fetch(`${emu.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb, resource: 'secrets', ...(name ? { name } : {}) } },
      }),
    });
    return ((await res.json()) as { status: { allowed: boolean } }).status.allowed;
  };
  t.true(await review('list', 'pull'), 'an access review names the list as the field selector would');
  t.false(await review('list'));
  t.true(await review('create', 'pull'), 'a review may name a create, as the real one passes the name through');
  t.false(await review('create'), 'a real create carries no name');
});

test('a binding to a missing role adds the RBAC resolution error to the 403', async (t) => {
  const { emu } = await start(t);
  emu.addToken('bob-token', { name: 'bob' });
  emu.seed('clusterrolebindings', {
    metadata: { name: 'bob' },
    subjects: [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { kind: 'ClusterRole', name: 'gone', apiGroup: 'rbac.authorization.k8s.io' },
  });
  const f = await failure(clients(emu, 'bob-token').core.listNamespace());
  t.is(
    f.body.message,
    'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found',
  );
});

test('a TokenRequest token authenticates as the ServiceAccount, follows its RBAC and dies with it', async (t) => {
  const { emu, core, rbac } = await start(t);
  await core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'fleet' } } });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: 'demo',
    name: 'fleet',
    body: { spec: { audiences: [] } },
  });
  t.is(tr.spec.expirationSeconds, 3600);
  const token = String(tr.status?.token);
  t.is(token.split('.').length, 3, 'shaped like a JWT');
  const sa = clients(emu, token);
  const denied = await failure(sa.core.listNamespacedSecret({ namespace: 'demo' }));
  t.is(
    denied.body.message,
    'secrets is forbidden: User "system:serviceaccount:demo:fleet" cannot list resource "secrets" in API group "" in the namespace "demo"',
  );

  await rbac.createClusterRole({
    body: {
      metadata: { name: 'secret-reader' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'demo',
    body: {
      metadata: { name: 'fleet' },
      subjects: [{ kind: 'ServiceAccount', name: 'fleet' }],
      roleRef: { kind: 'ClusterRole', name: 'secret-reader', apiGroup: 'rbac.authorization.k8s.io' },
    },
  });
  t.deepEqual((await sa.core.listNamespacedSecret({ namespace: 'demo' })).items, []);
  t.is(emu.requests.at(-1)?.user, 'system:serviceaccount:demo:fleet');

  await core.deleteNamespacedServiceAccount({ namespace: 'demo', name: 'fleet' });
  t.is((await failure(sa.core.listNamespacedSecret({ namespace: 'demo' }))).code, 401);
  t.is(
    (
      await failure(
        core.createNamespacedServiceAccountToken({
          namespace: 'demo',
          name: 'fleet',
          body: { spec: { audiences: [] } },
        }),
      )
    ).code,
    404,
  );
});

test("SelfSubjectAccessReview answers the caller's own RBAC decision", async (t) => {
  const { emu } = await start(t);
  emu.addToken('carol-token', { name: 'carol' });
  emu.seed('roles', {
    metadata: { name: 'r', namespace: 'demo' },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['patch'] }],
  });
  emu.seed('rolebindings', {
    metadata: { name: 'carol', namespace: 'demo' },
    subjects: [{ kind: 'User', name: 'carol' }],
    roleRef: { kind: 'Role', name: 'r', apiGroup: 'rbac.authorization.k8s.io' },
  });
  const { authz } = clients(emu, 'carol-token');
  const ask = async (verb: string, namespace: string) =>
    (
      await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace, verb, resource: 'secrets', group: '' } } },
      })
    ).status;
  const yes = await ask('patch', 'demo');
  t.true(yes?.allowed);
  t.is(yes?.reason, 'RBAC: allowed by RoleBinding "carol/demo" of Role "r" to User "carol"');
  t.false((await ask('delete', 'demo'))?.allowed);
  t.false((await ask('patch', 'default'))?.allowed);
});

test("unsupported field selectors are 400 with the conversion func's message", async (t) => {
  const { core } = await start(t);
  const secrets = await failure(core.listSecretForAllNamespaces({ fieldSelector: 'xyz=1' }));
  t.is(secrets.code, 400);
  t.is(secrets.body.reason, 'BadRequest');
  t.is(secrets.body.message, 'field label not supported: xyz');
  const sas = await failure(core.listNamespacedServiceAccount({ namespace: 'demo', fieldSelector: 'type=x' }));
  t.is(sas.body.message, '"type" is not a known field selector: only "metadata.name", "metadata.namespace"');
  t.deepEqual(
    (await core.listNamespace({ fieldSelector: 'status.phase=Active,metadata.name=demo' })).items.map(
      (n) => n.metadata?.name,
    ),
    ['demo'],
  );
});

test('injected faults fail, reset or delay the next matching requests, and every request is logged', async (t) => {
  const { emu, core } = await start(t);
  emu.injectFault({ method: 'GET', path: /\/secrets$/, status: 500, times: 2 });
  emu.injectFault({ path: /\/serviceaccounts$/, status: 0 });
  emu.injectFault({ path: /\/configmaps$/, delayMs: 150 });
  const first = await failure(core.listNamespacedSecret({ namespace: 'demo' }));
  t.is(first.code, 500);
  t.is(first.body.reason, 'InternalError');
  t.is((await failure(core.listNamespacedSecret({ namespace: 'demo' }))).code, 500);
  t.is((await core.listNamespacedSecret({ namespace: 'demo' })).items.length, 0);
  const reset = await t.throwsAsync(core.listNamespacedServiceAccount({ namespace: 'demo' }), { any: true });
  t.is((reset as { code?: string }).code, 'ECONNRESET');
  const started = Date.now();
  await core.listNamespacedConfigMap({ namespace: 'demo' });
  t.true(Date.now() - started >= 140);
  t.deepEqual(
    emu.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.user}`),
    [
      'GET /api/v1/namespaces/demo/secrets 500 admin',
      'GET /api/v1/namespaces/demo/secrets 500 admin',
      'GET /api/v1/namespaces/demo/secrets 200 admin',
      'GET /api/v1/namespaces/demo/serviceaccounts 0 admin',
      'GET /api/v1/namespaces/demo/configmaps 200 admin',
    ],
  );
  emu.resetRequests();
  t.deepEqual(emu.requests, []);
});

test('a reset after the request was served stores the write but never answers', async (t) => {
  const { emu, core } = await start(t);
  emu.injectFault({ method: 'POST', path: /\/configmaps$/, status: 0, after: true });
  const reset = await t.throwsAsync(
    core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'kept' }, data: { a: '1' } } }),
    { any: true },
  );
  t.is((reset as { code?: string }).code, 'ECONNRESET');
  t.deepEqual(emu.get('configmaps', 'demo', 'kept')?.data, { a: '1' }, 'the write took effect');
  t.deepEqual(
    emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    ['POST /api/v1/namespaces/demo/configmaps 0'],
  );
});

test('a share of matching requests fails, spread evenly; the others are served', async (t) => {
  const { emu, core } = await start(t);
  emu.injectFault({ method: ['POST', 'PUT'], path: /\/configmaps/, status: 503, share: 0.3, times: 100 });
  const outcomes: number[] = [];
  for (let i = 0; i < 10; i++) {
    outcomes.push(
      await core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: `c${i}` } } }).then(
        () => 201,
        (e: { code: number }) => e.code,
      ),
    );
  }
  t.deepEqual(outcomes, [201, 201, 201, 503, 201, 201, 503, 201, 201, 503]);
  t.is((await core.listNamespacedConfigMap({ namespace: 'demo' })).items.length, 7, 'GETs do not match the rule');
});

test('a hung request never answers until the client gives up', async (t) => {
  const { emu } = await start(t, { tls: false });
  emu.injectFault({ path: /^\/api\/v1\/namespaces$/, hang: true });
  const controller = new AbortController();
  // Give up after 200 ms, but only once the server holds the request: on a loaded machine the request can
  // reach the server after an early abort, and undici then keeps the half-used socket (and queues the next
  // fetch behind it).
  void (async () => {
    await new Promise((r) => setTimeout(r, 200));
    while (!emu.requests.some((r) => r.path === '/api/v1/namespaces')) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
  })();
  const started = Date.now();
  const aborted = await fetch(`${emu.url}/api/v1/namespaces`, {
    signal: controller.signal,
    headers: { authorization: `Bearer ${ADMIN}` },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.is((aborted as { name?: string } | undefined)?.name, 'AbortError');
  t.true(Date.now() - started >= 190);
  const next = await fetch(`${emu.url}/api/v1/namespaces`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.is(next.status, 200, 'the next request is served');
  t.deepEqual(
    emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    ['GET /api/v1/namespaces 0', 'GET /api/v1/namespaces 200'],
  );
});

test('a fresh emulator holds the system namespaces and bootstrap RBAC, and serves discovery', async (t) => {
  const { emu, core } = await start(t);
  t.deepEqual(
    (await core.listNamespace()).items.map((n) => n.metadata?.name),
    ['default', 'demo', 'kube-node-lease', 'kube-public', 'kube-system'],
  );
  t.truthy(emu.get('clusterroles', undefined, 'cluster-admin'));
  t.deepEqual((await core.getAPIResources()).resources.map((r) => r.name).slice(0, 2), ['namespaces', 'secrets']);
});

test('lists page with limit and continue, and deletecollection removes exactly what the selector matches', async (t) => {
  const { emu, core } = await start(t);
  for (const name of ['a', 'b', 'c'])
    emu.seed('configmaps', { metadata: { name, namespace: 'demo', labels: { gone: String(name !== 'b') } } });
  const page1 = await core.listNamespacedConfigMap({ namespace: 'demo', limit: 2 });
  t.deepEqual(
    page1.items.map((c) => c.metadata?.name),
    ['a', 'b'],
  );
  t.is(page1.metadata?.remainingItemCount, 1);
  const page2 = await core.listNamespacedConfigMap({
    namespace: 'demo',
    limit: 2,
    _continue: page1.metadata?._continue,
  });
  t.deepEqual(
    page2.items.map((c) => c.metadata?.name),
    ['c'],
  );
  t.is(page2.metadata?._continue, undefined);
  await core.deleteCollectionNamespacedConfigMap({ namespace: 'demo', labelSelector: 'gone=true' });
  t.deepEqual(
    emu.list('configmaps', 'demo').map((c) => c.metadata.name),
    ['b'],
  );
});

test('unknown fields are dropped with a Warning header, and a create carrying a resourceVersion is refused', async (t) => {
  const { emu } = await start(t, { tls: false });
  const post = (body: object) =>
    fetch(`${emu.url}/api/v1/namespaces/demo/serviceaccounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const res = await post({ metadata: { name: 'sa' }, imagePullSecret: [{ name: 'typo' }] });
  t.is(res.status, 201);
  t.is(res.headers.get('warning'), '299 - "unknown field \\"imagePullSecret\\""');
  t.deepEqual(Object.keys(emu.get('serviceaccounts', 'demo', 'sa')), ['kind', 'apiVersion', 'metadata']);
  const copied = await post({ metadata: { name: 'copy', resourceVersion: '42' } });
  t.is(copied.status, 500);
  t.is(
    ((await copied.json()) as { message: string }).message,
    'resourceVersion should not be set on objects to be created',
  );
});
