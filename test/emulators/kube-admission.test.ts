/**
 * The Kubernetes emulator's mutating admission webhooks, as kube-apiserver runs them: driven through the
 * real @kubernetes/client-node (kubectl's view) against a small HTTPS webhook written here, whose answers
 * are chosen per case. See kube/README.md, "Mutating admission webhooks".
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1MutatingWebhook } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { KubeEmulator } from './kube/index.js';

const TLS = new URL('./tls/', import.meta.url);
const CERT = readFileSync(new URL('cert.pem', TLS), 'utf8');
const ADMIN = 'admin-token';

type Review = {
  request: {
    uid: string;
    dryRun: boolean;
    namespace: string;
    userInfo: { username: string };
    object: { imagePullSecrets?: unknown[] };
  };
};
type Answer = (review: Review) => { status?: number; body?: unknown; delayMs?: number };

/** An emulator, an HTTPS webhook answering with `answer`, and one webhook configuration pointing at it. */
async function setup(
  t: ExecutionContext,
  answer: Answer,
  hook: Partial<V1MutatingWebhook> = {},
  opts: { serviceAccountController?: boolean } = {},
) {
  const seen: Review[] = [];
  const server = createServer({ cert: CERT, key: readFileSync(new URL('key.pem', TLS)) }, (req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const review = JSON.parse(raw) as Review;
      seen.push(review);
      const a = answer(review);
      setTimeout(() => {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const emu = await KubeEmulator.start(opts);
  t.teardown(async () => {
    await emu.close();
    server.closeAllConnections();
    server.close();
  });
  emu.addToken(ADMIN, { name: 'admin', groups: ['system:masters'] });
  emu.seed('namespaces', { metadata: { name: 'demo', labels: { team: 'a' } } });
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfig({ token: ADMIN }));
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/mutate`;
  const { clientConfig, ...rest } = hook;
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: 'test' },
      webhooks: [
        {
          name: 'sa.example.com',
          admissionReviewVersions: ['v1'],
          clientConfig: { url, caBundle: Buffer.from(CERT).toString('base64'), ...clientConfig },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['serviceaccounts'] }],
          sideEffects: 'None',
          ...rest,
        },
      ],
    },
  });
  return { emu, core, admission, seen };
}

const allow =
  (patch?: unknown[]): Answer =>
  (r) => ({
    body: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: r.request.uid,
        allowed: true,
        ...(patch ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
      },
    },
  });

async function failure(p: Promise<unknown>): Promise<{ code: number; reason?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return JSON.parse((e as { body: string }).body) as { code: number; reason?: string; message: string };
  }
  throw new Error('expected the request to fail');
}

test('a webhook configuration is stored with the v1 defaults', async (t) => {
  const { admission } = await setup(t, allow());
  const stored = await admission.readMutatingWebhookConfiguration({ name: 'test' });
  const w = stored.webhooks?.[0];
  t.like(w, {
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: 10,
    reinvocationPolicy: 'Never',
    sideEffects: 'None',
  });
  t.is(w?.rules?.[0]?.scope, '*');
});

test('a JSONPatch answer is applied to the created object, and the review carries the request as the API server sends it', async (t) => {
  const { emu, core, seen } = await setup(
    t,
    allow([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'pull' }] }]),
  );
  const sa = await core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web' } } });
  t.deepEqual(
    sa.imagePullSecrets?.map((r) => r.name),
    ['pull'],
  );
  t.deepEqual(emu.get('serviceaccounts', 'demo', 'web').imagePullSecrets, [{ name: 'pull' }]);
  t.like(seen[0]?.request, { namespace: 'demo', dryRun: false, userInfo: { username: 'admin' } });
});

const FAILURES: [string, Answer, Partial<V1MutatingWebhook>, RegExp | string][] = [
  [
    'a 500 answer',
    () => ({ status: 500, body: 'boom' }),
    {},
    'Internal error occurred: failed calling webhook "sa.example.com": failed to call webhook: an error on the server ("boom") has prevented the request from succeeding',
  ],
  [
    'a wrong uid',
    () => ({
      body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'other', allowed: true } },
    }),
    {},
    /^Internal error occurred: failed calling webhook "sa\.example\.com": received invalid webhook response: expected response\.uid="[-0-9a-f]+", got "other"$/,
  ],
  [
    'a patch without patchType',
    (r) => ({
      body: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: r.request.uid, allowed: true, patch: Buffer.from('[]').toString('base64') },
      },
    }),
    {},
    'Internal error occurred: failed calling webhook "sa.example.com": received invalid webhook response: webhook returned response.patch but not response.patchType',
  ],
  [
    'an answer slower than timeoutSeconds',
    (r) => ({ ...allow()(r), delayMs: 1500 }),
    { timeoutSeconds: 1 },
    /^Internal error occurred: failed calling webhook "sa\.example\.com": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/mutate\?timeout=1s": context deadline exceeded$/,
  ],
  [
    'a CA that does not sign the webhook',
    allow(),
    { clientConfig: { caBundle: '' } },
    /x509: certificate signed by unknown authority$/,
  ],
];

for (const [what, answer, hook, message] of FAILURES) {
  test(`with failurePolicy Fail, ${what} refuses the create with 500; with Ignore the object is created unpatched`, async (t) => {
    const failing = await setup(t, answer, { failurePolicy: 'Fail', ...hook });
    const status = await failure(
      failing.core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web' } } }),
    );
    t.is(status.code, 500);
    t.is(status.reason, 'InternalError');
    if (typeof message === 'string') t.is(status.message, message);
    else t.regex(status.message, message);
    t.is(failing.emu.get('serviceaccounts', 'demo', 'web'), undefined);

    const cfg = await failing.admission.readMutatingWebhookConfiguration({ name: 'test' });
    cfg.webhooks![0]!.failurePolicy = 'Ignore';
    await failing.admission.replaceMutatingWebhookConfiguration({ name: 'test', body: cfg });
    const sa = await failing.core.createNamespacedServiceAccount({
      namespace: 'demo',
      body: { metadata: { name: 'web' } },
    });
    t.is(sa.imagePullSecrets, undefined);
  });
}

test('a refusal is never subject to the failure policy and keeps its message', async (t) => {
  const { emu, core } = await setup(
    t,
    (r) => ({
      body: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: r.request.uid, allowed: false, status: { code: 403, message: 'no' } },
      },
    }),
    { failurePolicy: 'Ignore' },
  );
  const status = await failure(
    core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web' } } }),
  );
  t.deepEqual([status.code, status.message], [403, 'admission webhook "sa.example.com" denied the request: no']);
  t.is(emu.get('serviceaccounts', 'demo', 'web'), undefined);
});

test('namespaceSelector and objectSelector decide whether the webhook is called at all', async (t) => {
  const { emu, core, seen } = await setup(
    t,
    allow([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'pull' }] }]),
    {
      namespaceSelector: {
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }],
      },
      objectSelector: { matchExpressions: [{ key: 'skip', operator: 'DoesNotExist' }] },
    },
  );
  await core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name: 'a' } } });
  await core.createNamespacedServiceAccount({
    namespace: 'demo',
    body: { metadata: { name: 'b', labels: { skip: 'yes' } } },
  });
  await core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'c' } } });
  t.is(seen.length, 1);
  t.deepEqual(
    [
      emu.get('serviceaccounts', 'kube-system', 'a').imagePullSecrets,
      emu.get('serviceaccounts', 'demo', 'b').imagePullSecrets,
    ],
    [undefined, undefined],
  );
  t.deepEqual(emu.get('serviceaccounts', 'demo', 'c').imagePullSecrets, [{ name: 'pull' }]);
});

test('a dry-run create tells the webhook, returns the patched object and stores nothing; a webhook with side effects refuses it', async (t) => {
  const { emu, core, admission, seen } = await setup(
    t,
    allow([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'pull' }] }]),
    { sideEffects: 'NoneOnDryRun' },
  );
  const preview = await core.createNamespacedServiceAccount({
    namespace: 'demo',
    body: { metadata: { name: 'web' } },
    dryRun: 'All',
  });
  t.deepEqual(
    preview.imagePullSecrets?.map((r) => r.name),
    ['pull'],
  );
  t.truthy(preview.metadata?.uid);
  t.is(preview.metadata?.resourceVersion, undefined);
  t.is(seen[0]?.request.dryRun, true);
  t.is(emu.get('serviceaccounts', 'demo', 'web'), undefined);

  // sideEffects "Some" is refused by v1 validation; an older object may still carry it in a real cluster.
  const bad = await failure(
    admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: 'other' },
        webhooks: [
          {
            name: 'x.example.com',
            admissionReviewVersions: ['v1'],
            clientConfig: { url: 'https://127.0.0.1:1/' },
            sideEffects: 'Some',
          },
        ],
      },
    }),
  );
  t.is(bad.code, 422);
  t.regex(
    bad.message,
    /webhooks\[0\]\.sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"/,
  );
  const stored = emu.get('mutatingwebhookconfigurations', undefined, 'test');
  stored.webhooks[0].sideEffects = 'Some';
  emu.seed('mutatingwebhookconfigurations', stored);
  const refused = await failure(
    core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web' } }, dryRun: 'All' }),
  );
  t.deepEqual([refused.code, refused.message], [400, 'admission webhook "sa.example.com" does not support dry run']);
});

test('with the service account controller on, a new namespace gets its default ServiceAccount through the webhooks', async (t) => {
  const { emu, core, seen } = await setup(
    t,
    allow([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'pull' }] }]),
    {},
    { serviceAccountController: true },
  );
  t.truthy(emu.get('serviceaccounts', 'kube-system', 'default'), 'system namespaces have theirs from the start');
  await core.createNamespace({ body: { metadata: { name: 'fresh' } } });
  for (let i = 0; i < 100 && !emu.get('serviceaccounts', 'fresh', 'default'); i++)
    await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(emu.get('serviceaccounts', 'fresh', 'default').imagePullSecrets, [{ name: 'pull' }]);
  t.is(seen.at(-1)?.request.userInfo.username, 'system:serviceaccount:kube-system:service-account-controller');
});

const BAD_URLS: [string, string][] = [
  [
    'https://h:abc/x',
    'webhooks[0].clientConfig.url: Required value: url must be a valid URL: parse "https://h:abc/x": invalid port ":abc" after host; desired format: https://host[/path]',
  ],
  [
    'http://h/x',
    'webhooks[0].clientConfig.url: Invalid value: "http": \'https\' is the only allowed URL scheme; desired format: https://host[/path]',
  ],
  [
    'https://u:p@h/x',
    'webhooks[0].clientConfig.url: Invalid value: "u:p": user information is not permitted in the URL',
  ],
  [
    'https://h/x?a=1',
    'webhooks[0].clientConfig.url: Invalid value: "a=1": query parameters are not permitted in the URL',
  ],
  ['https://h/x#f', 'webhooks[0].clientConfig.url: Invalid value: "f": fragments are not permitted in the URL'],
];
for (const [url, detail] of BAD_URLS) {
  test(`a webhook URL ${url} is refused as ValidateWebhookURL refuses it`, async (t) => {
    const { admission } = await setup(t, allow());
    const e = await failure(
      admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: 'bad' },
          webhooks: [
            { name: 'sa.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { url } },
          ],
        },
      }),
    );
    t.is(e.code, 422);
    t.true(e.message.includes(detail), e.message);
  });
}

test('validating admission policies run after the mutating webhooks and after validation, on the patched object', async (t) => {
  const { emu, core, admission, seen } = await setup(
    t,
    allow([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'pull' }] }]),
  );
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: 'one-pull-secret' },
      spec: {
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['serviceaccounts'] },
          ],
        },
        validations: [
          {
            expression: 'has(object.imagePullSecrets) && object.imagePullSecrets.all(s, s.name == "pull")',
            message: 'the pull secret is missing',
          },
        ],
      },
    },
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: {
      metadata: { name: 'one-pull-secret' },
      spec: { policyName: 'one-pull-secret', validationActions: ['Deny'] },
    },
  });
  // The webhook's patch makes the object pass: the policy saw the patched object.
  await core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web' } } });
  t.deepEqual(emu.get('serviceaccounts', 'demo', 'web').imagePullSecrets, [{ name: 'pull' }]);
  // An invalid name fails validation (422 is invalid) after the webhook was called, and the policy is never asked.
  const invalid = await failure(
    core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'Web' } } }),
  );
  t.is(invalid.code, 422);
  t.regex(invalid.message, /^ServiceAccount "Web" is invalid/);
  t.is(seen.length, 2, 'the webhook ran before validation');
  // Without the webhook the same create is denied: the policy is live, and only the patch satisfied it.
  await admission.deleteMutatingWebhookConfiguration({ name: 'test' });
  const denied = await failure(
    core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'web3' } } }),
  );
  t.is(denied.code, 422);
  t.is(
    denied.message,
    `serviceaccounts "web3" is forbidden: ValidatingAdmissionPolicy 'one-pull-secret' with binding 'one-pull-secret' denied request: the pull secret is missing`,
  );
});
