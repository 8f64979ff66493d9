/**
 * `acr-fleet refresh` end to end: the real CLI against the sandbox fleet (Alibaba Cloud emulator and
 * three Kubernetes emulators). Every assertion reads the emulators' final state.
 */
import { writeFile } from 'node:fs/promises';
import test from 'ava';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { cli } from './support/cli.js';
import { EE_DOMAINS, MANAGED_BY, MANAGED_BY_VALUE, PE_DOMAINS } from './support/fleet.js';
import { readReport } from './support/parse.js';
import { auths, loginDomains, pullSecrets, SECRET, snapshot, writes } from './support/assert.js';

const refresh = (s: Sandbox, ...extra: string[]) =>
  cli(['refresh', '--config', 'fleet.yaml', ...extra], { cwd: s.dir, env: s.env });

test('a first refresh writes usable credentials for every registry domain into every watched namespace', async (t) => {
  const s = await sandbox(t);
  const { code } = await refresh(s);
  t.is(code, 0);
  const hz = s.cluster('hz-prod-1').kube;
  for (const ns of ['default', 'team-a', 'team-b'])
    t.deepEqual(loginDomains(s.cloud, hz, ns), [...EE_DOMAINS, ...PE_DOMAINS].sort(), ns);
  t.is(hz.get('secrets', 'kube-system', SECRET), undefined, 'excluded namespaces get nothing');
  const bj = s.cluster('bj-prod-1').kube;
  for (const ns of ['payments', 'search']) t.deepEqual(loginDomains(s.cloud, bj, ns), EE_DOMAINS, ns);
  t.is(bj.get('secrets', 'default', SECRET), undefined, 'an unwatched namespace gets nothing');
  t.deepEqual(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default'), PE_DOMAINS);

  const secret = hz.get('secrets', 'team-a', SECRET) as {
    type: string;
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  };
  t.is(secret.type, 'kubernetes.io/dockerconfigjson');
  t.is(secret.metadata.labels[MANAGED_BY], MANAGED_BY_VALUE);
  const earliest = Math.min(...s.cloud.tokens.map((tok) => tok.expiresAt));
  t.is(secret.metadata.annotations['acr-fleet.io/expires-at'], new Date(earliest).toISOString());
  t.regex(secret.metadata.annotations['acr-fleet.io/inputs-hash'] ?? '', /^sha256:[0-9a-f]{32}$/);
});

test('one token is fetched per registry per run, however many clusters share it', async (t) => {
  const s = await sandbox(t);
  await refresh(s);
  t.deepEqual(s.cloud.tokens.map((tok) => tok.registry).sort(), ['cri-prod01', 'personal:cn-hangzhou']);
  const actions = s.cloud.requests.map((r) => r.action).sort();
  t.deepEqual(actions, ['GetAuthorizationToken', 'GetAuthorizationToken', 'ListInstanceEndpoint']);
});

test('selected ServiceAccounts reference the Secret after the entries someone else put there, in order', async (t) => {
  const s = await sandbox(t);
  const bj = s.cluster('bj-prod-1').kube;
  bj.seed('serviceaccounts', {
    metadata: { namespace: 'payments', name: 'api' },
    imagePullSecrets: [{ name: 'vendor-b' }, { name: 'vendor-a' }],
  });
  await refresh(s);
  t.deepEqual(pullSecrets(bj, 'payments', 'api'), ['vendor-b', 'vendor-a', SECRET]);
  t.deepEqual(pullSecrets(bj, 'payments', 'default'), [SECRET], 'serviceAccount "*" selects every ServiceAccount');
  t.deepEqual(pullSecrets(bj, 'default', 'default'), [], 'unwatched namespaces are not touched');
  const hz = s.cluster('hz-prod-1').kube;
  t.deepEqual(pullSecrets(hz, 'team-a', 'default'), [SECRET]);
  t.deepEqual(pullSecrets(hz, 'team-a', 'builder'), [], 'only the default ServiceAccount is selected by default');
});

test('a second run right after the first writes nothing and costs three requests per cluster', async (t) => {
  const s = await sandbox(t);
  await refresh(s);
  const before = s.clusters.map((c) => snapshot(c.kube));
  for (const c of s.clusters) c.kube.resetRequests();
  const second = await refresh(s, '--json');
  t.is(second.code, 0);
  t.deepEqual(
    s.clusters.map((c) => snapshot(c.kube)),
    before,
  );
  for (const c of s.clusters) t.deepEqual(writes(c.kube), [], c.name);
  for (const c of readReport(second.stdout).clusters) {
    t.is(c.requests, 3, c.name);
    t.like(c.secrets, { created: 0, updated: 0, deleted: 0 });
    t.is(c.serviceAccounts.patched, 0);
  }
  t.is(
    s.clusters.reduce((n, c) => n + c.kube.requests.length, 0),
    9,
  );
});

test('a Secret whose token expires within the threshold is rewritten with a fresh token', async (t) => {
  // Tokens live 10 minutes, inside the 15m threshold: every run must rewrite.
  const s = await sandbox(t, { tokenTtlSeconds: 600 });
  await refresh(s);
  const hz = s.cluster('hz-dev-1').kube;
  const firstPassword = Object.values(auths(hz, 'default'))[0]?.password;
  const second = readReport((await refresh(s, '--json')).stdout);
  t.like(second.clusters.find((c) => c.name === 'hz-dev-1')?.secrets, { updated: 1, created: 0 });
  const secondPassword = Object.values(auths(hz, 'default'))[0]?.password;
  t.not(secondPassword, firstPassword);
  t.deepEqual(loginDomains(s.cloud, hz, 'default'), PE_DOMAINS);
});

test('a same-named Secret without the label is reported as a conflict and left alone, with its namespace', async (t) => {
  const s = await sandbox(t);
  const hz = s.cluster('hz-prod-1').kube;
  const theirs = hz.seed('secrets', {
    metadata: { namespace: 'team-b', name: SECRET },
    type: 'Opaque',
    data: { x: 'eQ==' },
  }) as { metadata: { resourceVersion: string } };
  const { code, stdout } = await refresh(s, '--json');
  t.is(code, 0);
  const hzReport = readReport(stdout).clusters.find((c) => c.name === 'hz-prod-1');
  t.deepEqual(
    hzReport?.conflicts.map((c) => c.namespace),
    ['team-b'],
  );
  t.is(
    (hz.get('secrets', 'team-b', SECRET) as { metadata: { resourceVersion: string } }).metadata.resourceVersion,
    theirs.metadata.resourceVersion,
  );
  t.deepEqual(pullSecrets(hz, 'team-b', 'default'), [], 'no reference to a Secret acr-fleet does not own');
  t.deepEqual(pullSecrets(hz, 'team-a', 'default'), [SECRET]);
  t.false(
    writes(hz).some((w) => w.includes('/namespaces/team-b/')),
    'the conflict was known from the list: no create was tried',
  );

  // A run after a run: the conflict is still reported, and the cluster gets no write request at all.
  hz.resetRequests();
  const second = await refresh(s, '--json');
  t.deepEqual(
    readReport(second.stdout)
      .clusters.find((c) => c.name === 'hz-prod-1')
      ?.conflicts.map((c) => c.namespace),
    ['team-b'],
  );
  t.deepEqual(writes(hz), []);
  t.deepEqual(hz.requests.map((r) => `${r.method} ${r.path} ${r.status}`).sort(), [
    'GET /api/v1/namespaces 200',
    'GET /api/v1/secrets 200',
    'GET /api/v1/serviceaccounts 200',
  ]);
});

test('one failing cluster never stops the others, and its error names the cluster and the cause', async (t) => {
  const s = await sandbox(t);
  // hz-dev-1's kubeconfig now carries a token the API server does not know: 401.
  const dev = s.cluster('hz-dev-1');
  await writeFile(dev.kubeconfigFile, dev.kube.kubeconfig({ token: 'revoked-token-0000', contextName: 'hz-dev-1' }));
  // bj-prod-1's API server is gone.
  await s.cluster('bj-prod-1').kube.close();
  const { code, stdout, stderr } = await refresh(s, '--json');
  t.is(code, 1);
  const byName = Object.fromEntries(readReport(stdout).clusters.map((c) => [c.name, c]));
  t.is(byName['hz-prod-1']?.status, 'ok');
  t.deepEqual(loginDomains(s.cloud, s.cluster('hz-prod-1').kube, 'team-a').length, 5);
  t.is(byName['hz-dev-1']?.status, 'failed');
  // client-node drops the body of a 401, so the reason is all there is to say.
  t.regex(
    byName['hz-dev-1']?.error ?? '',
    /^cluster hz-dev-1: list (namespaces|secrets|serviceaccounts): HTTP 401 Unauthorized$/,
  );
  t.regex(
    byName['bj-prod-1']?.error ?? '',
    /^cluster bj-prod-1: list (namespaces|secrets|serviceaccounts): ECONNREFUSED \(API server not reachable\)$/,
  );
  t.regex(stderr, /"level":"error","msg":"cluster hz-dev-1: /);
});

test("an identity without a verb it needs fails that cluster with the API server's message", async (t) => {
  const s = await sandbox(t);
  const bj = s.cluster('bj-prod-1').kube;
  bj.seed('clusterroles', {
    metadata: { name: 'acr-fleet' },
    rules: [{ apiGroups: [''], resources: ['namespaces', 'secrets', 'serviceaccounts'], verbs: ['list'] }],
  });
  const { code, stdout } = await refresh(s, '--json');
  t.is(code, 1);
  const bjReport = readReport(stdout).clusters.find((c) => c.name === 'bj-prod-1');
  t.is(
    bjReport?.error,
    'cluster bj-prod-1: create secret payments/acr-credential-fleet: HTTP 403 Forbidden: secrets is forbidden: User "system:serviceaccount:kube-system:acr-fleet" cannot create resource "secrets" in API group "" in the namespace "payments"',
  );
  t.deepEqual(pullSecrets(bj, 'payments', 'default'), [], 'no reference to a Secret that could not be written');
});

test('a malformed kubeconfig fails its cluster without printing its content', async (t) => {
  const s = await sandbox(t);
  const dev = s.cluster('hz-dev-1');
  await writeFile(dev.kubeconfigFile, `users:\n- name: x\n  user:\n    token: "super-secret-bearer-value\n  :::\n`);
  const { code, stdout, stderr } = await refresh(s, '--json');
  t.is(code, 1);
  t.regex(
    readReport(stdout).clusters.find((c) => c.name === 'hz-dev-1')?.error ?? '',
    /^cluster hz-dev-1: kubeconfig \.\/kubeconfigs\/hz-dev-1\.yaml: invalid YAML at line \d+$/,
  );
  t.false((stdout + stderr).includes('super-secret-bearer-value'));
});

test('a registry whose token cannot be fetched fails the clusters that need it, naming registry and code', async (t) => {
  const s = await sandbox(t);
  s.cloud.injectError({
    action: 'GetAuthorizationToken',
    region: 'cn-beijing',
    status: 403,
    code: 'NoPermission',
    message: 'You are not authorized to do this action.',
  });
  const { code, stdout } = await refresh(s, '--json');
  t.is(code, 1);
  const byName = Object.fromEntries(readReport(stdout).clusters.map((c) => [c.name, c]));
  t.is(
    byName['bj-prod-1']?.error,
    'cluster bj-prod-1: registry acme-ee: GetAuthorizationToken: NoPermission (HTTP 403): You are not authorized to do this action.',
  );
  t.is(byName['hz-prod-1']?.status, 'failed');
  t.is(byName['hz-dev-1']?.status, 'ok', 'a cluster that does not use the registry is refreshed');
  t.is(
    s
      .cluster('bj-prod-1')
      .kube.list('secrets')
      .filter((x: { metadata: { name: string } }) => x.metadata.name === SECRET).length,
    0,
    'nothing half-written',
  );
});

test('a terminating namespace is skipped and never written to', async (t) => {
  const s = await sandbox(t);
  const bj = s.cluster('bj-prod-1').kube;
  bj.terminateNamespace('search');
  const { code, stdout } = await refresh(s, '--json');
  t.is(code, 0);
  t.deepEqual(readReport(stdout).clusters.find((c) => c.name === 'bj-prod-1')?.skipped, [
    { namespace: 'search', reason: 'terminating' },
  ]);
  t.is(bj.get('secrets', 'search', SECRET), undefined);
  t.deepEqual(pullSecrets(bj, 'search', 'default'), []);
});

test('a namespace no longer watched loses its Secret and the reference to it, and nothing else', async (t) => {
  const s = await sandbox(t);
  const bj = s.cluster('bj-prod-1').kube;
  bj.seed('serviceaccounts', {
    metadata: { namespace: 'search', name: 'default' },
    imagePullSecrets: [{ name: 'mine' }],
  });
  await refresh(s);
  t.deepEqual(pullSecrets(bj, 'search', 'default'), ['mine', SECRET]);
  await s.editConfig((doc) => {
    const clusters = doc.clusters as { name: string; watchNamespace?: unknown }[];
    const c = clusters.find((x) => x.name === 'bj-prod-1');
    if (c) c.watchNamespace = 'payments';
  });
  const { stdout } = await refresh(s, '--json');
  t.like(readReport(stdout).clusters.find((c) => c.name === 'bj-prod-1')?.secrets, { deleted: 1, unchanged: 1 });
  t.is(bj.get('secrets', 'search', SECRET), undefined);
  t.deepEqual(pullSecrets(bj, 'search', 'default'), ['mine']);
  t.deepEqual(pullSecrets(bj, 'payments', 'default'), [SECRET]);
});

test('a dry run reads everything, writes nothing, and says what a refresh would do', async (t) => {
  const s = await sandbox(t);
  const before = s.clusters.map((c) => snapshot(c.kube));
  const { code, stdout } = await refresh(s, '--dry-run', '--json');
  t.is(code, 0);
  t.deepEqual(
    s.clusters.map((c) => snapshot(c.kube)),
    before,
  );
  for (const c of s.clusters) t.deepEqual(writes(c.kube), [], c.name);
  const hz = readReport(stdout).clusters.find((c) => c.name === 'hz-prod-1');
  t.like(hz, {
    status: 'ok',
    namespaces: 3,
    secrets: { created: 3, updated: 0, unchanged: 0, deleted: 0 },
    serviceAccounts: { patched: 3, unchanged: 0 },
  });
});

test('the JSON report has the documented shape', async (t) => {
  const s = await sandbox(t);
  const { stdout } = await refresh(s, '--json');
  const r = readReport(stdout);
  t.deepEqual(r.clusters.map((c) => c.name).sort(), ['bj-prod-1', 'hz-dev-1', 'hz-prod-1']);
  t.like(
    r.clusters.find((c) => c.name === 'hz-prod-1'),
    {
      status: 'ok',
      namespaces: 3,
      secrets: { created: 3, updated: 0, unchanged: 0 },
      serviceAccounts: { patched: 3, unchanged: 0 },
    },
  );
  t.deepEqual(r.tokens.map((tok) => tok.registry).sort(), ['acme-ee', 'hz-personal']);
  for (const tok of r.tokens) t.true(Date.parse(tok.expiresAt) > Date.now());
});

test('the human summary names every cluster and shows progress on stderr', async (t) => {
  const s = await sandbox(t);
  const { code, stdout, stderr } = await refresh(s);
  t.is(code, 0);
  t.regex(stdout, /^CLUSTER +STATUS +NAMESPACES +CREATED/m);
  t.regex(stdout, /^hz-prod-1 +ok +3 +3 +0 +0 +0 +3 +0 +\d+ +\d+$/m);
  t.regex(stdout, /^3 cluster\(s\): 3 ok, 0 failed/m);
  t.regex(stderr, /^\[3\/3\] [a-z0-9-]+: ok /m);
});

test('an invalid config exits 2 and contacts nothing', async (t) => {
  const s = await sandbox(t);
  await s.editConfig((doc) => {
    (doc.clusters as Record<string, unknown>[])[2] = { name: 'hz-dev-1', kubeconfig: { path: 'x' } };
  });
  const { code, stderr } = await refresh(s);
  t.is(code, 2);
  t.is(stderr, 'fleet.yaml: clusters[2].kubeconfig: expected one of file, kmsSecret, ackClusterId\n');
  t.is(s.cloud.requests.length, 0);
  for (const c of s.clusters) t.is(c.kube.requests.length, 0);
});

test('validate explains every problem and exits 2, or says the file is valid', async (t) => {
  const s = await sandbox(t);
  const ok = await cli(['validate', '-c', 'fleet.yaml'], { cwd: s.dir });
  t.deepEqual(ok, { code: 0, stdout: 'fleet.yaml: valid (2 registries, 3 clusters)\n', stderr: '' });
  await s.editConfig((doc) => {
    doc.concurrency = 100;
    (doc.registries as Record<string, unknown>[]).push({ name: 'acme-ee' });
  });
  const bad = await cli(['validate', '-c', 'fleet.yaml', '--json'], { cwd: s.dir });
  t.is(bad.code, 2);
  // Issue 17: one pass (the duplicate name is no longer hidden by the structural error), one JSON shape.
  t.deepEqual(JSON.parse(bad.stdout), {
    valid: false,
    problems: [
      { file: 'fleet.yaml', path: 'concurrency', message: 'must be at most 64', severity: 'error' },
      {
        file: 'fleet.yaml',
        path: 'registries[2].name',
        message: 'duplicate registry name "acme-ee"',
        severity: 'error',
      },
    ],
  });
  t.is(bad.stderr, '');
});

test('no token, AccessKey secret, bearer token or kubeconfig appears in any output', async (t) => {
  const s = await sandbox(t);
  const outputs: string[] = [];
  const keep = (r: { stdout: string; stderr: string }) => outputs.push(r.stdout, r.stderr);
  keep(await refresh(s));
  keep(await refresh(s, '--json', '--log-level', 'debug'));
  keep(await refresh(s, '--dry-run'));
  const dev = s.cluster('hz-dev-1');
  await writeFile(
    dev.kubeconfigFile,
    dev.kube.kubeconfig({ token: 'revoked-token-0000-abcdef', contextName: 'x' }).replace('server:', 'server: ::'),
  );
  keep(await refresh(s, '--json'));
  keep(await cli(['validate', '-c', 'fleet.yaml'], { cwd: s.dir }));
  const all = outputs.join('\n');
  const secrets = [
    s.userCredentials.accessKeySecret,
    ...s.cloud.tokens.map((tok) => tok.password),
    ...s.clusters.map((c) => c.token),
    'revoked-token-0000-abcdef',
    Buffer.from(s.cluster('hz-prod-1').kube.kubeconfig({})).toString('base64').slice(0, 40),
  ];
  t.true(s.cloud.tokens.length >= 6);
  for (const secret of secrets) t.false(all.includes(secret), `printed: ${secret.slice(0, 4)}…`);
  t.false(/BEGIN CERTIFICATE|certificate-authority-data|"auths"/.test(all));
});

test('the installed command runs as a real process with the documented exit codes', async (t) => {
  const { execFile } = await import('node:child_process');
  const run = (args: string[], cwd: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [new URL('../bin/acr-fleet.js', import.meta.url).pathname, ...args],
        { cwd, env: { PATH: process.env.PATH ?? '' } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  const s = await sandbox(t);
  t.like(await run(['validate', '--config', 'fleet.yaml'], s.dir), {
    code: 0,
    stdout: 'fleet.yaml: valid (2 registries, 3 clusters)\n',
  });
  t.like(await run(['validate', '--config', 'missing.yaml'], s.dir), {
    code: 2,
    stderr: 'missing.yaml: file not found\n',
  });
  t.deepEqual(await run(['frobnicate'], s.dir), {
    code: 2,
    stdout: '',
    stderr: 'acr-fleet: unknown command frobnicate (see acr-fleet --help)\n',
  });
});
