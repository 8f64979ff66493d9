/**
 * Kubeconfigs as acr-fleet reads them: its own reader for token and client-certificate kubeconfigs, and
 * credential plugins (exec) only in local CLI runs, never in the deployed function.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { readKubeconfig } from '../src/kube/kubeconfig.js';
import { pullSecrets, SECRET } from './support/assert.js';
import { cli } from './support/cli.js';
import { ACCOUNT, startSandbox, type SandboxCluster } from './support/sandbox.js';

/** The cluster's kubeconfig with its token handed out by an exec plugin instead (a node one-liner). */
function execKubeconfig(c: SandboxCluster): string {
  const doc = yaml.load(c.kube.kubeconfig({ token: c.token, contextName: c.name })) as {
    users: { user: Record<string, unknown> }[];
  };
  const credential = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: c.token },
  });
  for (const u of doc.users)
    u.user = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
        interactiveMode: 'Never',
      },
    };
  return yaml.dump(doc);
}

test('a local kubeconfig whose user is an exec plugin works from the CLI', async (t) => {
  const s = await startSandbox();
  try {
    const c = s.cluster('hz-dev-1');
    await writeFile(c.kubeconfigFile, execKubeconfig(c));
    const r = await cli(['refresh', '--config', s.configFile, '--cluster', 'hz-dev-1', '--json'], {
      cwd: s.dir,
      env: s.env,
    });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(pullSecrets(c.kube, 'default'), [SECRET]);
    t.false(r.stdout.includes(c.token) || r.stderr.includes(c.token));
  } finally {
    await s.close();
  }
});

test.serial('the deployed function refuses a kubeconfig whose user is a credential plugin, and names it', async (t) => {
  const s = await startSandbox();
  try {
    await s.kubeconfigsToKms();
    const c = s.cluster('hz-dev-1');
    s.cloud.putKmsSecret({
      accountId: ACCOUNT,
      region: 'cn-hangzhou',
      name: 'acr-fleet/hz-dev-1',
      data: execKubeconfig(c),
    });
    process.env.ACR_FLEET_CONFIG = s.configFile;
    const report = (await handler(
      Buffer.from('{}'),
      { requestId: 'r', credentials: s.cloud.roleSession(s.functionRole) },
      () => undefined,
    )) as FleetReport;
    t.is(
      report.clusters.find((x) => x.name === 'hz-dev-1')?.error,
      'cluster hz-dev-1: kubeconfig kmsSecret acr-fleet/hz-dev-1: users[0].user.exec: credential plugins run a command; a kubeconfig from KMS or ACK must be data',
    );
    t.is(c.kube.list('secrets').length, 0);
    t.is(report.summary.ok, 2);
  } finally {
    delete process.env.ACR_FLEET_CONFIG;
    await s.close();
  }
});

const BAD: [string, string, string][] = [
  ['not YAML', 'a: [', 'k.yaml: invalid YAML at line 2'],
  ['not a mapping', '- a', 'k.yaml: not a kubeconfig (expected a mapping)'],
  ['no current-context', 'clusters: []', 'k.yaml: no current-context'],
  ['a context that does not exist', 'current-context: x\ncontexts: []', 'k.yaml: current-context "x" names no context'],
  [
    'a context naming no cluster',
    'current-context: x\ncontexts: [{ name: x, context: { cluster: c } }]',
    'k.yaml: current-context "x" names no cluster',
  ],
  [
    'a cluster without server',
    'current-context: x\ncontexts: [{ name: x, context: { cluster: c } }]\nclusters: [{ name: c, cluster: {} }]',
    'k.yaml: cluster "c": server is missing',
  ],
  [
    'an entry without name',
    'current-context: x\ncontexts: [{ context: { cluster: c } }]',
    'k.yaml: contexts[0].name is missing',
  ],
  [
    'plain http without insecure-skip-tls-verify',
    'current-context: x\ncontexts: [{ name: x, context: { cluster: c } }]\nclusters: [{ name: c, cluster: { server: "http://h" } }]',
    'k.yaml: cluster "c": plain http needs insecure-skip-tls-verify',
  ],
];
for (const [name, text, message] of BAD) {
  test(`a kubeconfig with ${name} is refused with one line naming the source and field`, (t) => {
    t.throws(() => readKubeconfig(text, 'k.yaml'), { message });
  });
}

test('a token kubeconfig yields its server, CA and token, and the token appears in no error', (t) => {
  const text = yaml.dump({
    'current-context': 'x',
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    clusters: [
      {
        name: 'c',
        cluster: {
          server: 'https://k.example:6443/',
          'certificate-authority-data': Buffer.from('CA').toString('base64'),
          'tls-server-name': 'kube',
        },
      },
    ],
    users: [{ name: 'u', user: { token: 'super-secret-token', 'client-key': 42 } }],
  });
  const err = t.throws(() => readKubeconfig(text, 'k.yaml'));
  t.is(err?.message, 'k.yaml: user.client-key: expected a string');
  const ok = readKubeconfig(text.replace(/client-key: 42\n?/, ''), 'k.yaml');
  t.like(ok, {
    server: 'https://k.example:6443',
    token: 'super-secret-token',
    tlsServerName: 'kube',
    insecureSkipTlsVerify: false,
  });
  t.is(ok.ca?.toString(), 'CA');
});
