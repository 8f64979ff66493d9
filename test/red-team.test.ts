/**
 * Regression tests for the red-team review of issues 15–17: each plays the attack (or the operator's slip)
 * through the emulators and the real CLI or FC handler, and asserts what did not happen.
 */
import test from 'ava';
import yaml from 'js-yaml';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { cli } from './support/cli.js';
import { ACCOUNT, CLUSTER_NAMES, HOME_REGION, kmsKubeconfigName } from './support/fleet.js';
import { sandbox } from './support/sandbox.js';

const TENANT = CLUSTER_NAMES.hzDev;

test("a tenant's kubeconfig token shaped like JSON cannot mask the report's structure or other clusters' lines", async (t) => {
  const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
  const tenant = s.cluster(TENANT);
  // The tenant rewrites its own stored kubeconfig: a "token" that is a piece of the report's JSON.
  s.cloud.putKmsSecret({
    accountId: ACCOUNT,
    region: HOME_REGION,
    name: kmsKubeconfigName(TENANT),
    data: tenant.kube.kubeconfig({ token: '","status":"', contextName: TENANT }),
  });
  const lines: string[] = [];
  const role = s.cloud.addRole({
    accountId: ACCOUNT,
    name: 'fn',
    actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint', 'kms:GetSecretValue'],
  });
  const report = (await handler('{}', { credentials: s.cloud.roleSession(role) }, (l) => lines.push(l))) as FleetReport;
  t.is(report.clusters.find((c) => c.name === TENANT)?.status, 'failed');
  t.deepEqual(
    report.clusters.filter((c) => c.name !== TENANT).map((c) => c.status),
    ['ok', 'ok'],
  );
  for (const line of lines) t.notThrows(() => JSON.parse(line), line);
  t.true(
    lines.some((l) => l.includes('"status":"ok"')),
    'the other clusters still read as ok',
  );
});

test('two clusters sharing one KMS kubeconfig secret are refused by validate, naming both', async (t) => {
  const s = await sandbox(t, {
    kubeconfigs: 'kms',
    editConfig: (d) => {
      const clusters = d.clusters as { name: string; kubeconfig: Record<string, unknown> }[];
      const [first, second] = clusters;
      if (first && second) second.kubeconfig = { ...first.kubeconfig };
    },
  });
  const r = await cli(['validate', '-c', 'fleet.yaml'], { cwd: s.dir });
  t.is(r.code, 2);
  t.regex(
    r.stderr,
    /^fleet\.yaml: clusters\[1\]\.kubeconfig\.kmsSecret: acr-fleet\/\S+ is already clusters\[0\]'s \(\S+\); each cluster needs its own$/m,
  );
});

test('deregister --dry-run of an ACK cluster is refused before anything is contacted', async (t) => {
  const s = await sandbox(t);
  const before = s.cloud.requests.length;
  const r = await cli(['deregister', '--ack-cluster-id', 'c0123', '--dry-run'], { cwd: s.dir, env: s.env });
  t.deepEqual(r, {
    code: 2,
    stdout: '',
    stderr:
      'acr-fleet deregister: --dry-run is not supported with --ack-cluster-id or --discovered yet; nothing done\n',
  });
  t.is(s.cloud.requests.length, before, 'no request sent');
});

test("a ConfigMap key carrying terminal escapes (OSC 52, cursor moves) reaches the operator's terminal without them", async (t) => {
  const s = await sandbox(t);
  const hostileKey = 'evil\u001b]52;c;ZXZpbA==\u0007\u001b[1A\u001b[2K';
  s.cluster(TENANT).kube.seed('configmaps', {
    metadata: { namespace: 'kube-system', name: 'acr-configuration' },
    data: { 'acr-registry-info': yaml.dump([{ instanceId: '', [hostileKey]: 'x' }]) },
  });
  await s.editConfig((d) => {
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === TENANT)!;
    delete c.registries;
    c.settings = 'configmap';
    c.configmap = { registries: ['hz-personal'] };
  });
  await s.grantRbac();
  const r = await cli(['refresh', '--config', 'fleet.yaml'], { cwd: s.dir, env: s.env });
  const printed = r.stdout + r.stderr;
  t.true(printed.includes('evil'), 'the key is named');
  t.false(printed.includes('\u001b]52'), 'no clipboard write');
  t.false(printed.includes('\u0007'), 'no bell');
  t.false(printed.includes('\u001b[1A'), 'no cursor move');
});
