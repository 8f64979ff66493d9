/**
 * Fleets past one invocation: a timer run of a fleet larger than `shardSize` queues one asynchronous
 * invocation of the same function per shard (FC 3.0 InvokeFunction through the emulator, which runs the
 * handler), and the shards together refresh every cluster, each with its own tokens and its own summary.
 */
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import { handler, type DispatchReport } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { parsePayload } from '../src/config/payload.js';
import { payloadOf } from '../src/fleet/dispatch.js';
import { shardClusters } from '../src/fleet/shard.js';
import { ACCOUNT, startSandbox, type Sandbox } from './support/sandbox.js';
import { loginDomains, pullSecrets, SECRET } from './support/assert.js';

const FUNCTION = 'acr-fleet';
const REGION = 'cn-hangzhou';
const FUNCTION_ARN = `acs:fc:${REGION}:${ACCOUNT}:functions/${FUNCTION}`;
const BASE_ACTIONS = [
  'cr:GetAuthorizationToken',
  'cr:ListInstanceEndpoint',
  'kms:GetSecretValue',
  'sts:AssumeRole',
  'cs:DescribeClusterUserKubeconfig',
];

const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { minLength: 1, maxLength: 300 });

test('every cluster is in exactly one shard, and there are ceil(clusters / shardSize) shards at most', (t) => {
  fc.assert(
    fc.property(names, fc.integer({ min: 1, max: 50 }), (list, size) => {
      const shards = shardClusters(list, size);
      const all = shards.flatMap((s) => s.clusters);
      return (
        all.length === list.length &&
        new Set(all).size === list.length &&
        shards.every((s) => s.count === Math.ceil(list.length / size) && s.clusters.length > 0)
      );
    }),
  );
  t.pass();
});

test('adding a cluster moves no other cluster while the shard count stays, and a new shard only takes clusters', (t) => {
  const shardOf = (list: string[], size: number) =>
    new Map(shardClusters(list, size).flatMap((s) => s.clusters.map((c) => [c, s.index] as const)));
  fc.assert(
    fc.property(
      names,
      fc.integer({ min: 1, max: 50 }),
      fc.stringMatching(/^new-[a-z0-9]{1,8}$/),
      (list, size, added) => {
        const before = shardOf(list, size);
        const after = shardOf([...list, added], size);
        const grew = Math.ceil((list.length + 1) / size) > Math.ceil(list.length / size);
        const newShard = Math.ceil((list.length + 1) / size) - 1;
        return list.every((c) => after.get(c) === before.get(c) || (grew && after.get(c) === newShard));
      },
    ),
  );
  t.pass();
});

test("every shard's payload passes the invocation payload schema and round-trips to its shard (issue 17)", (t) => {
  fc.assert(
    fc.property(names, fc.integer({ min: 1, max: 50 }), fc.boolean(), (list, size, dryRun) =>
      shardClusters(list, size).every((shard) => {
        const parsed = parsePayload(payloadOf(shard, shard.clusters, dryRun), list);
        return isDeepStrictEqual(parsed, {
          shard: { index: shard.index, count: shard.count },
          clusters: shard.clusters,
          ...(dryRun ? { dryRun } : {}),
        });
      }),
    ),
  );
  t.pass();
});

test('a fleet that fits one shard is one shard of every cluster', (t) => {
  t.deepEqual(shardClusters(['b', 'a', 'c'], 3), [{ index: 0, count: 1, clusters: ['a', 'b', 'c'] }]);
});

/** The sandbox deployed as a function whose role may (or may not) invoke itself; shardSize 1 → 3 shards. */
async function deployed(canInvoke: boolean): Promise<{ s: Sandbox; role: string; lines: string[]; used: string[] }> {
  const s = await startSandbox();
  await s.kubeconfigsToKms();
  await s.editConfig((d) => {
    d.shardSize = 1;
    (d.endpoints as Record<string, unknown>).fc = s.cloud.endpointsConfig().fc;
  });
  const policy = {
    Statement: canInvoke ? [{ Effect: 'Allow', Action: ['fc:InvokeFunction'], Resource: [FUNCTION_ARN] }] : [],
  };
  const role = s.cloud.addRole({ accountId: ACCOUNT, name: 'acr-fleet-sharded', actions: BASE_ACTIONS, policy });
  const lines: string[] = [];
  /** Every credential secret FC handed an invocation. */
  const used: string[] = [];
  s.cloud.addFunction({
    accountId: ACCOUNT,
    region: REGION,
    name: FUNCTION,
    role,
    handler: (event, context) => {
      used.push(context.credentials.accessKeySecret, context.credentials.securityToken ?? '');
      return handler(event, context, (l) => lines.push(l));
    },
  });
  process.env.ACR_FLEET_CONFIG = s.configFile;
  return { s, role, lines, used };
}

/** The sandbox's shards as the pure function cuts them (jump hash: 3 clusters over 3 buckets leave one empty). */
const SHARDS = shardClusters(['hz-prod-1', 'bj-prod-1', 'hz-dev-1'], 1);
const N = SHARDS.length;

const timer = Buffer.from(
  JSON.stringify({ triggerTime: '2026-11-24T05:00:00Z', triggerName: 'refresh', payload: '{}' }),
);
const fcContext = (s: Sandbox, role: string) => ({
  requestId: 'timer-1',
  credentials: s.cloud.roleSession(role),
  region: REGION,
  accountId: ACCOUNT,
  function: { name: FUNCTION },
});

test.serial(
  'a timer run past shardSize dispatches one async invocation per shard, and the shards refresh every cluster',
  async (t) => {
    const { s, role, lines, used } = await deployed(true);
    try {
      const context = fcContext(s, role);
      used.push(context.credentials.accessKeySecret, context.credentials.securityToken ?? '');
      const result = (await handler(timer, context, (l) => lines.push(l))) as DispatchReport;
      t.true(N >= 2);
      t.deepEqual(result.dispatch, { shards: N, clusters: 3, queued: N, failed: 0 });
      t.deepEqual(
        s.cloud.requests.filter((r) => r.action === 'GetAuthorizationToken' || r.action === 'GetSecretValue').length,
        0,
        'the dispatching run refreshes nothing itself',
      );
      await s.cloud.settled();

      const invocations = s.cloud.asyncInvocations;
      t.deepEqual(
        invocations.map((i) => i.status),
        Array(N).fill('succeeded'),
      );
      const shardReports = invocations.map((i) => i.result as FleetReport);
      t.deepEqual(shardReports.flatMap((r) => r.clusters.map((c) => `${c.name}:${c.status}`)).sort(), [
        'bj-prod-1:ok',
        'hz-dev-1:ok',
        'hz-prod-1:ok',
      ]);
      t.is(loginDomains(s.cloud, s.cluster('hz-dev-1').kube, 'default').length, 3);
      t.deepEqual(pullSecrets(s.cluster('bj-prod-1').kube, 'payments', 'api'), [SECRET]);

      // Payloads name clusters only: no token, no session secret.
      const payloads = invocations.map(
        (i) => JSON.parse(i.event) as { shard: { index: number; count: number }; clusters: string[] },
      );
      t.deepEqual(payloads.map((p) => p.clusters).sort(), SHARDS.map((x) => x.clusters).sort());
      for (const i of invocations)
        t.deepEqual(parsePayload(i.event, ['hz-prod-1', 'bj-prod-1', 'hz-dev-1']), JSON.parse(i.event) as object);
      t.true(
        payloads.every((p) => p.shard.count === SHARDS[0]?.count && Object.keys(p).sort().join() === 'clusters,shard'),
      );
      const secrets = [...s.cloud.tokens.map((k) => k.password), ...used.filter(Boolean)];
      t.true(s.cloud.tokens.length >= N, 'each shard fetched its own tokens');
      t.false(
        invocations.some((i) => secrets.some((x) => i.event.includes(x))),
        'no token in a payload',
      );
      const printed = [...lines, JSON.stringify(result), ...invocations.map((i) => JSON.stringify(i.result))];
      t.false(
        printed.some((p) => secrets.some((x) => p.includes(x))),
        'no token or secret in a log line or a returned report',
      );

      const logs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      t.like(
        logs.find((l) => l.event === 'dispatch'),
        { level: 'info', shards: N, clusters: 3, queued: N, failed: 0, requestId: 'timer-1' },
      );
      const summaries = logs.filter((l) => l.event === 'summary');
      t.deepEqual(
        summaries.map((l) => l.shard).sort(),
        SHARDS.map((x) => `${x.index + 1}/${x.count}`).sort(),
        'each shard logs its own summary',
      );
      t.true(s.cloud.requests.filter((r) => r.action === 'InvokeFunction').every((r) => r.status === 202));
    } finally {
      delete process.env.ACR_FLEET_CONFIG;
      await s.close();
    }
  },
);

test.serial(
  'a role without fc:InvokeFunction on the function fails the dispatch, naming each shard and the code',
  async (t) => {
    const { s, role, lines } = await deployed(false);
    try {
      await t.throwsAsync(
        handler(timer, fcContext(s, role), (l) => lines.push(l)),
        {
          message:
            'dispatch: no shard could be queued (shard 1/3: InvokeFunction: AccessDenied (HTTP 403): You are not authorized to perform fc:InvokeFunction on acs:fc:cn-hangzhou:1234567890123456:functions/acr-fleet.)',
        },
      );
      const logs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      t.is(logs.filter((l) => l.event === 'dispatch-failed').length, N);
      t.like(
        logs.find((l) => l.event === 'dispatch'),
        { level: 'error', shards: N, queued: 0, failed: N },
      );
      t.is(s.cloud.asyncInvocations.length, 0);
    } finally {
      delete process.env.ACR_FLEET_CONFIG;
      await s.close();
    }
  },
);
