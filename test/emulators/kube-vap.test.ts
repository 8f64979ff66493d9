/**
 * The Kubernetes emulator's ValidatingAdmissionPolicy plugin, metadata-only reads, hostile mode and token
 * controller, as kube/README.md describes them. Policies are created through the real
 * @kubernetes/client-node admissionregistration clients; requests whose headers matter go through fetch
 * against a plain-HTTP emulator.
 */
import { AdmissionregistrationV1Api, ApiException, KubeConfig } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { HOSTILE_PREFIX, KubeEmulator, type KubeEmulatorOptions } from './kube/index.js';

const ADMIN = 'admin-token';
const FLEET = 'fleet-token';
const FLEET_USER = 'system:serviceaccount:kube-system:acr-fleet';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const DOCKER = b64(JSON.stringify({ auths: { 'registry.example.com': { auth: b64('u:p') } } }));
const LABEL = 'app.kubernetes.io/managed-by';

/** A policy shaped like the one acr-fleet needs: its identity may write only its own pull Secret. */
const FENCE = {
  metadata: { name: 'acr-fleet-fence' },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets'] },
        { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['serviceaccounts'] },
      ],
    },
    matchConditions: [{ name: 'acr-fleet-only', expression: `request.userInfo.username == "${FLEET_USER}"` }],
    variables: [{ name: 'secret', expression: 'request.resource.resource == "secrets"' }],
    validations: [
      {
        expression: '!variables.secret || object.type == "kubernetes.io/dockerconfigjson"',
        messageExpression: '"Secret type " + object.type + " is not acr-fleet\'s"',
        reason: 'Forbidden',
      },
      { expression: '!variables.secret || object.metadata.name == "acr-credential-fleet"', message: 'wrong name' },
      {
        expression: `!variables.secret || object.metadata.?labels[?"${LABEL}"].orValue("") == "acr-fleet"`,
        reason: 'Forbidden',
      },
      {
        expression:
          'variables.secret || (object.metadata.?ownerReferences.orValue([]) == oldObject.metadata.?ownerReferences.orValue([]))',
        message: 'acr-fleet may change only imagePullSecrets',
        reason: 'Forbidden',
      },
    ],
  },
};
const FENCE_BINDING = {
  metadata: { name: 'acr-fleet-fence' },
  spec: { policyName: 'acr-fleet-fence', validationActions: ['Deny'] },
};

interface Answer {
  status: number;
  body: Record<string, unknown> & { message?: string; reason?: string; details?: unknown; code?: number };
  warning: string | null;
}

/** A plain-HTTP emulator with an admin, the acr-fleet identity (RBAC: write Secrets, patch SAs) and namespace demo. */
async function start(t: ExecutionContext, opts: KubeEmulatorOptions = {}) {
  const emu = await KubeEmulator.start({ tls: false, ...opts });
  t.teardown(() => emu.close());
  emu.addToken(ADMIN, { name: 'admin', groups: ['system:masters'] });
  emu.addToken(FLEET, { name: FLEET_USER, groups: ['system:serviceaccounts'] });
  emu.seed('namespaces', { metadata: { name: 'demo', labels: { team: 'a' } } });
  emu.seed('serviceaccounts', { metadata: { namespace: 'demo', name: 'default' } });
  emu.seed('clusterroles', {
    metadata: { name: 'acr-fleet' },
    rules: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'get', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'patch', 'update'] },
    ],
  });
  emu.seed('clusterrolebindings', {
    metadata: { name: 'acr-fleet' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'acr-fleet' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: FLEET_USER }],
  });
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    opts: { token?: string; contentType?: string; accept?: string } = {},
  ): Promise<Answer> => {
    const res = await fetch(`${emu.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${opts.token ?? ADMIN}`,
        ...(body === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
        ...(opts.accept ? { accept: opts.accept } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'], warning: res.headers.get('warning') };
  };
  const policy = (p: object, version = 'v1') =>
    call('POST', `/apis/admissionregistration.k8s.io/${version}/validatingadmissionpolicies`, p);
  const binding = (b: object, version = 'v1') =>
    call('POST', `/apis/admissionregistration.k8s.io/${version}/validatingadmissionpolicybindings`, b);
  return { emu, call, policy, binding };
}

const secret = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { [LABEL]: 'acr-fleet' } },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': DOCKER },
  ...extra,
});

test('a bound policy denies the identity it matches with the apiserver Status, admits its own Secret and leaves others alone', async (t) => {
  const { emu, call, policy, binding } = await start(t);
  t.is((await policy(FENCE)).status, 201);
  t.is((await binding(FENCE_BINDING)).status, 201);
  const saToken = await call(
    'POST',
    '/api/v1/namespaces/demo/secrets',
    {
      metadata: {
        name: 'acr-credential-fleet',
        labels: { [LABEL]: 'acr-fleet' },
        annotations: { 'kubernetes.io/service-account.name': 'default' },
      },
      type: 'kubernetes.io/service-account-token',
    },
    { token: FLEET },
  );
  const message =
    "ValidatingAdmissionPolicy 'acr-fleet-fence' with binding 'acr-fleet-fence' denied request: Secret type kubernetes.io/service-account-token is not acr-fleet's";
  t.deepEqual(saToken, {
    status: 403,
    warning: null,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `secrets "acr-credential-fleet" is forbidden: ${message}`,
      reason: 'Forbidden',
      details: { name: 'acr-credential-fleet', kind: 'secrets', causes: [{ message }] },
      code: 403,
    },
  });
  // Without a reason the denial is Invalid → 422; the message falls back to `message`, then to the expression.
  const otherName = await call('POST', '/api/v1/namespaces/demo/secrets', secret('stolen'), { token: FLEET });
  t.is(otherName.status, 422);
  t.is(otherName.body.reason, 'Invalid');
  t.is(
    otherName.body.message,
    "secrets \"stolen\" is forbidden: ValidatingAdmissionPolicy 'acr-fleet-fence' with binding 'acr-fleet-fence' denied request: wrong name",
  );
  const unlabelled = await call(
    'POST',
    '/api/v1/namespaces/demo/secrets',
    secret('acr-credential-fleet', { metadata: { name: 'acr-credential-fleet' } }),
    { token: FLEET },
  );
  t.is(unlabelled.status, 403);
  t.regex(
    unlabelled.body.message ?? '',
    /denied request: failed expression: !variables\.secret \|\| object\.metadata\.\?labels/,
  );
  t.is(
    (await call('POST', '/api/v1/namespaces/demo/secrets', secret('acr-credential-fleet'), { token: FLEET })).status,
    201,
  );
  // matchConditions: the admin is not the fenced identity.
  t.is((await call('POST', '/api/v1/namespaces/demo/secrets', { metadata: { name: 'x' } })).status, 201);
  t.deepEqual(
    emu.list('secrets', 'demo').map((s: { metadata: { name: string } }) => s.metadata.name),
    ['acr-credential-fleet', 'x'],
  );
});

test('dry-run creates, patches and deletes are admitted like real ones, see request.dryRun and store nothing', async (t) => {
  const { emu, call, policy, binding } = await start(t);
  await policy(FENCE);
  await binding(FENCE_BINDING);
  const patch = [
    {
      op: 'add',
      path: '/metadata/ownerReferences',
      value: [{ apiVersion: 'v1', kind: 'Namespace', name: 'demo', uid: 'u1' }],
    },
  ];
  const denied = await call('PATCH', '/api/v1/namespaces/demo/serviceaccounts/default?dryRun=All', patch, {
    token: FLEET,
    contentType: 'application/json-patch+json',
  });
  t.is(denied.status, 403);
  t.regex(
    denied.body.message ?? '',
    /serviceaccounts "default" is forbidden: .*acr-fleet may change only imagePullSecrets$/,
  );
  const pullSecrets = await call(
    'PATCH',
    '/api/v1/namespaces/demo/serviceaccounts/default?dryRun=All',
    { imagePullSecrets: [{ name: 'acr-credential-fleet' }] },
    { token: FLEET, contentType: 'application/strategic-merge-patch+json' },
  );
  t.is(pullSecrets.status, 200);
  t.deepEqual((pullSecrets.body as { imagePullSecrets?: unknown }).imagePullSecrets, [
    { name: 'acr-credential-fleet' },
  ]);
  t.is(emu.get('serviceaccounts', 'demo', 'default').imagePullSecrets, undefined, 'a dry run stores nothing');
  t.is(
    (await call('POST', '/api/v1/namespaces/demo/secrets?dryRun=All', secret('other'), { token: FLEET })).status,
    422,
  );
  // A policy that refuses dry runs only: request.dryRun is what the client asked.
  await policy({
    metadata: { name: 'no-dry-run' },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'] }],
      },
      validations: [{ expression: '!request.dryRun', message: 'no dry runs here' }],
    },
  });
  await binding({ metadata: { name: 'no-dry-run' }, spec: { policyName: 'no-dry-run', validationActions: ['Deny'] } });
  emu.seed('configmaps', { metadata: { namespace: 'demo', name: 'c' } });
  t.is((await call('DELETE', '/api/v1/namespaces/demo/configmaps/c?dryRun=All')).status, 422);
  t.truthy(emu.get('configmaps', 'demo', 'c'));
  t.is((await call('DELETE', '/api/v1/namespaces/demo/configmaps/c')).status, 200);
  t.is(emu.get('configmaps', 'demo', 'c'), undefined);
});

test('Warn admits with a Warning header, Audit admits and records an annotation', async (t) => {
  const { emu, call, policy, binding } = await start(t);
  await policy({
    metadata: { name: 'labelled' },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
      },
      validations: [{ expression: 'has(object.metadata.labels)', message: 'configmaps need labels' }],
    },
  });
  await binding({ metadata: { name: 'warn' }, spec: { policyName: 'labelled', validationActions: ['Warn', 'Audit'] } });
  const res = await call('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: 'c' } });
  t.is(res.status, 201);
  t.is(
    res.warning,
    `299 - "Validation failed for ValidatingAdmissionPolicy 'labelled' with binding 'warn': configmaps need labels"`,
  );
  t.deepEqual(emu.auditAnnotations, [
    {
      key: 'validation.policy.admission.k8s.io/validation_failure',
      value: JSON.stringify([
        {
          message: 'configmaps need labels',
          policy: 'labelled',
          binding: 'warn',
          expressionIndex: 0,
          validationActions: ['Warn', 'Audit'],
        },
      ]),
    },
  ]);
});

test('evaluation errors follow failurePolicy (Fail denies with the expression error, Ignore admits); a binding to a missing policy does nothing', async (t) => {
  const { call, policy, binding } = await start(t);
  for (const [failurePolicy, ns] of [
    ['Fail', 'demo'],
    ['Ignore', 'other'],
  ] as const) {
    await call('POST', '/api/v1/namespaces', {
      metadata: { name: ns === 'demo' ? 'unused' : ns, labels: { fp: failurePolicy } },
    });
    await policy({
      metadata: { name: `p-${ns}` },
      spec: {
        failurePolicy,
        matchConstraints: {
          namespaceSelector: { matchLabels: ns === 'demo' ? { team: 'a' } : { fp: 'Ignore' } },
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
        },
        validations: [{ expression: 'object.data.missing == "x"' }],
      },
    });
    await binding({ metadata: { name: `b-${ns}` }, spec: { policyName: `p-${ns}`, validationActions: ['Deny'] } });
  }
  await binding({ metadata: { name: 'orphan' }, spec: { policyName: 'does-not-exist', validationActions: ['Deny'] } });
  const denied = await call('POST', '/api/v1/namespaces/demo/configmaps', {
    metadata: { name: 'c' },
    data: { a: 'b' },
  });
  t.is(denied.status, 422);
  t.is(
    denied.body.message,
    `configmaps "c" is forbidden: ValidatingAdmissionPolicy 'p-demo' with binding 'b-demo' denied request: expression 'object.data.missing == "x"' resulted in error: No such key: missing`,
  );
  t.is(
    (await call('POST', '/api/v1/namespaces/other/configmaps', { metadata: { name: 'c' }, data: { a: 'b' } })).status,
    201,
  );
  t.is(
    (await call('POST', '/api/v1/namespaces/unused/configmaps', { metadata: { name: 'c' } })).status,
    201,
    'namespaceSelector',
  );
});

test('resourceNames, objectSelector and excludeResourceRules of policies and bindings choose the requests', async (t) => {
  const { emu, call, policy, binding } = await start(t);
  await policy({
    metadata: { name: 'deny-all' },
    spec: {
      matchConstraints: {
        objectSelector: { matchExpressions: [{ key: 'free', operator: 'DoesNotExist' }] },
        resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }],
        excludeResourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['namespaces'] }],
      },
      validations: [{ expression: 'false', messageExpression: 'request.operation + " " + request.name' }],
    },
  });
  await binding({
    metadata: { name: 'only-x' },
    spec: {
      policyName: 'deny-all',
      validationActions: ['Deny'],
      matchResources: {
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'], resourceNames: ['x'] },
        ],
      },
    },
  });
  const cm = (name: string, labels?: Record<string, string>) =>
    call('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name, labels } });
  t.is((await cm('y')).status, 201);
  t.is((await cm('x', { free: 'yes' })).status, 201, 'objectSelector');
  t.is((await call('DELETE', '/api/v1/namespaces/demo/configmaps/x')).status, 200, 'oldObject carries the label');
  t.is((await call('DELETE', '/api/v1/namespaces/demo/configmaps/y')).status, 200);
  const denied = await cm('x');
  t.is(denied.status, 422);
  t.regex(denied.body.message ?? '', /denied request: CREATE x$/);
  emu.seed('configmaps', { metadata: { namespace: 'demo', name: 'x' } });
  const deleted = await call('DELETE', '/api/v1/namespaces/demo/configmaps/x');
  t.is(deleted.status, 422);
  t.regex(deleted.body.message ?? '', /^configmaps "x" is forbidden: .*denied request: DELETE x$/);
  t.is((await call('POST', '/api/v1/namespaces', { metadata: { name: 'x' } })).status, 201, 'excludeResourceRules');
});

test('oldObject, namespaceObject and request.userInfo reach the expressions as the apiserver passes them', async (t) => {
  const { call, policy, binding } = await start(t);
  await policy({
    metadata: { name: 'ctx' },
    spec: {
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['configmaps'] }],
      },
      variables: [{ name: 'team', expression: 'namespaceObject.metadata.labels.team' }],
      validations: [
        {
          expression: 'false',
          messageExpression:
            '[request.operation, request.namespace, variables.team, oldObject.data.v, object.data.v, request.userInfo.username, string("system:masters" in request.userInfo.groups), string(request.dryRun), request.options.kind].join(" ")',
        },
      ],
    },
  });
  await binding({ metadata: { name: 'ctx' }, spec: { policyName: 'ctx', validationActions: ['Warn'] } });
  await call('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { name: 'c' }, data: { v: 'old' } });
  const res = await call('PUT', '/api/v1/namespaces/demo/configmaps/c', {
    metadata: { name: 'c' },
    data: { v: 'new' },
  });
  t.is(res.status, 200);
  t.is(
    res.warning,
    `299 - "Validation failed for ValidatingAdmissionPolicy 'ctx' with binding 'ctx': UPDATE demo a old new admin true false UpdateOptions"`,
  );
});

test('the policy kinds are served under v1 and v1beta1, only v1beta1, or not at all, and only served policies admit', async (t) => {
  const both = await start(t);
  const old = await start(t, { admissionPolicyVersions: ['v1beta1'] });
  const none = await start(t, { admissionPolicyVersions: [] });
  const groupVersions = async (s: typeof both) =>
    ((await s.call('GET', '/apis')).body.groups as { name: string; versions: { version: string }[] }[])
      .find((g) => g.name === 'admissionregistration.k8s.io')
      ?.versions.map((v) => v.version);
  t.deepEqual(await groupVersions(both), ['v1', 'v1beta1']);
  t.deepEqual(await groupVersions(old), ['v1', 'v1beta1']);
  t.deepEqual(await groupVersions(none), ['v1']);
  const resources = async (s: typeof both, v: string) => {
    const r = await s.call('GET', `/apis/admissionregistration.k8s.io/${v}`);
    return r.status === 200 ? (r.body.resources as { name: string }[]).map((x) => x.name) : r.status;
  };
  t.deepEqual(await resources(both, 'v1'), [
    'mutatingwebhookconfigurations',
    'validatingadmissionpolicies',
    'validatingadmissionpolicybindings',
  ]);
  t.deepEqual(await resources(old, 'v1'), ['mutatingwebhookconfigurations']);
  t.deepEqual(await resources(old, 'v1beta1'), ['validatingadmissionpolicies', 'validatingadmissionpolicybindings']);
  t.is(await resources(none, 'v1beta1'), 404);
  t.is((await old.policy(FENCE, 'v1')).status, 404);
  const created = await old.policy(FENCE, 'v1beta1');
  t.is(created.status, 201);
  t.is(created.body.apiVersion, 'admissionregistration.k8s.io/v1beta1');
  t.is((created.body.spec as { failurePolicy: string }).failurePolicy, 'Fail');
  t.is((await old.binding(FENCE_BINDING, 'v1beta1')).status, 201);
  t.is((await old.call('POST', '/api/v1/namespaces/demo/secrets', secret('stolen'), { token: FLEET })).status, 422);
  t.is((await none.policy(FENCE, 'v1')).status, 404);
  none.emu.seed('validatingadmissionpolicies', FENCE);
  none.emu.seed('validatingadmissionpolicybindings', FENCE_BINDING);
  t.is(
    (await none.call('POST', '/api/v1/namespaces/demo/secrets', secret('stolen'), { token: FLEET })).status,
    201,
    'no plugin, no fence',
  );
});

test('the real client creates policies and bindings (defaults filled); a policy that does not parse is refused with 422', async (t) => {
  const emu = await KubeEmulator.start();
  t.teardown(() => emu.close());
  emu.addToken(ADMIN, { name: 'admin', groups: ['system:masters'] });
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfig({ token: ADMIN }));
  const v1 = kc.makeApiClient(AdmissionregistrationV1Api);
  const created = await v1.createValidatingAdmissionPolicy({ body: FENCE });
  t.is(created.spec?.matchConstraints?.matchPolicy, 'Equivalent');
  t.is((await v1.readValidatingAdmissionPolicy({ name: 'acr-fleet-fence' })).spec?.failurePolicy, 'Fail');
  await v1.createValidatingAdmissionPolicyBinding({ body: FENCE_BINDING });
  t.deepEqual(
    (await v1.listValidatingAdmissionPolicyBinding()).items.map((b) => b.spec?.policyName),
    ['acr-fleet-fence'],
  );
  const err = await v1
    .createValidatingAdmissionPolicy({
      body: {
        metadata: { name: 'broken' },
        spec: { ...FENCE.spec, validations: [{ expression: 'object.metadata.name ==' }] },
      },
    })
    .catch((e: unknown) => e);
  t.true(err instanceof ApiException);
  t.is((err as ApiException<string>).code, 422);
  t.regex(
    (JSON.parse((err as ApiException<string>).body) as { message: string }).message,
    /^ValidatingAdmissionPolicy.admissionregistration.k8s.io "broken" is invalid: spec.validations\[0\].expression: Invalid value: "object.metadata.name ==": compilation failed: /,
  );
  const noActions = await v1
    .createValidatingAdmissionPolicyBinding({ body: { metadata: { name: 'b' }, spec: { policyName: 'x' } } })
    .catch((e: unknown) => e);
  t.is((noActions as ApiException<string>).code, 422);
});

test('metadata-only lists and gets answer PartialObjectMetadata(List) and page like full lists', async (t) => {
  const { call, emu } = await start(t);
  for (const name of ['a', 'b', 'c'])
    emu.seed('secrets', {
      metadata: { namespace: 'demo', name, labels: { n: name } },
      data: { big: b64('x'.repeat(1000)) },
    });
  const accept = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
  const first = await call('GET', '/api/v1/namespaces/demo/secrets?limit=2', undefined, { accept });
  t.is(first.status, 200);
  t.is(first.body.kind, 'PartialObjectMetadataList');
  t.is(first.body.apiVersion, 'meta.k8s.io/v1');
  const items = first.body.items as {
    kind: string;
    apiVersion: string;
    metadata: { name: string; labels: unknown };
    data?: unknown;
  }[];
  t.deepEqual(
    items.map((i) => [i.kind, i.apiVersion, i.metadata.name]),
    [
      ['PartialObjectMetadata', 'meta.k8s.io/v1', 'a'],
      ['PartialObjectMetadata', 'meta.k8s.io/v1', 'b'],
    ],
  );
  t.deepEqual(Object.keys(items[0]!), ['kind', 'apiVersion', 'metadata']);
  const meta = first.body.metadata as { continue: string; remainingItemCount: number };
  t.is(meta.remainingItemCount, 1);
  const second = await call('GET', `/api/v1/namespaces/demo/secrets?limit=2&continue=${meta.continue}`, undefined, {
    accept,
  });
  t.deepEqual(
    (second.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name),
    ['c'],
  );
  const empty = await call('GET', '/api/v1/namespaces/default/secrets', undefined, { accept });
  t.is(empty.body.items, null, 'an empty PartialObjectMetadataList has items: null');
  const one = await call('GET', '/api/v1/namespaces/demo/secrets/a', undefined, {
    accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
  });
  t.deepEqual(Object.keys(one.body), ['kind', 'apiVersion', 'metadata']);
  t.is(one.body.kind, 'PartialObjectMetadata');
  const wrong = await call('GET', '/api/v1/namespaces/demo/secrets', undefined, {
    accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
  });
  t.is(wrong.status, 406);
  t.is(wrong.body.message, 'you requested PartialObjectMetadata, but the requested object is a list (*v1.SecretList)');
  t.is(
    (await call('GET', '/api/v1/namespaces/demo/secrets')).body.kind,
    'SecretList',
    'plain JSON without the parameter',
  );
});

test('a hostile path streams an endless body until the client hangs up, within the safety cap', async (t) => {
  const { emu } = await start(t);
  emu.hostile({ path: /\/secrets$/, endlessBody: { maxBytes: 256 * 1024 * 1024, maxMs: 10_000 } });
  const controller = new AbortController();
  const res = await fetch(`${emu.url}/api/v1/namespaces/demo/secrets`, {
    headers: { authorization: `Bearer ${ADMIN}` },
    signal: controller.signal,
  });
  t.is(res.status, 200);
  const reader = res.body!.getReader();
  let read = 0;
  while (read < 4 * 1024 * 1024) read += ((await reader.read()).value ?? new Uint8Array()).length;
  controller.abort();
  await reader.cancel().catch(() => undefined);
  t.true(read >= 4 * 1024 * 1024);
  t.true(emu.endlessBytes < 256 * 1024 * 1024, 'stopped by the hang-up, not the cap');
  // The cap ends a body nobody hangs up on.
  emu.clearHostile();
  emu.hostile({ endlessBody: { maxBytes: 100_000 } });
  const capped = await fetch(`${emu.url}/api/v1/namespaces`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const text = await capped.text();
  t.true(text.length >= 100_000 && text.length < 200_000);
  t.true(text.startsWith('{"kind":"SecretList"'));
});

test('hostile mode pages forever, echoes the Authorization header and puts escape sequences in Status messages', async (t) => {
  const { emu, call } = await start(t);
  emu.hostile({ path: /\/configmaps$/, endlessPages: true });
  emu.seed('configmaps', { metadata: { namespace: 'demo', name: 'c' } });
  let token: string | undefined;
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const page = await call('GET', `/api/v1/namespaces/demo/configmaps?limit=10${token ? `&continue=${token}` : ''}`);
    token = (page.body.metadata as { continue?: string }).continue;
    t.truthy(token);
    seen.add(token!);
    t.deepEqual(
      (page.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name),
      ['c'],
    );
  }
  t.is(seen.size, 5, 'a new token every page');
  emu.hostile({ path: /\/secrets\/echo$/, echoHeaders: true, status: 403 });
  const echoed = await call('GET', '/api/v1/namespaces/demo/secrets/echo');
  t.is(echoed.status, 403);
  t.true(echoed.body.message?.includes(`authorization: Bearer ${ADMIN}`));
  emu.hostile({ path: /\/secrets\/missing$/, controlCharacters: true });
  const poisoned = await call('GET', '/api/v1/namespaces/demo/secrets/missing');
  t.is(poisoned.status, 404);
  t.is(poisoned.body.message?.startsWith(HOSTILE_PREFIX), true);
  t.true(poisoned.body.message?.includes('secrets "missing" not found'));
  t.true(poisoned.body.message?.includes('\u001b]52;c;'));
  t.true(poisoned.body.reason?.startsWith('NotFound\u001b]0;'));
  // Injected faults are poisoned too.
  emu.injectFault({ path: /\/secrets\/missing$/, status: 503 });
  const fault = await call('GET', '/api/v1/namespaces/demo/secrets/missing');
  t.is(fault.status, 503);
  t.is(fault.body.message?.startsWith(HOSTILE_PREFIX), true);
});

test('without a policy, a service-account-token Secret gets a working token for its ServiceAccount; bootstrap tokens are ordinary Secrets', async (t) => {
  const { emu, call } = await start(t);
  emu.seed('serviceaccounts', { metadata: { namespace: 'kube-system', name: 'powerful' } });
  emu.seed('clusterrolebindings', {
    metadata: { name: 'powerful' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'powerful', namespace: 'kube-system' }],
  });
  const created = await call(
    'POST',
    '/api/v1/namespaces/kube-system/secrets',
    {
      metadata: { name: 'acr-credential-fleet', annotations: { 'kubernetes.io/service-account.name': 'powerful' } },
      type: 'kubernetes.io/service-account-token',
    },
    { token: FLEET },
  );
  t.is(created.status, 201);
  await new Promise((r) => setTimeout(r, 20));
  const read = await call('GET', '/api/v1/namespaces/kube-system/secrets/acr-credential-fleet', undefined, {
    token: FLEET,
  });
  const data = read.body.data as Record<string, string>;
  t.deepEqual(Object.keys(data), ['namespace', 'token']);
  t.is(Buffer.from(data.namespace!, 'base64').toString(), 'kube-system');
  t.is(
    (read.body.metadata as { annotations: Record<string, string> }).annotations['kubernetes.io/service-account.uid'],
    emu.get('serviceaccounts', 'kube-system', 'powerful').metadata.uid,
  );
  const stolen = Buffer.from(data.token!, 'base64').toString();
  const asAdmin = await call('GET', '/api/v1/namespaces/kube-system/secrets', undefined, { token: stolen });
  t.is(asAdmin.status, 200, 'the stolen token is cluster-admin');
  t.is(emu.requests.at(-1)?.user, 'system:serviceaccount:kube-system:powerful');
  const bootstrap = await call(
    'POST',
    '/api/v1/namespaces/kube-system/secrets',
    {
      metadata: { name: 'bootstrap-token-abcdef' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        'token-id': 'abcdef',
        'token-secret': '0123456789abcdef',
        'usage-bootstrap-authentication': 'true',
      },
    },
    { token: FLEET },
  );
  t.is(bootstrap.status, 201);
  // A token Secret for a ServiceAccount that does not exist is deleted by the controller.
  await call('POST', '/api/v1/namespaces/demo/secrets', {
    metadata: { name: 'ghost', annotations: { 'kubernetes.io/service-account.name': 'nobody' } },
    type: 'kubernetes.io/service-account-token',
  });
  await new Promise((r) => setTimeout(r, 20));
  t.is(emu.get('secrets', 'demo', 'ghost'), undefined);
  // Deleting the Secret revokes its token.
  await call('DELETE', '/api/v1/namespaces/kube-system/secrets/acr-credential-fleet');
  t.is((await call('GET', '/api/v1/namespaces/kube-system/secrets', undefined, { token: stolen })).status, 401);
});

test('the same attack is denied once the fence policy is bound, and nothing is stored', async (t) => {
  const { emu, call, policy, binding } = await start(t);
  await policy(FENCE);
  await binding(FENCE_BINDING);
  emu.seed('serviceaccounts', { metadata: { namespace: 'kube-system', name: 'powerful' } });
  for (const body of [
    {
      metadata: {
        name: 'acr-credential-fleet',
        labels: { [LABEL]: 'acr-fleet' },
        annotations: { 'kubernetes.io/service-account.name': 'powerful' },
      },
      type: 'kubernetes.io/service-account-token',
    },
    {
      metadata: { name: 'bootstrap-token-abcdef', labels: { [LABEL]: 'acr-fleet' } },
      type: 'bootstrap.kubernetes.io/token',
      stringData: { 'token-id': 'abcdef' },
    },
  ]) {
    const res = await call('POST', '/api/v1/namespaces/kube-system/secrets', body, { token: FLEET });
    t.is(res.status, 403, body.metadata.name);
  }
  t.deepEqual(emu.list('secrets', 'kube-system'), []);
});
