/**
 * Issue 17: every bad input is caught before anything runs. Each case goes through the real entry (the CLI
 * as a shell runs it, or the FC handler as FC calls it) and asserts its exact one-line error, its exit code
 * (or a failed invocation), and that nothing was contacted or nothing in a cluster changed.
 */
import { readFile } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import { handler } from '../src/entry/fc.js';
import { PayloadError } from '../src/config/payload.js';
import { NO_CREDENTIALS, NoCredentialsError } from '../src/cloud/credentials.js';
import { isTransient, toCloudError } from '../src/cloud/openapi.js';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { logLines } from './support/parse.js';
import { cli } from './support/cli.js';
import { NEW_CLUSTER, NEW_CLUSTER_GRANTS } from './support/fleet.js';
import { SECRET } from './support/assert.js';
import type { KubeEmulator } from './emulators/kube/index.js';

/** Requests every emulator has served so far: cloud, and each cluster's API server. */
function served(s: Sandbox): number {
  return s.cloud.requests.length + s.clusters.reduce((n, c) => n + c.kube.requests.length, 0);
}

const timer = (payload: string) =>
  Buffer.from(JSON.stringify({ triggerTime: '2026-12-07T02:00:00Z', triggerName: 'refresh', payload }));

/** `s acr-fleet invoke -e …` sends the payload bare; the timer wraps it. */
const PAYLOADS: [string, Buffer, string][] = [
  ['a misspelled key', Buffer.from('{"dryrun":true}'), 'payload: dryrun: unknown key; did you mean dryRun?'],
  ['a quoted boolean', Buffer.from('{"dryRun":"true"}'), 'payload: dryRun: expected boolean, got string'],
  [
    'one cluster name as a string',
    Buffer.from('{"clusters":"hz-dev-1"}'),
    'payload: clusters: expected array, got string',
  ],
  [
    'a cluster fleet.yaml does not name',
    Buffer.from('{"clusters":["nope"]}'),
    'payload: clusters[0]: no cluster named "nope" in fleet.yaml',
  ],
  [
    'a typo of a cluster name',
    timer('{"clusters":["hz-dev-l"]}'),
    'payload: clusters[0]: no cluster named "hz-dev-l" in fleet.yaml; did you mean "hz-dev-1"?',
  ],
  [
    'a payload that is not JSON',
    Buffer.from("{'dryRun': true}"),
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
  [
    'a timer payload that is not JSON',
    timer('acr-fleet'),
    'payload: not JSON (expected a JSON object such as {"dryRun":true} or {"clusters":["name"]})',
  ],
];

for (const [what, event, message] of PAYLOADS) {
  test.serial(`the function refuses ${what}: one line, a failed invocation, nothing contacted`, async (t) => {
    const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
    const before = served(s);
    const lines: string[] = [];
    await t.throwsAsync(
      handler(event, { requestId: 'bad', credentials: s.cloud.roleSession(s.functionRole) }, (l) => lines.push(l)),
      { instanceOf: PayloadError, message },
    );
    t.deepEqual(
      logLines(lines).map(({ time, ...rest }) => (t.is(typeof time, 'string'), rest)),
      [{ level: 'error', msg: message, requestId: 'bad', event: 'payload-invalid' }],
    );
    t.is(served(s), before, 'no emulator received a request');
    for (const c of s.clusters) t.is(c.kube.list('secrets').length, 0);
  });
}

/** A cluster outside fleet.yaml (new-1), registered and refreshed, with its admin kubeconfig in admin.yaml. */
async function registered(t: ExecutionContext) {
  const s = await sandbox(t);
  const kube = await s.startCluster();
  kube.seed('serviceaccounts', {
    metadata: { namespace: 'default', name: 'default' },
    imagePullSecrets: [{ name: 'docker-hub' }],
  });
  await s.adminKubeconfig(kube, { token: 'admin-token-0123456789', contextName: NEW_CLUSTER });
  const env = s.operatorEnv([
    'kms:CreateSecret',
    'kms:PutSecretValue',
    'kms:DeleteSecret',
    'kms:GetSecretValue',
    'cr:GetAuthorizationToken',
    'cr:ListInstanceEndpoint',
  ]);
  const run = (args: string[], more: Partial<Parameters<typeof cli>[1]> = {}) =>
    cli(args, { cwd: s.dir, env, ...more });
  t.is((await run(['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml', ...NEW_CLUSTER_GRANTS])).code, 0);
  t.is((await run(['refresh', '--cluster', 'new-1'])).code, 0);
  t.truthy(kube.get('secrets', 'default', SECRET));
  return { s, kube, run };
}

const KMS_WRITES = new Set(['CreateSecret', 'PutSecretValue', 'DeleteSecret', 'UpdateSecret']);

/** What a refusal must leave as it was: every write to the cluster, to KMS and to fleet.yaml. */
async function untouched(s: Sandbox, kube: KubeEmulator) {
  const writes = () => kube.requests.filter((r) => r.method !== 'GET').length;
  const kmsWrites = () => s.cloud.requests.filter((r) => KMS_WRITES.has(r.action)).length;
  const before = { writes: writes(), kms: kmsWrites(), fleet: await readFile(s.configFile, 'utf8') };
  return async (t: ExecutionContext) => {
    t.is(writes(), before.writes, 'no write reached the cluster');
    t.is(kmsWrites(), before.kms, 'no KMS write or delete');
    t.is(await readFile(s.configFile, 'utf8'), before.fleet, 'fleet.yaml unchanged');
    t.truthy(kube.get('secrets', 'default', SECRET), "acr-fleet's Secret is still there");
  };
}

const REFUSALS: [string, string[], (s: Sandbox, kube: KubeEmulator) => string][] = [
  [
    'deregister of a typo of a registered name (new-l for new-1)',
    ['deregister', '--cluster', 'new-l', '--kubeconfig', 'admin.yaml'],
    () =>
      'acr-fleet deregister: cluster new-l: not in fleet.yaml; did you mean new-1?; the cluster behind admin.yaml has acr-fleet (clusterrolebinding acr-fleet) and deregister acts only on a cluster fleet.yaml names; nothing touched',
  ],
  [
    'deregister of a name never registered',
    ['deregister', '--cluster', 'staging', '--kubeconfig', 'admin.yaml'],
    () =>
      'acr-fleet deregister: cluster staging: not in fleet.yaml; the cluster behind admin.yaml has acr-fleet (clusterrolebinding acr-fleet) and deregister acts only on a cluster fleet.yaml names; nothing touched',
  ],
  [
    "deregister of another fleet cluster's name with this cluster's admin kubeconfig",
    ['deregister', '--cluster', 'hz-dev-1', '--kubeconfig', 'admin.yaml'],
    (s, kube) =>
      `acr-fleet deregister: cluster hz-dev-1: admin.yaml reaches ${kube.url}, but file ./kubeconfigs/hz-dev-1.yaml of hz-dev-1 reaches ${s.cluster('hz-dev-1').kube.url}: a different cluster; nothing touched`,
  ],
  [
    'register --webhook without webhook.url',
    ['register', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml', '--webhook', ...NEW_CLUSTER_GRANTS],
    () =>
      "acr-fleet register: cluster new-1: fleet.yaml: webhook.url: required to install the webhook (the URL of the webhook function's HTTP trigger); nothing written",
  ],
];

for (const [what, args, message] of REFUSALS) {
  test(`${what} is refused with one line, exit 2, and nothing in the cluster, KMS or fleet.yaml changes`, async (t) => {
    const { s, kube, run } = await registered(t);
    const check = await untouched(s, kube);
    const r = await run(args);
    // Progress lines name the steps read so far; the error is one line, the last.
    t.deepEqual(
      r.stderr.split('\n').filter((l) => l.startsWith('acr-fleet ')),
      [message(s, kube)],
    );
    t.true(r.stderr.endsWith(`${message(s, kube)}\n`));
    t.is(r.code, 2);
    t.is(r.stdout, '');
    await check(t);
  });
}

test('deregister --dry-run prints what it would delete and writes nothing; --json is one document', async (t) => {
  const { s, kube, run } = await registered(t);
  const check = await untouched(s, kube);
  const r = await run(['deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml', '--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^deregister new-1, dry run \(nothing written\):$/m);
  t.regex(r.stdout, new RegExp(`^  delete +secret default/${SECRET}  \\(removal\\)$`, 'm'));
  t.regex(r.stdout, new RegExp(`^  patch +serviceaccount default/default  \\(-${SECRET}\\)$`, 'm'));
  t.regex(r.stdout, /^ {2}delete +clusterrole acr-fleet$/m);
  t.regex(r.stdout, /^ {2}delete +kms secret acr-fleet\/new-1$/m);
  t.regex(r.stdout, /^ {2}update +fleet\.yaml {2}\(remove cluster new-1\)$/m);
  const j = await run(['deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml', '--dry-run', '--json']);
  t.is(j.code, 0);
  t.is(j.stderr, '');
  const doc = JSON.parse(j.stdout) as { dryRun: boolean; plan: { action: string; what: string }[] };
  t.true(doc.dryRun);
  t.deepEqual(
    doc.plan.filter((e) => e.action === 'delete').map((e) => e.what),
    [
      `secret default/${SECRET}`,
      'clusterrolebinding acr-fleet',
      'clusterrole acr-fleet',
      'serviceaccount kube-system/acr-fleet',
      // The admission fence comes down after the rights it fenced (issue 16).
      'validatingadmissionpolicybinding acr-fleet',
      'validatingadmissionpolicy acr-fleet',
      'kms secret acr-fleet/new-1',
    ].filter((w) => doc.plan.some((e) => e.what === w)),
  );
  await check(t);
});

test('register --dry-run plans the rotation and writes nothing', async (t) => {
  const { s, kube, run } = await registered(t);
  const check = await untouched(s, kube);
  const r = await run([
    'register',
    '--cluster',
    'new-1',
    '--kubeconfig',
    'admin.yaml',
    '--dry-run',
    '--json',
    ...NEW_CLUSTER_GRANTS,
  ]);
  t.is(r.code, 0, r.stdout);
  const doc = JSON.parse(r.stdout) as { plan: { action: string; what: string; reason?: string }[] };
  t.like(
    doc.plan.find((e) => e.what === 'kms secret acr-fleet/new-1'),
    { action: 'store', reason: 'rotate' },
  );
  t.like(
    doc.plan.find((e) => e.what === 'clusterrole acr-fleet'),
    { action: 'unchanged' },
  );
  await check(t);
});

test('on a terminal, deregister asks before deleting; no answer is no, and nothing is written', async (t) => {
  const { s, kube, run } = await registered(t);
  const check = await untouched(s, kube);
  const asked: string[] = [];
  const args = ['deregister', '--cluster', 'new-1', '--kubeconfig', 'admin.yaml'];
  const no = await run(args, { tty: { stderr: true }, answer: 'n', asked });
  t.is(no.code, 1);
  t.deepEqual(asked, ['Proceed with deregister of cluster new-1? [y/N] ']);
  t.regex(no.stderr, /^acr-fleet deregister: cluster new-1: not confirmed; nothing written$/m);
  await check(t);
  const yes = await run([...args, '--yes'], { tty: { stderr: true }, answer: 'n', asked });
  t.is(yes.code, 0, yes.stderr);
  t.is(asked.length, 1, '--yes is not asked');
  t.is(kube.get('secrets', 'default', SECRET), undefined);
});

test('no credentials anywhere in the chain is one line naming the variables and the order, exit 2, no request, no retry', async (t) => {
  const s = await sandbox(t);
  const before = served(s);
  // The sandbox's own AccessKey is left out: the CLI falls back to the SDK's default chain, which finds nothing.
  const env = Object.fromEntries(Object.entries(s.env).filter(([k]) => !k.startsWith('ALIBABA_CLOUD_ACCESS_KEY')));
  for (const args of [['refresh'], ['refresh', '--dry-run']]) {
    const r = await cli(args, { cwd: s.dir, env });
    t.is(r.stderr, `acr-fleet: ${NO_CREDENTIALS}\n`);
    t.is(r.code, 2);
    t.is(r.stdout, '');
  }
  const j = await cli(['refresh', '--json'], { cwd: s.dir, env });
  t.deepEqual(JSON.parse(j.stdout), { ok: false, error: `acr-fleet: ${NO_CREDENTIALS}`, exitCode: 2 });
  t.is(j.stderr, '');
  t.is(served(s), before, 'no emulator received a request');
});

test('a missing credential met inside a call is final: toCloudError keeps its text and no retry is made', (t) => {
  const err = toCloudError('GetAuthorizationToken', new NoCredentialsError());
  t.is(err.code, 'NoCredentials');
  t.is(err.message, `GetAuthorizationToken: ${NO_CREDENTIALS}`);
  t.false(isTransient(err));
});

/** Config and usage errors through the CLI: each its exact output, exit 2, and no emulator contacted. */
const CLI_CASES: {
  what: string;
  edit?: (d: Record<string, unknown>) => void;
  args: string[];
  stdout: string;
  stderr: string;
}[] = [
  {
    what: 'a misspelled key (the add-on spelling) in text mode',
    edit: (d) => (d.defaults = { ...(d.defaults as object), 'expiring-threshold': '15m' }),
    args: ['refresh'],
    stdout: '',
    stderr: 'fleet.yaml: defaults.expiring-threshold: unknown key; did you mean expiringThreshold?\n',
  },
  {
    what: 'a bad config with --json',
    edit: (d) => (d.concurrency = 100),
    args: ['refresh', '--json'],
    stdout: `${JSON.stringify({ valid: false, problems: [{ file: 'fleet.yaml', path: 'concurrency', message: 'must be at most 64', severity: 'error' }] })}\n`,
    stderr: '',
  },
  {
    what: 'an unknown --cluster with --json',
    args: ['refresh', '--json', '--cluster', 'nope'],
    stdout: `${JSON.stringify({ ok: false, error: 'acr-fleet: --cluster nope: matches no cluster in fleet.yaml', exitCode: 2 })}\n`,
    stderr: '',
  },
  {
    what: 'a bad config given to deregister --json',
    edit: (d) => (d.concurrency = 100),
    args: ['deregister', '--cluster', 'hz-dev-1', '--kubeconfig', 'admin.yaml', '--json'],
    stdout: `${JSON.stringify({ valid: false, problems: [{ file: 'fleet.yaml', path: 'concurrency', message: 'must be at most 64', severity: 'error' }] })}\n`,
    stderr: '',
  },
];

for (const c of CLI_CASES) {
  test(`the CLI refuses ${c.what}: exact output, exit 2, no emulator contacted`, async (t) => {
    const s = await sandbox(t, c.edit ? { editConfig: c.edit } : {});
    const before = served(s);
    const r = await cli(c.args, { cwd: s.dir, env: s.env });
    t.deepEqual(r, { code: 2, stdout: c.stdout, stderr: c.stderr });
    t.is(served(s), before, 'no emulator received a request');
  });
}
