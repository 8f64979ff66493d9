/**
 * Immediate injection: `register --webhook` installs the cluster's MutatingWebhookConfiguration, the
 * emulated API server calls the real handler (`index.webhook`) through a local FC HTTP trigger, and
 * ServiceAccounts are created as kubectl creates them. Every test checks the final state of the cluster.
 */
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { credentialFromFc } from '../src/cloud/credentials.js';
import { KmsApi } from '../src/cloud/kms.js';
import { SdkOpenApiCaller } from '../src/cloud/openapi.js';
import { resetWebhookInstance, webhook } from '../src/entry/webhook.js';
import { urlSecret } from '../src/policy/webhook-url.js';
import { ACCOUNT, sandbox, type Sandbox } from './support/sandbox.js';
import { cli, printed } from './support/cli.js';
import { MANAGED_BY, MANAGED_BY_VALUE } from './support/fleet.js';
import { logLines } from './support/parse.js';
import { auths, loginDomains, pullSecrets, SECRET, snapshot } from './support/assert.js';
import { startFcHttpTrigger, TRIGGER_CA_FILE, type FcHttpTrigger } from './support/fc-http.js';
import type { KubeEmulator } from './emulators/kube/index.js';

const ADMIN = 'admin-token-for-register-0123456789';
const CLUSTER = 'hz-prod-1';
const KEY_SECRET = 'acr-fleet/webhook-key';

interface World {
  s: Sandbox;
  kube: KubeEmulator;
  /** kubectl, as a cluster admin. */
  core: CoreV1Api;
  trigger: FcHttpTrigger;
  /** The webhook function's log lines. */
  lines: string[];
  operatorEnv: Record<string, string>;
  /** Makes the function run as this role from now on (a new instance, as after a redeploy). */
  runAs(role: string): Promise<void>;
  /** The role session the function runs with now (for calling the handler directly). */
  credentials(): ReturnType<Sandbox['cloud']['roleSession']>;
}

/**
 * A sandbox fleet (kubeconfigs in KMS) whose hz-prod-1 watches all namespaces and selects the
 * ServiceAccounts `default` and `web`, registered with `--webhook`, with the function behind a trigger.
 */
async function withWebhook(
  t: ExecutionContext,
  fn: (w: World) => Promise<void>,
  opts: {
    failurePolicy?: 'Ignore' | 'Fail';
    serviceAccountController?: boolean;
    configMap?: Record<string, string>;
  } = {},
): Promise<void> {
  const s = await sandbox(t, {
    serviceAccountController: opts.serviceAccountController ?? false,
    kubeconfigs: 'kms',
    functionConfig: true,
  });
  const lines: string[] = [];
  let session = s.cloud.roleSession(s.functionRole);
  await resetWebhookInstance();
  const trigger = await startFcHttpTrigger((event, ctx) =>
    webhook(event, { requestId: ctx.requestId, credentials: session }, (l) => lines.push(l)),
  );
  // Runs before the sandbox's own teardown.
  t.teardown(async () => {
    await resetWebhookInstance();
    await trigger.close();
  });
  const runAs = async (role: string) => {
    session = s.cloud.roleSession(role);
    await resetWebhookInstance();
  };
  const printedBefore = printed.length;
  await s.editConfig((d) => {
    d.webhook = { url: trigger.url, caFile: fileURLToPath(TRIGGER_CA_FILE) };
    (d.defaults as Record<string, unknown>).webhook = {
      enabled: true,
      failurePolicy: opts.failurePolicy ?? 'Ignore',
      timeoutSeconds: 5,
    };
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === CLUSTER);
    if (c) c.serviceAccount = 'default,web';
  });
  const kube = s.cluster(CLUSTER).kube;
  await s.adminKubeconfig(kube, { token: ADMIN, contextName: CLUSTER });
  const operatorEnv = s.operatorEnv([
    'kms:CreateSecret',
    'kms:PutSecretValue',
    'kms:DeleteSecret',
    'kms:GetSecretValue',
  ]);
  if (opts.configMap)
    kube.seed('configmaps', {
      metadata: { namespace: 'kube-system', name: 'acr-configuration' },
      data: opts.configMap,
    });
  const reg = await cli(
    [
      'register',
      '--cluster',
      CLUSTER,
      '--kubeconfig',
      'admin.yaml',
      '--webhook',
      // Issue 15: the operator allows the registries a ConfigMap may pick (here the add-on's default, the region's PE).
      ...(opts.configMap ? ['--with-configmap', '--registries', 'hz-personal'] : []),
    ],
    { cwd: s.dir, env: operatorEnv },
  );
  t.is(reg.code, 0, reg.stderr);
  t.regex(reg.stderr, /^hz-prod-1: webhook: configured \(URL secret derived from the KMS key\)$/m);
  t.regex(reg.stderr, /^hz-prod-1: mutatingwebhookconfiguration acr-fleet: created$/m);
  // Issue 16: every webhook test runs with the admission policy register installs fencing the identity.
  t.regex(reg.stderr, /^hz-prod-1: validatingadmissionpolicybinding acr-fleet: created$/m);
  const kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfig({ token: ADMIN }));
  await fn({
    s,
    kube,
    core: kc.makeApiClient(CoreV1Api),
    trigger,
    lines,
    operatorEnv,
    runAs,
    credentials: () => session,
  });

  // Nothing secret in any output: the function's logs and every CLI run of this test.
  const key = s.cloud.getKmsSecret(ACCOUNT, 'cn-hangzhou', KEY_SECRET)?.data ?? '';
  t.true(key.length > 20, 'the webhook key is kept in KMS');
  const passwords = s.clusters.flatMap((c) =>
    c.kube
      .list('secrets')
      .filter((x: { metadata: { name: string } }) => x.metadata.name === SECRET)
      .flatMap((x: { metadata: { namespace: string } }) =>
        Object.values(auths(c.kube, x.metadata.namespace)).map((a) => a.password),
      ),
  );
  const output = [...lines, ...printed.slice(printedBefore)].join('\n');
  for (const secret of [key, urlSecret(key, CLUSTER), ADMIN, ...passwords])
    t.false(output.includes(secret), 'no key, URL secret or token in any output');
}

const sa = (name: string, imagePullSecrets?: string[]) => ({
  metadata: { name },
  ...(imagePullSecrets ? { imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })) } : {}),
});
const names = (o: { imagePullSecrets?: { name?: string }[] }) => (o.imagePullSecrets ?? []).map((r) => r.name);
const until = async (check: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
};

// The handler reads ACR_FLEET_CONFIG from the process environment, so these tests run one at a time.
for (const [title, existing, expected] of [
  [
    'a ServiceAccount created in a watched namespace comes back with the Secret after its own imagePullSecrets, and the Secret exists',
    ['docker-hub', 'quay'],
    ['docker-hub', 'quay', SECRET],
  ],
  [
    'a ServiceAccount created without imagePullSecrets comes back with the Secret as its only entry',
    undefined,
    [SECRET],
  ],
] as const) {
  test.serial(title, async (t) => {
    await withWebhook(t, async ({ s, kube, core }) => {
      const created = await core.createNamespacedServiceAccount({
        namespace: 'team-a',
        body: sa('web', existing ? [...existing] : undefined),
      });
      t.deepEqual(names(created), [...expected]);
      t.deepEqual(pullSecrets(kube, 'team-a', 'web'), [...expected]);
      t.is(
        loginDomains(s.cloud, kube, 'team-a').length,
        5,
        'the Secret holds working credentials for every domain, as a refresh writes it',
      );
      t.is(kube.get('secrets', 'team-a', SECRET).metadata.labels[MANAGED_BY], MANAGED_BY_VALUE);

      // A warm instance: tokens, key and connection are reused for the next namespace.
      const cloudCalls = s.cloud.requests.length;
      await core.createNamespace({ body: { metadata: { name: 'shop' } } });
      const other = await core.createNamespacedServiceAccount({ namespace: 'shop', body: sa('default') });
      t.deepEqual(names(other), [SECRET]);
      t.is(loginDomains(s.cloud, kube, 'shop').length, 5);
      t.is(s.cloud.requests.length, cloudCalls, 'no cloud call on a warm instance');
    });
  });
}

test.serial(
  "a new namespace's default ServiceAccount gets the Secret moments after the namespace is created",
  async (t) => {
    await withWebhook(
      t,
      async ({ s, kube, core }) => {
        await core.createNamespace({ body: { metadata: { name: 'shop' } } });
        await until(() => kube.get('serviceaccounts', 'shop', 'default') !== undefined);
        t.deepEqual(pullSecrets(kube, 'shop', 'default'), [SECRET]);
        t.is(loginDomains(s.cloud, kube, 'shop').length, 5);
      },
      { serviceAccountController: true },
    );
  },
);

test.serial(
  'a ServiceAccount in an excluded namespace or not selected is left untouched, and nothing is written for it',
  async (t) => {
    await withWebhook(t, async ({ s, kube, core, trigger, operatorEnv }) => {
      const again = await cli(['register', '--cluster', CLUSTER, '--kubeconfig', 'admin.yaml', '--webhook'], {
        cwd: s.dir,
        env: operatorEnv,
      });
      t.regex(
        again.stderr,
        /^hz-prod-1: mutatingwebhookconfiguration acr-fleet: unchanged$/m,
        'register --webhook is safe to re-run',
      );
      const webhooks = kube.get('mutatingwebhookconfigurations', undefined, 'acr-fleet').webhooks;
      t.like(webhooks[0], {
        sideEffects: 'NoneOnDryRun',
        failurePolicy: 'Ignore',
        timeoutSeconds: 5,
        admissionReviewVersions: ['v1'],
      });
      t.deepEqual(webhooks[0].namespaceSelector, {
        matchExpressions: [
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'NotIn',
            values: ['kube-node-lease', 'kube-public', 'kube-system'],
          },
        ],
      });
      const before = trigger.calls.length;
      const system = await core.createNamespacedServiceAccount({
        namespace: 'kube-system',
        body: sa('web', ['docker-hub']),
      });
      t.deepEqual(names(system), ['docker-hub']);
      t.is(
        trigger.calls.length,
        before,
        'the namespaceSelector keeps excluded namespaces from calling the function at all',
      );
      const builder = await core.createNamespacedServiceAccount({ namespace: 'team-a', body: sa('builder2') });
      t.deepEqual(names(builder), []);
      t.is(trigger.calls.length, before + 1);
      t.is(kube.get('secrets', 'kube-system', SECRET), undefined);
      t.is(kube.get('secrets', 'team-a', SECRET), undefined);
    });
  },
);

test.serial(
  'with failurePolicy Ignore and the function down, the ServiceAccount is created and the next refresh repairs it',
  async (t) => {
    await withWebhook(t, async ({ s, kube, core, trigger }) => {
      trigger.down = true;
      const created = await core.createNamespacedServiceAccount({
        namespace: 'team-b',
        body: sa('web', ['docker-hub']),
      });
      t.deepEqual(names(created), ['docker-hub']);
      t.is(kube.get('secrets', 'team-b', SECRET), undefined);
      const refresh = await cli(['refresh', '--cluster', CLUSTER], { cwd: s.dir, env: s.env });
      t.is(refresh.code, 0, refresh.stderr);
      t.deepEqual(pullSecrets(kube, 'team-b', 'web'), ['docker-hub', SECRET]);
      t.is(loginDomains(s.cloud, kube, 'team-b').length, 5);
    });
  },
);

test.serial('a handler failure is logged with the cluster and cause and the API server applies Ignore', async (t) => {
  await withWebhook(t, async ({ kube, core, lines }) => {
    kube.injectFault({
      method: 'GET',
      path: /^\/api\/v1\/namespaces\/team-b\/secrets(\/acr-credential-fleet)?$/,
      status: 503,
      times: 1000,
    });
    const created = await core.createNamespacedServiceAccount({ namespace: 'team-b', body: sa('web') });
    t.deepEqual(names(created), []);
    // On a loaded machine the API server may give up (and apply Ignore) before the function has logged.
    const errorLines = () => logLines(lines).filter((l) => l.level === 'error');
    for (let waited = 0; errorLines().length === 0 && waited < 10_000; waited += 100)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const errors = errorLines();
    t.is(errors.length, 1);
    t.is(errors[0]?.cluster, CLUSTER);
    t.is(
      errors[0]?.msg,
      'cluster hz-prod-1: webhook: get secret team-b/acr-credential-fleet: HTTP 503 ServiceUnavailable: the server is currently unable to handle the request',
    );
  });
});

test.serial(
  'with failurePolicy Fail and the function down, the ServiceAccount is refused and not created',
  async (t) => {
    await withWebhook(
      t,
      async ({ kube, core, trigger }) => {
        trigger.down = true;
        const err = await t.throwsAsync(core.createNamespacedServiceAccount({ namespace: 'team-b', body: sa('web') }));
        const status = JSON.parse((err as unknown as { body: string }).body) as {
          code: number;
          reason: string;
          message: string;
        };
        t.is(status.code, 500);
        t.is(status.reason, 'InternalError');
        t.regex(
          status.message,
          /^Internal error occurred: failed calling webhook "serviceaccounts\.acr-fleet\.io": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/clusters\/hz-prod-1\/[\w-]+\?timeout=5s": /,
        );
        t.is(kube.get('serviceaccounts', 'team-b', 'web'), undefined);
      },
      { failurePolicy: 'Fail' },
    );
  },
);

/** POSTs an AdmissionReview to the trigger, as someone who does not hold the cluster's URL would. */
function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: '', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test.serial('a request with a wrong or missing URL secret is refused with 401 and nothing is written', async (t) => {
  await withWebhook(t, async ({ s, trigger, lines }) => {
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u-1',
        kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
        namespace: 'team-a',
        operation: 'CREATE',
        object: { metadata: { name: 'web', namespace: 'team-a' } },
      },
    });
    const before = s.clusters.map((c) => snapshot(c.kube));
    for (const p of ['/clusters/hz-prod-1/not-the-secret', '/clusters/hz-prod-1', '/clusters/bj-prod-1/x', '/']) {
      t.is(await post(`${trigger.url}${p}`, review), 401, p);
    }
    t.deepEqual(
      s.clusters.map((c) => snapshot(c.kube)),
      before,
    );
    t.true(lines.some((l) => l.includes('"msg":"cluster hz-prod-1: admission request refused: wrong URL secret"')));
    t.false(lines.join('\n').includes('not-the-secret'), 'the presented path is never logged');
  });
});

test.serial('a dry-run create shows the Secret attached but writes nothing', async (t) => {
  await withWebhook(t, async ({ kube, core }) => {
    const before = snapshot(kube);
    const preview = await core.createNamespacedServiceAccount({
      namespace: 'team-a',
      body: sa('web', ['docker-hub']),
      dryRun: 'All',
    });
    t.deepEqual(names(preview), ['docker-hub', SECRET]);
    t.deepEqual(snapshot(kube), before);
    t.is(kube.get('secrets', 'team-a', SECRET), undefined);
  });
});

test.serial('deregister removes the webhook first, and the cluster no longer calls the function', async (t) => {
  await withWebhook(t, async ({ s, kube, core, trigger, operatorEnv }) => {
    t.truthy(kube.get('mutatingwebhookconfigurations', undefined, 'acr-fleet'));
    const dereg = await cli(['deregister', '--cluster', CLUSTER, '--kubeconfig', 'admin.yaml'], {
      cwd: s.dir,
      env: operatorEnv,
    });
    t.is(dereg.code, 0, dereg.stderr);
    t.regex(dereg.stderr, /^hz-prod-1: mutatingwebhookconfiguration acr-fleet: deleted$/m);
    t.is(kube.get('mutatingwebhookconfigurations', undefined, 'acr-fleet'), undefined);
    const calls = trigger.calls.length;
    const created = await core.createNamespacedServiceAccount({ namespace: 'team-a', body: sa('web') });
    t.deepEqual(names(created), []);
    t.is(trigger.calls.length, calls);
  });
});

test.serial(
  'a role holding exactly the generated policy runs the webhook, and without the key statement every request fails',
  async (t) => {
    await withWebhook(t, async ({ s, kube, core, runAs, lines }) => {
      // Issue 15: the webhook runs as its own role, with the policy `policy --webhook` prints.
      const { stdout } = await cli(['policy', '--config', 'fleet.yaml', '--account-id', ACCOUNT, '--webhook'], {
        cwd: s.dir,
      });
      const policy = JSON.parse(stdout) as {
        Version: string;
        Statement: { Effect: string; Action: string[]; Resource: string[] }[];
      };
      const keyArn = `acs:kms:cn-hangzhou:${ACCOUNT}:secret/${KEY_SECRET}`;
      t.true(policy.Statement.some((x) => x.Action[0] === 'kms:GetSecretValue' && x.Resource.includes(keyArn)));
      await runAs(s.cloud.addRole({ accountId: ACCOUNT, name: 'exact', actions: [], policy }));
      t.deepEqual(names(await core.createNamespacedServiceAccount({ namespace: 'team-a', body: sa('web') })), [SECRET]);

      const withoutKey = {
        ...policy,
        Statement: policy.Statement.map((x) => ({ ...x, Resource: x.Resource.filter((r) => r !== keyArn) })).filter(
          (x) => x.Resource.length,
        ),
      };
      await runAs(s.cloud.addRole({ accountId: ACCOUNT, name: 'no-key', actions: [], policy: withoutKey }));
      t.deepEqual(names(await core.createNamespacedServiceAccount({ namespace: 'team-b', body: sa('web') })), []);
      t.is(kube.get('secrets', 'team-b', SECRET), undefined);
      t.true(lines.some((l) => l.includes('"msg":"cluster hz-prod-1: webhook: key acr-fleet/webhook-key: ')));
    });
  },
);

test.serial(
  "the webhook's own role serves the webhook clusters and cannot do what the timer's role does (another cluster's kubeconfig, the shard dispatch)",
  async (t) => {
    await withWebhook(t, async ({ s, kube, core, runAs }) => {
      // bj-prod-1 takes no webhook: its kubeconfig is none of the webhook's business.
      await s.editConfig((d) => {
        const bj = (d.clusters as Record<string, unknown>[]).find((x) => x.name === 'bj-prod-1')!;
        bj.webhook = { enabled: false };
        d.shardSize = 1;
      });
      const policyOf = async (...args: string[]) =>
        JSON.parse(
          (await cli(['policy', '--config', 'fleet.yaml', '--account-id', ACCOUNT, ...args], { cwd: s.dir })).stdout,
        ) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
      const webhookRole = s.cloud.addRole({
        accountId: ACCOUNT,
        name: 'acr-fleet-webhook',
        actions: [],
        policy: await policyOf('--webhook'),
      });
      const timerRole = s.cloud.addRole({ accountId: ACCOUNT, name: 'timer', actions: [], policy: await policyOf() });
      await runAs(webhookRole);
      t.deepEqual(names(await core.createNamespacedServiceAccount({ namespace: 'team-a', body: sa('web') })), [SECRET]);
      t.is(loginDomains(s.cloud, kube, 'team-a').length, 5);

      const kmsAs = (role: string) =>
        new KmsApi(
          new SdkOpenApiCaller({
            endpoints: s.cloud.endpointsConfig(),
            credential: credentialFromFc(s.cloud.roleSession(role)),
          }),
        );
      const other = 'acr-fleet/bj-prod-1';
      t.truthy(await kmsAs(timerRole).secretValue('cn-hangzhou', other), "the timer's role reads every kubeconfig");
      await t.throwsAsync(kmsAs(webhookRole).secretValue('cn-hangzhou', other), {
        message: /^GetSecretValue: Forbidden\.NoPermission \(HTTP 403\)/,
      });
      t.truthy(await kmsAs(webhookRole).secretValue('cn-hangzhou', 'acr-fleet/hz-prod-1'));
      await t.throwsAsync(
        kmsAs(timerRole).secretValue('cn-hangzhou', KEY_SECRET),
        {
          message: /^GetSecretValue: Forbidden\.NoPermission \(HTTP 403\)/,
        },
        'the timer never reads the webhook key',
      );
      const actions = (p: { Statement: { Action: string[] }[] }) => p.Statement.flatMap((x) => x.Action);
      t.true(actions(await policyOf()).includes('fc:InvokeFunction'));
      t.false(actions(await policyOf('--webhook')).includes('fc:InvokeFunction'), 'no shard dispatch for the webhook');
    });
  },
);

test.serial(
  'a settings: configmap cluster follows its ConfigMap: its webhook-configuration, namespaces and ServiceAccounts, read on every call',
  async (t) => {
    const data = {
      'watch-namespace': 'team-b',
      'service-account': 'api,api2',
      'webhook-configuration': 'enable: true\nfailure-policy: Fail\ntimeout-seconds: 7\n',
    };
    await withWebhook(
      t,
      async ({ s, kube, core }) => {
        t.like(kube.get('mutatingwebhookconfigurations', undefined, 'acr-fleet').webhooks[0], {
          failurePolicy: 'Fail',
          timeoutSeconds: 7,
        });
        t.deepEqual(
          names(await core.createNamespacedServiceAccount({ namespace: 'team-b', body: sa('api', ['docker-hub']) })),
          ['docker-hub', SECRET],
        );
        t.is(
          loginDomains(s.cloud, kube, 'team-b').length,
          3,
          'the Personal Edition registry of the cluster region, as the add-on defaults',
        );
        t.deepEqual(
          names(await core.createNamespacedServiceAccount({ namespace: 'team-a', body: sa('api') })),
          [],
          'team-a is not watched by the ConfigMap',
        );

        // kubectl edit: the add-on's switch turns injection off at the next call.
        const cm = await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'acr-configuration' });
        cm.data = { ...cm.data, 'webhook-configuration': 'enable: false\n' };
        await core.replaceNamespacedConfigMap({ namespace: 'kube-system', name: 'acr-configuration', body: cm });
        t.deepEqual(names(await core.createNamespacedServiceAccount({ namespace: 'team-b', body: sa('api2') })), []);
      },
      { configMap: data },
    );
  },
);

test('concurrent admissions on one warm instance each log under their own request id (issue 16)', async (t) => {
  await withWebhook(t, async ({ kube, lines, credentials }) => {
    const url = new URL(kube.get('mutatingwebhookconfigurations', undefined, 'acr-fleet').webhooks[0].clientConfig.url);
    const namespaces = Array.from({ length: 8 }, (_, i) => `team-c${i}`);
    for (const name of namespaces) kube.seed('namespaces', { metadata: { name } });
    // The event FC hands the function for one AdmissionReview (the trigger's format, without the trigger).
    const call = (requestId: string, namespace: string) =>
      webhook(
        JSON.stringify({
          version: 'v1',
          rawPath: url.pathname,
          body: JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            request: {
              uid: `uid-${requestId}`,
              kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
              resource: { group: '', version: 'v1', resource: 'serviceaccounts' },
              namespace,
              operation: 'CREATE',
              object: { metadata: { name: 'web', namespace } },
              dryRun: false,
            },
          }),
          isBase64Encoded: false,
          requestContext: { http: { method: 'POST', path: url.pathname } },
        }),
        { requestId, credentials: credentials() },
        (l) => lines.push(l),
      );
    t.is((await call('warm-up', 'team-a')).statusCode, 200);
    const answers = await Promise.all(namespaces.map((ns, i) => call(`req-${i}`, ns)));
    t.deepEqual(
      answers.map((a) => a.statusCode),
      namespaces.map(() => 200),
    );
    const admissions = logLines(lines).filter((l) => l.event === 'admission' && /team-c\d/.test(String(l.msg)));
    t.is(admissions.length, namespaces.length, 'one admission line per request');
    for (const l of admissions) {
      const i = /team-c(\d)\//.exec(String(l.msg))?.[1];
      t.is(l.requestId, `req-${i}`, `${String(l.msg)} is logged under its own request id`);
    }
    for (const ns of namespaces) t.truthy(kube.get('secrets', ns, SECRET), `the Secret was created in ${ns}`);
  });
});
