/**
 * The Function Compute handler as FC calls it: a timer event as a Buffer, the function role's STS
 * credentials in `context.credentials`, kubeconfigs from KMS, JSON log lines for SLS.
 */
import test from 'ava';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { ConfigError } from '../src/errors.js';
import { ACCOUNT, sandbox, type SandboxOptions } from './support/sandbox.js';
import { loginDomains, pullSecrets, SECRET } from './support/assert.js';
import { logLines } from './support/parse.js';

/** As deployed: kubeconfigs in KMS, the handler pointed at the sandbox's fleet.yaml. */
const FC: SandboxOptions = { kubeconfigs: 'kms', functionConfig: true };

const timerEvent = (payload = '{}') =>
  Buffer.from(JSON.stringify({ triggerTime: '2026-11-23T07:49:00Z', triggerName: 'every-5m', payload }));

// The handler reads ACR_FLEET_CONFIG from the process environment, so these tests run one at a time.
test.serial('a timer invocation refreshes the fleet with the function role and returns the report', async (t) => {
  const s = await sandbox(t, FC);
  const session = s.cloud.roleSession(s.functionRole);
  const lines: string[] = [];
  const report = (await handler(timerEvent(), { requestId: 'req-1', credentials: session }, (l) =>
    lines.push(l),
  )) as FleetReport;
  t.deepEqual(report.summary, { clusters: 3, ok: 3, failed: 0 });
  t.deepEqual(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default').length, 3);
  t.deepEqual(pullSecrets(s.cluster('bj-prod-1').kube, 'payments', 'api'), [SECRET]);
  t.true(
    s.cloud.requests.every((r) => r.accessKeyId === session.accessKeyId),
    'every cloud call used context.credentials',
  );
  t.deepEqual(s.cloud.requests.filter((r) => r.action === 'GetSecretValue').length, 3);

  const logs = logLines(lines);
  t.true(logs.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && l.requestId === 'req-1'));
  t.deepEqual(
    logs
      .filter((l) => l.event === 'cluster')
      .map((l) => l.cluster)
      .sort(),
    ['bj-prod-1', 'hz-dev-1', 'hz-prod-1'],
  );
  t.like(
    logs.find((l) => l.event === 'summary'),
    { clusters: 3, ok: 3, failed: 0 },
  );
  const out = lines.join('\n') + JSON.stringify(report);
  for (const secret of [
    session.accessKeySecret,
    session.securityToken,
    ...s.cloud.tokens.map((tok) => tok.password),
    ...s.clusters.map((c) => c.token),
  ]) {
    t.false(out.includes(secret ?? '<none>'), 'no credential in logs or report');
  }
});

test.serial(
  'a timer payload {"dryRun": true} writes nothing and logs the plan, one JSON line per change',
  async (t) => {
    const s = await sandbox(t, FC);
    const lines: string[] = [];
    const report = (await handler(
      timerEvent('{"dryRun":true}'),
      { requestId: 'req-2', credentials: s.cloud.roleSession(s.functionRole) },
      (l) => lines.push(l),
    )) as FleetReport;
    t.true(report.dryRun);
    t.is(report.clusters.find((c) => c.name === 'hz-prod-1')?.secrets.created, 3);
    for (const c of s.clusters) t.is(c.kube.list('secrets').length, 0);
    const plan = logLines(lines).filter((l) => l.event === 'plan');
    t.deepEqual(
      plan.filter((l) => l.cluster === 'hz-dev-1').map(({ time, ...rest }) => (t.is(typeof time, 'string'), rest)),
      [
        {
          level: 'info',
          msg: 'plan',
          requestId: 'req-2',
          event: 'plan',
          cluster: 'hz-dev-1',
          action: 'create',
          kind: 'Secret',
          namespace: 'default',
          name: SECRET,
          reason: 'missing',
        },
        {
          level: 'info',
          msg: 'plan',
          requestId: 'req-2',
          event: 'plan',
          cluster: 'hz-dev-1',
          action: 'patch',
          kind: 'ServiceAccount',
          namespace: 'default',
          name: 'default',
          reason: `+${SECRET}`,
        },
      ],
    );
    t.is(
      plan.length,
      report.clusters.reduce((n, c) => n + (c.plan?.length ?? 0), 0),
      'every plan entry of every cluster is logged',
    );
    t.is(plan.length, 3 + 3 + 2 + 3 + 2, 'hz-prod-1: 3 Secrets and 3 patches; bj-prod-1: 2 and 3; hz-dev-1: 1 and 1');
  },
);

test.serial('a real run logs no plan lines', async (t) => {
  const s = await sandbox(t, FC);
  const lines: string[] = [];
  await handler(timerEvent(), { credentials: s.cloud.roleSession(s.functionRole) }, (l) => lines.push(l));
  t.false(logLines(lines).some((l) => l.event === 'plan'));
});

test.serial('the deployed function refuses kubeconfig files and a missing KMS secret, per cluster', async (t) => {
  const edit = (d: Record<string, unknown>) => {
    const clusters = d.clusters as { name: string; kubeconfig: unknown }[];
    clusters[0]!.kubeconfig = { file: './kubeconfigs/hz-prod-1.yaml' };
    clusters[1]!.kubeconfig = { kmsSecret: 'acr-fleet/missing' };
  };
  const s = await sandbox(t, { ...FC, editConfig: edit });
  const report = (await handler(
    timerEvent(),
    { credentials: s.cloud.roleSession(s.functionRole) },
    () => {},
  )) as FleetReport;
  const byName = Object.fromEntries(report.clusters.map((c) => [c.name, c]));
  t.is(
    byName['hz-prod-1']?.error,
    'cluster hz-prod-1: kubeconfig ./kubeconfigs/hz-prod-1.yaml: kubeconfig files are for local runs; the deployed function reads kubeconfigs from KMS ({ kmsSecret: NAME })',
  );
  t.is(
    byName['bj-prod-1']?.error,
    'cluster bj-prod-1: kubeconfig kmsSecret acr-fleet/missing: GetSecretValue: Forbidden.ResourceNotFound (HTTP 404): Resource not found',
  );
  t.is(byName['hz-dev-1']?.status, 'ok');
});

test.serial('an invalid config fails the invocation and logs the problems on one line', async (t) => {
  const edit = (d: Record<string, unknown>) => {
    d.clusters = [];
  };
  const s = await sandbox(t, { ...FC, editConfig: edit });
  const lines: string[] = [];
  await t.throwsAsync(
    handler(timerEvent(), { credentials: s.cloud.roleSession(s.functionRole) }, (l) => lines.push(l)),
    { instanceOf: ConfigError },
  );
  t.is(lines.length, 1);
  t.like(logLines(lines)[0], { level: 'error', event: 'config-invalid' });
  t.regex(lines[0] ?? '', /fleet\.yaml: clusters: expected at least 1 item\(s\)/);
});

test.serial(
  'ACK clusters get a 15-minute kubeconfig from Container Service each run, and an unknown cluster id fails alone',
  async (t) => {
    const minutes: number[] = [];
    const edit = (d: Record<string, unknown>) => {
      const clusters = d.clusters as { name: string; kubeconfig: unknown }[];
      clusters[0]!.kubeconfig = {
        ackClusterId: 'c0123456789abcdef',
        privateIpAddress: true,
        allowPrivateAddress: true,
      };
      clusters[1]!.kubeconfig = { ackClusterId: 'cnotthere', regionId: 'cn-beijing', allowPrivateAddress: true };
    };
    const s = await sandbox(t, { ...FC, editConfig: edit });
    const hz = s.cluster('hz-prod-1');
    s.cloud.addAckCluster({
      accountId: ACCOUNT,
      region: 'cn-hangzhou',
      clusterId: 'c0123456789abcdef',
      kubeconfig: (m) => (minutes.push(m), hz.kube.kubeconfig({ token: hz.token, contextName: 'ack' })),
    });
    const report = (await handler(
      timerEvent(),
      { credentials: s.cloud.roleSession(s.functionRole) },
      () => {},
    )) as FleetReport;
    const byName = Object.fromEntries(report.clusters.map((c) => [c.name, c]));
    t.is(byName['hz-prod-1']?.status, 'ok');
    t.is(loginDomains(s.cloud, hz.kube, 'team-a').length, 5);
    t.deepEqual(minutes, [15]);
    t.regex(
      byName['bj-prod-1']?.error ?? '',
      /^cluster bj-prod-1: kubeconfig ackClusterId cnotthere: DescribeClusterUserKubeconfig: ErrorClusterNotFound \(HTTP 404\)/,
    );
    t.is(byName['hz-dev-1']?.status, 'ok');
  },
);
