/**
 * Issue 15, part B: a cluster owner who can write the cluster's kubeconfig in KMS (or hand the operator an
 * admin kubeconfig) plays the attacker. A kubeconfig from KMS is data, never a program, a file, a proxy or
 * an address of the function's own machine: each attack is refused with one line naming the cluster and the
 * field, by the deployed function and by the operator's `refresh --dry-run` alike; no request reaches the
 * attacker's host (its emulator's request and connection counts), and the other clusters of the run converge.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { KUBE_LIMITS } from '../src/config/resolve.js';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { guardedLookup } from '../src/kube/address.js';
import { connectCluster } from '../src/kube/client.js';
import { endpointOfContext, readKubeconfig } from '../src/kube/kubeconfig.js';
import { KubeEmulator } from './emulators/kube/index.js';
import { pullSecrets, SECRET, storedKubeconfig } from './support/assert.js';
import { cli } from './support/cli.js';
import { ACCOUNT, CLUSTER_NAMES, HOME_REGION, kmsKubeconfigName, NEW_CLUSTER } from './support/fleet.js';
import { readReport } from './support/parse.js';
import { sandbox, type Sandbox } from './support/sandbox.js';

const VICTIM = CLUSTER_NAMES.hzDev;
const OTHERS = [CLUSTER_NAMES.hzProd, CLUSTER_NAMES.bjProd];
const FILE_TOKEN = 'token-from-a-file-on-the-function-disk-0123456789';

type Kubeconfig = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
};

interface Attack {
  name: string;
  /** The foreign host: where the hostile kubeconfig would send the credential. */
  foreign?: { tls: boolean };
  /** fleet.yaml's `allowPrivateAddress` for the victim (the emulators listen on 127.0.0.1). */
  allowPrivateAddress: boolean;
  /** Turns the victim's own kubeconfig into the hostile one. */
  hostile(k: Kubeconfig, ctx: { foreign?: KubeEmulator; dir: string; marker: string }): void;
  /** The field and reason after `cluster hz-dev-1: kubeconfig kmsSecret acr-fleet/hz-dev-1: `. */
  refusal: string | RegExp;
}

const ATTACKS: Attack[] = [
  {
    name: 'an exec credential plugin runs no command, in the function or on the operator machine',
    foreign: { tls: true },
    allowPrivateAddress: true,
    hostile: (k, { foreign, marker }) => {
      k.clusters[0]!.cluster.server = foreign!.url;
      k.users[0]!.user = {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: ['-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`],
          interactiveMode: 'Never',
        },
      };
    },
    refusal: 'users[0].user.exec: credential plugins run a command; a kubeconfig from KMS or ACK must be data',
  },
  {
    name: 'a tokenFile path is never read nor sent',
    foreign: { tls: true },
    allowPrivateAddress: true,
    hostile: (k, { foreign, dir }) => {
      k.clusters[0]!.cluster.server = foreign!.url;
      k.users[0]!.user = { tokenFile: path.join(dir, 'function-disk-token') };
    },
    refusal: 'users[0].user.tokenFile: a file path reads the disk of whoever runs acr-fleet; use token',
  },
  {
    name: 'insecure-skip-tls-verify is refused',
    foreign: { tls: true },
    allowPrivateAddress: true,
    hostile: (k, { foreign }) => {
      k.clusters[0]!.cluster = { server: foreign!.url, 'insecure-skip-tls-verify': true };
    },
    refusal:
      "clusters[0].cluster.insecure-skip-tls-verify: turns off the server's verification; a kubeconfig from KMS or ACK must pin its CA",
  },
  {
    name: 'the metadata service address stays refused even where private addresses are allowed',
    allowPrivateAddress: true,
    hostile: (k) => {
      k.clusters[0]!.cluster.server = 'https://100.100.100.200:6443';
    },
    refusal: 'clusters[0].cluster.server: 100.100.100.200 is the cloud metadata service',
  },
  {
    name: 'a link-local address written as IPv6 is refused',
    allowPrivateAddress: true,
    hostile: (k) => {
      k.clusters[0]!.cluster.server = 'https://[::ffff:169.254.10.1]:6443';
    },
    refusal: 'clusters[0].cluster.server: ::ffff:a9fe:a01 is a link-local address',
  },
  {
    name: 'a DNS name resolving to loopback is refused without allowPrivateAddress',
    foreign: { tls: true },
    allowPrivateAddress: false,
    // The emulator's certificate names localhost: only the address check can stop this one.
    hostile: (k, { foreign }) => {
      k.clusters[0]!.cluster.server = foreign!.url.replace('127.0.0.1', 'localhost');
    },
    refusal:
      /^clusters\[0\]\.cluster\.server: host localhost resolves to (127\.0\.0\.1|::1) is a loopback or unspecified address; allow it with kubeconfig: \{ allowPrivateAddress: true \} in fleet\.yaml \(register --allow-private-address\)$/,
  },
  {
    name: 'a plain http:// server is refused',
    foreign: { tls: false },
    allowPrivateAddress: true,
    hostile: (k, { foreign }) => {
      k.clusters[0]!.cluster = { server: foreign!.url, 'insecure-skip-tls-verify': false };
    },
    refusal: 'clusters[0].cluster.server: a kubeconfig from KMS or ACK must use https://',
  },
  {
    name: 'a proxy-url is refused',
    foreign: { tls: false },
    allowPrivateAddress: true,
    hostile: (k, { foreign }) => {
      k.clusters[0]!.cluster['proxy-url'] = foreign!.url;
    },
    refusal:
      'clusters[0].cluster.proxy-url: a proxy would see every request; a kubeconfig from KMS or ACK connects directly',
  },
];

/** The sandbox with kubeconfigs in KMS, the victim's replaced by the hostile one; its foreign host. */
async function attacked(t: ExecutionContext, attack: Attack) {
  const s = await sandbox(t, {
    kubeconfigs: 'kms',
    functionConfig: true,
    editConfig: (d) => {
      const victim = (d.clusters as { name: string; kubeconfig: Record<string, unknown> }[]).find(
        (c) => c.name === VICTIM,
      )!;
      victim.kubeconfig = { kmsSecret: kmsKubeconfigName(VICTIM), allowPrivateAddress: attack.allowPrivateAddress };
    },
  });
  const foreign = attack.foreign ? await KubeEmulator.start({ tls: attack.foreign.tls }) : undefined;
  if (foreign) t.teardown(() => foreign.close());
  // What an attacker would like sent: a credential only the function's disk holds.
  await writeFile(path.join(s.dir, 'function-disk-token'), FILE_TOKEN);
  foreign?.addToken(FILE_TOKEN, { name: 'stolen', groups: ['system:masters'] });
  const marker = path.join(s.dir, 'plugin-ran');
  const victim = s.cluster(VICTIM);
  const k = yaml.load(victim.kube.kubeconfig({ token: victim.token, contextName: VICTIM })) as Kubeconfig;
  attack.hostile(k, { ...(foreign ? { foreign } : {}), dir: s.dir, marker });
  s.cloud.putKmsSecret({
    accountId: ACCOUNT,
    region: HOME_REGION,
    name: kmsKubeconfigName(VICTIM),
    data: yaml.dump(k),
  });
  return { s, foreign, marker, victim };
}

function assertRefused(t: ExecutionContext, report: FleetReport, attack: Attack): void {
  const prefix = `cluster ${VICTIM}: kubeconfig kmsSecret ${kmsKubeconfigName(VICTIM)}: `;
  const error = report.clusters.find((c) => c.name === VICTIM)?.error ?? '';
  t.true(error.startsWith(prefix), error);
  if (typeof attack.refusal === 'string') t.is(error.slice(prefix.length), attack.refusal);
  else t.regex(error.slice(prefix.length), attack.refusal);
  t.false(error.includes('\n'), 'one line');
  for (const name of OTHERS) t.is(report.clusters.find((c) => c.name === name)?.status, 'ok', name);
}

function assertNothingReached(
  t: ExecutionContext,
  { s, foreign, marker, victim }: Awaited<ReturnType<typeof attacked>>,
): void {
  t.false(existsSync(marker), 'the plugin never ran');
  if (foreign) {
    t.deepEqual(foreign.requests, [], 'no request reached the foreign host');
    t.is(foreign.connections, 0, 'not even a connection');
  }
  t.deepEqual(victim.kube.requests, [], 'nothing was sent anywhere for the victim cluster');
  t.false(JSON.stringify(s.clusters.map((c) => c.kube.requests)).includes('stolen'));
}

for (const attack of ATTACKS) {
  test.serial(`tenant attack: ${attack.name}`, async (t) => {
    const world = await attacked(t, attack);
    const { s } = world;

    // The operator's machine: refresh --dry-run reads the same KMS kubeconfig.
    const dry = await cli(['refresh', '--config', s.configFile, '--dry-run', '--json'], { cwd: s.dir, env: s.env });
    t.is(dry.code, 1, dry.stderr);
    assertRefused(t, readReport(dry.stdout), attack);
    assertNothingReached(t, world);

    // The deployed function.
    const lines: string[] = [];
    const report = (await handler(
      Buffer.from('{}'),
      { requestId: 'r', credentials: s.cloud.roleSession(s.functionRole) },
      (l) => lines.push(l),
    )) as FleetReport;
    assertRefused(t, report, attack);
    assertNothingReached(t, world);
    t.true(pullSecrets(s.cluster(CLUSTER_NAMES.hzProd).kube, 'team-a').includes(SECRET));
    t.true(pullSecrets(s.cluster(CLUSTER_NAMES.bjProd).kube, 'payments').includes(SECRET));
    t.false(lines.join('\n').includes(world.victim.token), 'the kubeconfig token is never logged');
  });
}

test.serial(
  'tenant attack: a DNS name resolving to loopback works only once fleet.yaml allows the cluster that address',
  async (t) => {
    // The control for the attack above: the same kubeconfig, allowed; what stopped it was the address check.
    const attack = ATTACKS.find((a) => a.name.startsWith('a DNS name'))!;
    const world = await attacked(t, { ...attack, allowPrivateAddress: true });
    world.foreign!.addToken(world.victim.token, { name: 'someone' });
    const dry = await cli(['refresh', '--config', world.s.configFile, '--cluster', VICTIM, '--dry-run', '--json'], {
      cwd: world.s.dir,
      env: world.s.env,
    });
    t.true(world.foreign!.requests.length > 0, dry.stdout);
  },
);

/** A cluster outside fleet.yaml, its admin kubeconfig, and an operator allowed to register it. */
async function newCluster(s: Sandbox) {
  const kube = await s.startCluster();
  await s.adminKubeconfig(kube, { token: 'admin-token-of-the-tenant-0123456789', contextName: NEW_CLUSTER });
  const env = s.operatorEnv(['kms:CreateSecret', 'kms:PutSecretValue', 'kms:GetSecretValue']);
  return { kube, env };
}

test('tenant attack: register without --registries grants nothing, writes nothing and names the fix', async (t) => {
  const s = await sandbox(t);
  const { kube, env } = await newCluster(s);
  const fleetBefore = await readFile(s.configFile, 'utf8');
  const r = await cli(['register', '--cluster', NEW_CLUSTER, '--kubeconfig', 'admin.yaml'], { cwd: s.dir, env });
  t.deepEqual(r, {
    code: 1,
    stdout: '',
    stderr:
      'acr-fleet register: cluster new-1: --registries is required for a new cluster (fleet.yaml has acme-ee, hz-personal); acr-fleet grants no registry by default\n',
  });
  const typo = await cli(
    ['register', '--cluster', NEW_CLUSTER, '--kubeconfig', 'admin.yaml', '--registries', 'acme-e'],
    { cwd: s.dir, env },
  );
  t.is(typo.code, 1);
  t.is(
    typo.stderr,
    'acr-fleet register: cluster new-1: --registries: no registry acme-e in fleet.yaml; did you mean acme-ee?\n',
  );
  t.deepEqual(kube.requests, [], 'the cluster was not touched');
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined);
  t.is(await readFile(s.configFile, 'utf8'), fleetBefore);
});

test('tenant attack: register refuses an admin kubeconfig at a loopback address unless the operator allows it, before any write', async (t) => {
  const s = await sandbox(t);
  const { kube, env } = await newCluster(s);
  const fleetBefore = await readFile(s.configFile, 'utf8');
  const args = ['register', '--cluster', NEW_CLUSTER, '--kubeconfig', 'admin.yaml', '--registries', 'hz-personal'];
  const r = await cli(args, { cwd: s.dir, env });
  t.is(r.code, 1);
  t.is(
    r.stderr.split('\n').at(-2),
    'acr-fleet register: cluster new-1: kubeconfig for kms: acr-fleet kubeconfig: clusters[0].cluster.server: 127.0.0.1 is a loopback or unspecified address; allow it with kubeconfig: { allowPrivateAddress: true } in fleet.yaml (register --allow-private-address)',
  );
  t.deepEqual(kube.requests, [], 'nothing was sent, let alone written');
  t.is(storedKubeconfig(s.cloud, NEW_CLUSTER), undefined);
  t.is(await readFile(s.configFile, 'utf8'), fleetBefore);

  const allowed = await cli([...args, '--allow-private-address'], { cwd: s.dir, env });
  t.is(allowed.code, 0, allowed.stderr);
  const doc = yaml.load(await readFile(s.configFile, 'utf8')) as { clusters: Record<string, unknown>[] };
  t.deepEqual(
    doc.clusters.find((c) => c.name === NEW_CLUSTER),
    {
      name: NEW_CLUSTER,
      kubeconfig: { kmsSecret: kmsKubeconfigName(NEW_CLUSTER), allowPrivateAddress: true },
      registries: ['hz-personal'],
    },
  );
});

test('tenant attack: a host name that resolves to loopback only when connecting is refused by the connection itself, never retried', async (t) => {
  // The check at read time cannot see a name that changes its answer later (DNS rebinding): each connection checks.
  const foreign = await KubeEmulator.start();
  t.teardown(() => foreign.close());
  const k = yaml.load(foreign.kubeconfig({ token: 'never-sent-0123456789' })) as Kubeconfig;
  const server = foreign.url.replace('127.0.0.1', 'localhost');
  const endpoint = endpointOfContext(readKubeconfig(yaml.dump(k), 'k'));
  endpoint.server = server;
  endpoint.tls.lookup = guardedLookup(false, (host, why) => `clusters[0].cluster.server: host ${host} ${why}`);
  const client = connectCluster(endpoint, {
    ...KUBE_LIMITS,
    requestTimeoutMs: 2000,
    retryBudgetMs: 5000,
    writeConcurrency: 2,
    pageSize: 500,
  });
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.listNamespaces());
  t.regex(
    err?.message ?? '',
    /^list namespaces: clusters\[0\]\.cluster\.server: host localhost resolves to (127\.0\.0\.1|::1) is a loopback/,
  );
  t.is(client.stats.requests, 1, 'not retried');
  t.deepEqual(foreign.requests, []);
  t.is(foreign.connections, 0);
});

test.serial(
  "every kubeconfig credential is redacted from the moment it is read: an API server echoing the request's headers leaks nothing",
  async (t) => {
    const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
    const victim = s.cluster(VICTIM);
    // An opaque token (no JWT shape, nothing else knows it): only the kubeconfig reader can tell the redactor.
    victim.kube.hostile({ echoHeaders: true, status: 403 });
    const lines: string[] = [];
    const report = (await handler(
      Buffer.from('{}'),
      { requestId: 'r', credentials: s.cloud.roleSession(s.functionRole) },
      (l) => lines.push(l),
    )) as FleetReport;
    const error = report.clusters.find((c) => c.name === VICTIM)?.error ?? '';
    t.regex(error, /Bearer \*\*\*/, 'the echoed header is there, its token redacted');
    t.false(JSON.stringify(report).includes(victim.token));
    t.false(lines.join('\n').includes(victim.token));

    const local = await cli(['refresh', '--config', s.configFile, '--dry-run', '--json'], { cwd: s.dir, env: s.env });
    t.regex(local.stdout, /Bearer \*\*\*/);
    t.false(local.stdout.includes(victim.token) || local.stderr.includes(victim.token));
  },
);
