/**
 * The fault matrix: `acr-fleet refresh` (the real CLI) against the sandbox fleet with one fault injected
 * per case, into one Kubernetes API server or into the Alibaba Cloud APIs. For every case: the expected
 * outcome (converged in the same run, or failed with the exact error, naming cluster or registry), the
 * other clusters refreshed, no unowned object modified, no user `imagePullSecrets` entry lost, nothing
 * secret printed. The README's fault table is generated from this table and checked by the last test.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import test from 'ava';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../src/reconcile/state.js';
import { cli } from './support/cli.js';
import { loginDomains, pullSecrets, SECRET } from './support/assert.js';
import { ACCOUNT, sandbox, type Sandbox } from './support/sandbox.js';
import { EE_DOMAINS, FLEET_SA_USER, PE_DOMAINS } from './support/fleet.js';
import { logLines, readReport } from './support/parse.js';

const CLUSTERS = ['hz-prod-1', 'bj-prod-1', 'hz-dev-1'] as const;
type ClusterName = (typeof CLUSTERS)[number];
const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];
const LISTS = /^\/api\/v1\/(namespaces|secrets|serviceaccounts)$/;

/** What each cluster must hold after a refresh that converged. */
const CONVERGED: Record<
  ClusterName,
  { secrets: Record<string, string[]>; serviceAccounts: Record<string, string[]>; noSecret: string[] }
> = {
  'hz-prod-1': {
    secrets: {
      default: [...EE_DOMAINS, ...PE_DOMAINS].sort(),
      'team-a': [...EE_DOMAINS, ...PE_DOMAINS].sort(),
      'team-b': [...EE_DOMAINS, ...PE_DOMAINS].sort(),
    },
    serviceAccounts: {
      'default/default': [SECRET],
      'team-a/default': [SECRET],
      'team-a/builder': ['team-pull'],
      'team-b/default': [SECRET],
      'kube-system/default': [],
    },
    noSecret: ['kube-system'],
  },
  'bj-prod-1': {
    secrets: { payments: EE_DOMAINS, search: EE_DOMAINS },
    serviceAccounts: {
      'payments/default': [SECRET],
      'payments/api': ['vendor-b', 'vendor-a', SECRET],
      'search/default': [SECRET],
      'default/default': [],
    },
    // The stale Secret acr-fleet once wrote into `default` (no longer watched) is pruned.
    noSecret: ['default'],
  },
  'hz-dev-1': {
    secrets: { default: PE_DOMAINS },
    serviceAccounts: { 'default/default': ['legacy', SECRET] },
    noSecret: [],
  },
};

/** Objects that are not acr-fleet's, and a stale Secret that is. */
function seedWorld(s: Sandbox): void {
  const hz = s.cluster('hz-prod-1').kube;
  hz.seed('serviceaccounts', {
    metadata: { namespace: 'team-a', name: 'builder' },
    imagePullSecrets: [{ name: 'team-pull' }],
  });
  hz.seed('secrets', { metadata: { namespace: 'team-a', name: 'team-pull' }, type: 'Opaque', data: { k: 'dg==' } });
  const bj = s.cluster('bj-prod-1').kube;
  bj.seed('serviceaccounts', {
    metadata: { namespace: 'payments', name: 'api' },
    imagePullSecrets: [{ name: 'vendor-b' }, { name: 'vendor-a' }],
  });
  bj.seed('secrets', { metadata: { namespace: 'payments', name: 'vendor-b' }, type: 'Opaque', data: { k: 'dg==' } });
  bj.seed('secrets', {
    metadata: { namespace: 'default', name: SECRET, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
  });
  s.cluster('hz-dev-1').kube.seed('serviceaccounts', {
    metadata: { namespace: 'default', name: 'default' },
    imagePullSecrets: [{ name: 'legacy' }],
  });
}

interface Meta {
  metadata: { namespace?: string; name: string; resourceVersion: string; labels?: Record<string, string> };
  imagePullSecrets?: { name: string }[];
}

/** Every object acr-fleet does not own, with its resourceVersion: equal before and after means untouched. */
function unowned(s: Sandbox): string[] {
  return s.clusters.flatMap((c) =>
    (['namespaces', 'secrets', 'configmaps'] as const).flatMap((kind) =>
      (c.kube.list(kind) as Meta[])
        .filter((o) => o.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE)
        .map((o) => `${c.name} ${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion}`),
    ),
  );
}

/** Every ServiceAccount's entries that are not acr-fleet's, in order: equal before and after means nothing lost. */
function userEntries(s: Sandbox): string[] {
  return s.clusters.flatMap((c) =>
    (c.kube.list('serviceaccounts') as Meta[]).map(
      (sa) =>
        `${c.name} ${sa.metadata.namespace ?? ''}/${sa.metadata.name}: ${(sa.imagePullSecrets ?? [])
          .map((r) => r.name)
          .filter((n) => n !== SECRET)
          .join(',')}`,
    ),
  );
}

/** How a cluster differs from its converged state ([] when it converged). */
function divergence(s: Sandbox, name: ClusterName): string[] {
  const kube = s.cluster(name).kube;
  const want = CONVERGED[name];
  const out: string[] = [];
  for (const [ns, domains] of Object.entries(want.secrets)) {
    let got: string[] | string;
    try {
      got = loginDomains(s.cloud, kube, ns);
    } catch (err) {
      got = (err as Error).message;
    }
    if (JSON.stringify(got) !== JSON.stringify(domains))
      out.push(`${name} ${ns}: Secret logs in to ${JSON.stringify(got)}`);
  }
  for (const ns of want.noSecret) if (kube.get('secrets', ns, SECRET)) out.push(`${name} ${ns}: unexpected Secret`);
  for (const [key, refs] of Object.entries(want.serviceAccounts)) {
    const [ns = '', sa = ''] = key.split('/');
    const got = pullSecrets(kube, ns, sa);
    if (JSON.stringify(got) !== JSON.stringify(refs))
      out.push(`${name} ${key}: imagePullSecrets ${JSON.stringify(got)}`);
  }
  return out;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface FaultCase {
  fault: string;
  /** Where it is injected (for the README). */
  where: string;
  inject(s: Sandbox): void | Promise<void>;
  /** Clusters that must fail, with their exact error; every other cluster must converge. */
  failed?: Partial<Record<ClusterName, string | RegExp>>;
  /** Where retries must show in the report. */
  retried?: { cluster?: ClusterName; registry?: string };
  /** Cloud calls that must have been sent exactly this often (a permanent error is never retried). */
  cloudCalls?: { action: string; count: number };
  /** A JSON log line that must appear. */
  logged?: Record<string, string>;
  /** fleet.yaml `kubernetes:` for this case (short limits where a server hangs). */
  kubernetes?: { requestTimeout: string; retryBudget: string };
}

/** Generous limits: on a loaded 2-core machine an emulator answer can take a while. */
const KUBERNETES = { requestTimeout: '5s', retryBudget: '20s' };
/** Where a server hangs: an attempt gives up after 2 s, the cluster after 6 s of faults. */
const HANG_LIMITS = { requestTimeout: '2s', retryBudget: '6s' };

const kube = (s: Sandbox, name: ClusterName) => s.cluster(name).kube;

const FAULTS: FaultCase[] = [
  {
    fault: '429 with Retry-After on lists',
    where: 'hz-prod-1: 3 list requests',
    inject: (s) => kube(s, 'hz-prod-1').injectFault({ method: 'GET', path: LISTS, status: 429, times: 3 }),
    retried: { cluster: 'hz-prod-1' },
  },
  {
    fault: '500 on 30% of writes',
    where: 'hz-prod-1: every write',
    inject: (s) => kube(s, 'hz-prod-1').injectFault({ method: WRITES, path: /./, status: 500, share: 0.3, times: 100 }),
    retried: { cluster: 'hz-prod-1' },
  },
  {
    fault: '503 on 30% of writes',
    where: 'bj-prod-1: every write',
    inject: (s) => kube(s, 'bj-prod-1').injectFault({ method: WRITES, path: /./, status: 503, share: 0.3, times: 100 }),
    retried: { cluster: 'bj-prod-1' },
  },
  {
    fault: 'connection reset before a write took effect',
    where: 'bj-prod-1: half the writes',
    inject: (s) => kube(s, 'bj-prod-1').injectFault({ method: WRITES, path: /./, status: 0, share: 0.5, times: 100 }),
    retried: { cluster: 'bj-prod-1' },
  },
  {
    fault: 'connection reset after a write took effect',
    where: 'bj-prod-1: half the creates, patches and deletes',
    inject: (s) =>
      kube(s, 'bj-prod-1').injectFault({
        method: ['POST', 'PATCH', 'DELETE'],
        path: /./,
        status: 0,
        after: true,
        share: 0.5,
        times: 100,
      }),
    retried: { cluster: 'bj-prod-1' },
  },
  {
    fault: 'one request hangs',
    where: 'hz-dev-1: the ServiceAccount list',
    inject: (s) => kube(s, 'hz-dev-1').injectFault({ method: 'GET', path: /^\/api\/v1\/serviceaccounts$/, hang: true }),
    retried: { cluster: 'hz-dev-1' },
    kubernetes: HANG_LIMITS,
  },
  {
    fault: 'a hung API server',
    where: 'bj-prod-1: every request',
    inject: (s) => kube(s, 'bj-prod-1').injectFault({ path: /./, hang: true, times: 1000 }),
    kubernetes: HANG_LIMITS,
    failed: { 'bj-prod-1': /^cluster bj-prod-1: list (namespaces|secrets|serviceaccounts): request timed out$/ },
  },
  {
    fault: '409 storm on ServiceAccounts',
    where: 'bj-prod-1: 3 patches of payments/api',
    inject: (s) =>
      kube(s, 'bj-prod-1').injectFault({ method: 'PATCH', path: /\/serviceaccounts\/api$/, status: 409, times: 3 }),
  },
  {
    fault: '409 storm outlasting the conflict retries',
    where: 'bj-prod-1: every patch of payments/api',
    inject: (s) =>
      kube(s, 'bj-prod-1').injectFault({ method: 'PATCH', path: /\/serviceaccounts\/api$/, status: 409, times: 1000 }),
    failed: {
      'bj-prod-1':
        'cluster bj-prod-1: patch serviceaccount payments/api: HTTP 409 Conflict: the server reported a conflict',
    },
  },
  {
    fault: '401 (token revoked)',
    where: 'hz-dev-1: its kubeconfig token',
    inject: async (s) => {
      const dev = s.cluster('hz-dev-1');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        dev.kubeconfigFile,
        dev.kube.kubeconfig({ token: 'revoked-token-0123456789', contextName: 'hz-dev-1' }),
      );
    },
    failed: { 'hz-dev-1': /^cluster hz-dev-1: list (namespaces|secrets|serviceaccounts): HTTP 401 Unauthorized$/ },
  },
  {
    fault: '403 on one verb',
    where: 'bj-prod-1: RBAC without patch on ServiceAccounts',
    inject: (s) =>
      kube(s, 'bj-prod-1').seed('clusterroles', {
        metadata: { name: 'acr-fleet' },
        rules: [
          { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
          { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'create', 'update', 'delete'] },
          { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list', 'get'] },
        ],
      }),
    failed: {
      'bj-prod-1': `cluster bj-prod-1: patch serviceaccount payments/api: HTTP 403 Forbidden: serviceaccounts "api" is forbidden: User "${FLEET_SA_USER}" cannot patch resource "serviceaccounts" in API group "" in the namespace "payments"`,
    },
  },
  {
    fault: 'CR throttling (Throttling.User)',
    where: 'GetAuthorizationToken in cn-beijing, twice',
    inject: (s) =>
      s.cloud.injectError({
        action: 'GetAuthorizationToken',
        region: 'cn-beijing',
        status: 400,
        code: 'Throttling.User',
        message: 'Request was denied due to user flow control.',
        times: 2,
      }),
    retried: { registry: 'acme-ee' },
    cloudCalls: { action: 'GetAuthorizationToken', count: 4 },
  },
  {
    fault: 'CR throttling outlasting the retries',
    where: 'GetAuthorizationToken in cn-beijing, every call',
    inject: (s) =>
      s.cloud.injectError({
        action: 'GetAuthorizationToken',
        region: 'cn-beijing',
        status: 400,
        code: 'Throttling.User',
        message: 'Request was denied due to user flow control.',
        times: 100,
      }),
    failed: {
      'hz-prod-1':
        'cluster hz-prod-1: registry acme-ee: GetAuthorizationToken: Throttling.User (HTTP 400): Request was denied due to user flow control.',
      'bj-prod-1':
        'cluster bj-prod-1: registry acme-ee: GetAuthorizationToken: Throttling.User (HTTP 400): Request was denied due to user flow control.',
    },
    // Four tries for acme-ee, one for hz-personal.
    cloudCalls: { action: 'GetAuthorizationToken', count: 5 },
    logged: { event: 'token-failed', registry: 'acme-ee' },
  },
  {
    fault: 'CR ServiceUnavailable',
    where: 'GetAuthorizationToken in cn-hangzhou, once',
    inject: (s) =>
      s.cloud.injectError({
        action: 'GetAuthorizationToken',
        region: 'cn-hangzhou',
        status: 503,
        code: 'ServiceUnavailable',
        message: 'The request has failed due to a temporary failure of the server.',
      }),
    retried: { registry: 'hz-personal' },
    cloudCalls: { action: 'GetAuthorizationToken', count: 3 },
  },
  {
    fault: 'STS denial (AssumeRole)',
    where: 'registry acme-ee assumes a role that does not trust the caller',
    inject: async (s) => {
      s.cloud.addRole({
        accountId: ACCOUNT,
        name: 'untrusting',
        actions: ['cr:*'],
        trustedPrincipals: ['acs:ram::9999999999999999:root'],
      });
      await s.editConfig((d) => {
        const ee = (d.registries as Record<string, unknown>[]).find((r) => r.name === 'acme-ee');
        if (ee) ee.assumeRoleARN = `acs:ram::${ACCOUNT}:role/untrusting`;
      });
    },
    failed: {
      'hz-prod-1':
        /^cluster hz-prod-1: registry acme-ee: AssumeRole: NoPermission \(HTTP 403\): No permission perform sts:AssumeRole on this Role\./,
      'bj-prod-1':
        /^cluster bj-prod-1: registry acme-ee: AssumeRole: NoPermission \(HTTP 403\): No permission perform sts:AssumeRole on this Role\./,
    },
    cloudCalls: { action: 'AssumeRole', count: 1 },
    logged: { event: 'token-failed', registry: 'acme-ee' },
  },
  {
    fault: 'missing KMS secret',
    where: 'hz-dev-1: its kubeconfig in KMS',
    inject: async (s) => {
      await s.kubeconfigsToKms();
      await s.editConfig((d) => {
        const dev = (d.clusters as Record<string, unknown>[]).find((c) => c.name === 'hz-dev-1');
        if (dev) dev.kubeconfig = { kmsSecret: 'acr-fleet/deleted' };
      });
    },
    failed: {
      'hz-dev-1':
        'cluster hz-dev-1: kubeconfig kmsSecret acr-fleet/deleted: GetSecretValue: Forbidden.ResourceNotFound (HTTP 404): Resource not found',
    },
    cloudCalls: { action: 'GetSecretValue', count: 3 },
  },
  {
    fault: 'unreachable CR endpoint',
    where: 'cr.cn-beijing: nothing listens',
    inject: async (s) => {
      const port = await closedPort();
      await s.editConfig((d) => {
        ((d.endpoints as Record<string, Record<string, string>>).cr ?? {})['cn-beijing'] = `http://127.0.0.1:${port}`;
      });
    },
    failed: {
      'hz-prod-1':
        /^cluster hz-prod-1: registry acme-ee: (GetAuthorizationToken|ListInstanceEndpoint): ECONNREFUSED \(endpoint not reachable\)$/,
      'bj-prod-1':
        /^cluster bj-prod-1: registry acme-ee: (GetAuthorizationToken|ListInstanceEndpoint): ECONNREFUSED \(endpoint not reachable\)$/,
    },
    logged: { event: 'token-failed', registry: 'acme-ee' },
  },
];

for (const c of FAULTS) {
  const outcome = c.failed
    ? `fails ${Object.keys(c.failed).join(' and ')}, naming the cause; the others converge`
    : 'converges in the same run';
  // One at a time: sixteen sandboxes at once would load the machine into timeouts of their own.
  test.serial(`fault: ${c.fault} (${c.where}) → ${outcome}; nothing unowned changed, lost or leaked`, async (t) => {
    t.timeout(60_000);
    const s = await sandbox(t);
    seedWorld(s);
    await s.editConfig((d) => void (d.kubernetes = c.kubernetes ?? KUBERNETES));
    const unownedBefore = unowned(s);
    const entriesBefore = userEntries(s);
    await c.inject(s);

    const { code, stdout, stderr } = await cli(['refresh', '--config', 'fleet.yaml', '--json'], {
      cwd: s.dir,
      env: s.env,
    });
    const failed = c.failed ?? {};
    t.is(
      code,
      Object.keys(failed).length ? 1 : 0,
      stdout && code !== 2 ? JSON.stringify(readReport(stdout).clusters.map((r) => [r.name, r.error])) : stderr,
    );
    const report = readReport(stdout);
    for (const name of CLUSTERS) {
      const row = report.clusters.find((r) => r.name === name);
      const expected = failed[name];
      if (expected === undefined) {
        t.is(row?.status, 'ok', `${name}: ${row?.error ?? ''}`);
        t.deepEqual(divergence(s, name), [], `${name} converged`);
      } else {
        t.is(row?.status, 'failed', name);
        if (typeof expected === 'string') t.is(row?.error, expected);
        else t.regex(row?.error ?? '', expected);
        t.regex(stderr, new RegExp(`"level":"error","msg":"cluster ${name}: `), 'the failure is logged');
      }
    }
    if (c.retried?.cluster)
      t.true(
        (report.clusters.find((r) => r.name === c.retried?.cluster)?.retries ?? 0) > 0,
        'the cluster report counts the retries',
      );
    if (c.retried?.registry)
      t.true(
        (report.tokens.find((r) => r.registry === c.retried?.registry)?.retries ?? 0) > 0,
        'the token report counts the retries',
      );
    if (c.cloudCalls)
      t.is(
        s.cloud.requests.filter((r) => r.action === c.cloudCalls?.action).length,
        c.cloudCalls.count,
        `${c.cloudCalls.action} calls`,
      );
    if (c.logged) {
      const lines = logLines(stderr);
      t.true(
        lines.some((l) => Object.entries(c.logged ?? {}).every(([k, v]) => l[k] === v)),
        `a log line with ${JSON.stringify(c.logged)}`,
      );
    }

    t.deepEqual(unowned(s), unownedBefore, 'no unowned object was modified');
    t.deepEqual(userEntries(s), entriesBefore, 'no imagePullSecrets entry of anyone else was lost or reordered');
    const printed = stdout + stderr;
    const secrets = [
      s.userCredentials.accessKeySecret,
      ...s.cloud.tokens.map((tok) => tok.password),
      ...s.clusters.map((cl) => cl.token),
      'revoked-token-0123456789',
    ];
    for (const secret of secrets) t.false(printed.includes(secret), `printed: ${secret.slice(0, 4)}…`);
  });
}

/** The README's table, computed from FAULTS: the figures are the suite's, not anyone's claim. */
function matrix(): string {
  const survived = FAULTS.filter((c) => !c.failed).length;
  const lines = [
    `Faults tried: **${FAULTS.length}**. Survived in the same run: **${survived}**. Failed, named and isolated (every other cluster refreshed): **${FAULTS.length - survived}**.`,
    '',
    '| fault | injected into | outcome |',
    '| --- | --- | --- |',
    ...FAULTS.map(
      (c) =>
        `| ${c.fault} | ${c.where} | ${c.failed ? `failed and isolated: ${Object.keys(c.failed).join(', ')}` : 'converged in-run'} |`,
    ),
  ];
  return lines.join('\n');
}

test('the README shows the fault matrix this suite proves', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  t.true(readme.includes(matrix()), `README.md should contain:\n${matrix()}`);
});

test('the text summary shows retries per cluster and per registry', async (t) => {
  const s = await sandbox(t);
  await s.editConfig((d) => void (d.kubernetes = KUBERNETES));
  kube(s, 'bj-prod-1').injectFault({ method: 'POST', path: /\/secrets$/, status: 503, times: 2 });
  s.cloud.injectError({
    action: 'GetAuthorizationToken',
    region: 'cn-hangzhou',
    status: 400,
    code: 'Throttling.User',
    message: 'Request was denied due to user flow control.',
  });
  const { code, stdout } = await cli(['refresh', '--config', 'fleet.yaml'], { cwd: s.dir, env: s.env });
  t.is(code, 0);
  const row = (first: string) =>
    stdout
      .split('\n')
      .find((l) => l.startsWith(`${first} `))
      ?.trim()
      .split(/\s+/) ?? [];
  t.is(row('CLUSTER').at(-1), 'RETRIES');
  t.deepEqual([row('hz-prod-1').at(-1), row('bj-prod-1').at(-1), row('hz-dev-1').at(-1)], ['0', '2', '0']);
  t.deepEqual(row('REGISTRY'), ['REGISTRY', 'TOKEN', 'EXPIRES', 'RETRIES', 'DOMAINS']);
  t.is(row('acme-ee')[2], '0');
  t.is(row('hz-personal')[2], '1');
});
