/**
 * `acr-fleet policy`: the RAM policy generated from fleet.yaml is enough, and only just: a function role
 * holding exactly it refreshes the whole sandbox fleet, and without any one statement something fails.
 */
import test, { type ExecutionContext } from 'ava';
import { handler } from '../src/entry/fc.js';
import type { FleetReport } from '../src/fleet/report.js';
import { ACCOUNT, sandbox, type Sandbox } from './support/sandbox.js';
import { PARTNER_ACCOUNT } from './support/fleet.js';
import { cli } from './support/cli.js';

interface Policy {
  Version: string;
  Statement: { Effect: string; Action: string[]; Resource: string[] }[];
}

/**
 * Sandbox with KMS kubeconfigs and one cross-account registry used by hz-dev-1, reached through a role of
 * the partner account; the FC handler reads its fleet.yaml.
 */
async function fleetWithPartner(t: ExecutionContext): Promise<Sandbox> {
  const s = await sandbox(t, {
    kubeconfigs: 'kms',
    partner: { assumeRoleARN: `acs:ram::${PARTNER_ACCOUNT}:role/acr-pull` },
    functionConfig: true,
  });
  s.cloud.addRole({
    accountId: PARTNER_ACCOUNT,
    name: 'acr-pull',
    actions: ['cr:GetAuthorizationToken', 'cr:ListInstanceEndpoint'],
    trustedPrincipals: [`acs:ram::${ACCOUNT}:root`],
  });
  return s;
}

async function refreshAs(s: Sandbox, policy: Policy, name: string) {
  const role = s.cloud.addRole({ accountId: ACCOUNT, name, actions: [], policy });
  return (await handler(undefined, { credentials: s.cloud.roleSession(role) }, () => {})) as FleetReport;
}

test.serial('a role with exactly the generated policy refreshes the whole fleet', async (t) => {
  const s = await fleetWithPartner(t);
  const { code, stdout, stderr } = await cli(['policy', '--config', 'fleet.yaml', '--account-id', ACCOUNT], {
    cwd: s.dir,
  });
  t.is(code, 0);
  const policy = JSON.parse(stdout) as Policy;
  t.deepEqual(policy, {
    Version: '1',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['cr:GetAuthorizationToken'],
        Resource: [`acs:cr:cn-beijing:${ACCOUNT}:repository/cri-prod01`, `acs:cr:cn-hangzhou:${ACCOUNT}:*`],
      },
      {
        Effect: 'Allow',
        Action: ['cr:ListInstanceEndpoint'],
        Resource: [`acs:cr:cn-beijing:${ACCOUNT}:instance/cri-prod01`],
      },
      {
        Effect: 'Allow',
        Action: ['kms:GetSecretValue'],
        Resource: ['bj-prod-1', 'hz-dev-1', 'hz-prod-1'].map(
          (c) => `acs:kms:cn-hangzhou:${ACCOUNT}:secret/acr-fleet/${c}`,
        ),
      },
      { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: [`acs:ram::${PARTNER_ACCOUNT}:role/acr-pull`] },
    ],
  });
  const [note, ...rbac] = stderr.trimEnd().split('\n');
  t.is(
    note,
    `note: registry partner: role acs:ram::${PARTNER_ACCOUNT}:role/acr-pull needs cr:GetAuthorizationToken on acs:cr:cn-beijing:*:repository/cri-partner and cr:ListInstanceEndpoint on acs:cr:cn-beijing:*:instance/cri-partner`,
  );
  // Then each cluster's Kubernetes RBAC, rule by rule with its reason.
  t.deepEqual(
    rbac.filter((l) => !l.startsWith('  ')),
    ['hz-prod-1', 'bj-prod-1', 'hz-dev-1'].map(
      (c) =>
        `kubernetes: cluster ${c}: ClusterRole acr-fleet for ServiceAccount kube-system/acr-fleet (applied by register; --kubernetes prints it) allows only:`,
    ),
  );
  t.deepEqual(rbac.map((l) => l.replace(/: .*/, '')).slice(1, 6), [
    '  list namespaces (cluster)',
    '  list, get, update, delete secrets named acr-credential-fleet (all namespaces)',
    '  create secrets (all namespaces)',
    '  list serviceaccounts (all namespaces)',
    '  get, patch serviceaccounts named default (all namespaces)',
  ]);
  t.regex(
    rbac.join('\n'),
    /^ {2}get, patch serviceaccounts \(all namespaces\): .*of any ServiceAccount: serviceAccount is "\*"\.$/m,
    'bj-prod-1 selects "*"',
  );
  const report = await refreshAs(s, policy, 'exact');
  t.deepEqual(report.summary, { clusters: 3, ok: 3, failed: 0 }, JSON.stringify(report.clusters.map((c) => c.error)));
});

test.serial('without any one statement of the generated policy, the refresh fails', async (t) => {
  const s = await fleetWithPartner(t);
  const policy = JSON.parse(
    (await cli(['policy', '-c', 'fleet.yaml', '--account-id', ACCOUNT], { cwd: s.dir })).stdout,
  ) as Policy;
  for (const [i, st] of policy.Statement.entries()) {
    const report = await refreshAs(
      s,
      { ...policy, Statement: policy.Statement.filter((_, j) => j !== i) },
      `without-${i}`,
    );
    t.true(report.summary.failed > 0, `${st.Action.join()} is needed`);
  }
});

test('the ROS template is well formed: every reference resolves, only FC may assume the role, and it takes the generated policy', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const yaml = (await import('js-yaml')).default;
  const tpl = yaml.load(await readFile(new URL('../infra/ros/acr-fleet.yaml', import.meta.url), 'utf8')) as {
    ROSTemplateFormatVersion: string;
    Parameters: Record<string, { Type: string }>;
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    Outputs: Record<string, { Value: unknown }>;
  };
  t.is(tpl.ROSTemplateFormatVersion, '2015-09-01');
  const refs: string[] = [];
  const atts: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'Ref') refs.push(String(x));
        else if (k === 'Fn::GetAtt') atts.push(String((x as string[])[0]));
        else walk(x);
      }
    }
  };
  walk(tpl.Resources);
  walk(tpl.Outputs);
  for (const r of refs) t.true(r in tpl.Parameters || r in tpl.Resources, `Ref ${r}`);
  for (const a of atts) t.true(a in tpl.Resources, `Fn::GetAtt ${a}`);
  const role = tpl.Resources.FunctionRole;
  t.is(role?.Type, 'ALIYUN::RAM::Role');
  t.deepEqual(role?.Properties.AssumeRolePolicyDocument, {
    Version: '1',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
  });
  t.is(tpl.Parameters.PolicyDocument?.Type, 'Json');
  // Every ${Name} of an Fn::Sub is a parameter or a pseudo parameter.
  const subs = JSON.stringify(tpl).match(/\$\{[^}]+\}/g) ?? [];
  for (const v of subs)
    t.true(
      ['${ALIYUN::Region}', '${ALIYUN::AccountId}'].includes(v) || v.slice(2, -1) in tpl.Parameters,
      `Fn::Sub ${v}`,
    );
  const dispatch = (
    role?.Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown[] }[] } }[]
  )[1]?.PolicyDocument.Statement;
  t.deepEqual(
    dispatch,
    [
      {
        Effect: 'Allow',
        Action: ['fc:InvokeFunction'],
        Resource: [{ 'Fn::Sub': 'acs:fc:${ALIYUN::Region}:${ALIYUN::AccountId}:functions/${FunctionName}' }],
      },
      {
        Effect: 'Allow',
        Action: ['mns:SendMessage'],
        Resource: [
          { 'Fn::Sub': 'acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/queues/${FailureQueueName}/messages' },
        ],
      },
    ] as never,
    'the role may invoke this one function and feed its failure queue, nothing more',
  );
  t.deepEqual(tpl.Outputs.FailureDestination?.Value, {
    'Fn::Sub': 'acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/queues/${FailureQueueName}/messages',
  });
});

const SHARDING: [string, number, string | undefined, string | undefined][] = [
  ['a fleet within shardSize needs no fc:InvokeFunction', 3, undefined, undefined],
  ['a fleet past shardSize may invoke its own function, and only it', 2, undefined, 'acr-fleet'],
  [
    'a function deployed under another name ($ACR_FLEET_FUNCTION_NAME, as s.yaml reads it) is the one named',
    2,
    'fleet-prod',
    'fleet-prod',
  ],
];
for (const [what, shardSize, deployedAs, invoked] of SHARDING) {
  test.serial(what, async (t) => {
    const s = await sandbox(t);
    await s.editConfig((d) => (d.shardSize = shardSize));
    const { stdout } = await cli(['policy', '--config', 'fleet.yaml', '--account-id', ACCOUNT], {
      cwd: s.dir,
      env: deployedAs ? { ACR_FLEET_FUNCTION_NAME: deployedAs } : {},
    });
    const statements = (JSON.parse(stdout) as Policy).Statement.filter((st) => st.Action.includes('fc:InvokeFunction'));
    t.deepEqual(
      statements,
      invoked
        ? [
            {
              Effect: 'Allow',
              Action: ['fc:InvokeFunction'],
              Resource: [`acs:fc:cn-hangzhou:${ACCOUNT}:functions/${invoked}`],
            },
          ]
        : [],
    );
  });
}

test('the example RBAC manifests in infra/kubernetes are exactly what the renderer produces (npm run rbac)', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { EXAMPLES, exampleText } = await import('../scripts/rbac.js');
  for (const e of EXAMPLES)
    t.is(await readFile(new URL(`../${e.file}`, import.meta.url), 'utf8'), exampleText(e), e.file);
});

test("policy --kubernetes prints a cluster's RBAC manifest with every rule's reason", async (t) => {
  const yaml = (await import('js-yaml')).default;
  const s = await sandbox(t);
  const { code, stdout, stderr } = await cli(['policy', '-c', 'fleet.yaml', '--kubernetes', '--cluster', 'bj-prod-1'], {
    cwd: s.dir,
  });
  t.is(code, 0, stderr);
  t.is(stderr, '');
  const docs = yaml.loadAll(stdout) as {
    kind: string;
    rules?: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
  }[];
  t.deepEqual(
    docs.map((d) => d.kind),
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'],
  );
  t.deepEqual(
    docs[1]?.rules?.map(
      (r) => `${r.verbs.join(',')} ${r.resources.join(',')}${r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''}`,
    ),
    [
      'list namespaces',
      'list,get,update,delete secrets [acr-credential-fleet]',
      'create secrets',
      'list serviceaccounts',
      'get,patch serviceaccounts',
    ],
    'serviceAccount "*" leaves get/patch unrestricted',
  );
  const lines = stdout.split('\n');
  const rules = lines.flatMap((l, i) => (l.startsWith('  - apiGroups') ? [lines[i - 1] ?? ''] : []));
  t.is(rules.length, 5);
  t.true(
    rules.every((l) => l.startsWith('  # ')),
    'every rule is preceded by its reason',
  );
  t.regex(stdout, /^# cluster bj-prod-1: what acr-fleet register applies there \(from fleet\.yaml\)\.$/m);
  t.regex(stdout, /^ {2}# .*RBAC cannot limit create by name/m);
  const unknown = await cli(['policy', '-c', 'fleet.yaml', '--kubernetes', '--cluster', 'nope'], { cwd: s.dir });
  t.deepEqual(unknown, {
    code: 2,
    stdout: '',
    stderr: 'acr-fleet policy: --cluster: no cluster named nope in fleet.yaml\n',
  });
});

/** A fleet.yaml of `n` clusters made with `cluster(i)`. */
function bigFleet(n: number, cluster: (i: number) => string): string {
  const clusters = Array.from({ length: n }, (_, i) => `  - ${cluster(i)}`).join('\n');
  return `regionId: cn-hangzhou\nregistries:\n  - {name: prod, instanceId: cri-prod0123456789, regionId: cn-beijing}\n  - {name: pe}\nclusters:\n${clusters}\n`;
}

for (const [n, chars] of [
  [100, 666],
  [1_000, 849],
  [10_000, 849],
] as const) {
  test(`the policy of ${n} clusters with kubeconfigs under acr-fleet/ fits RAM's 6,144 characters (${chars})`, async (t) => {
    const { parseFleet } = await import('../src/config/load.js');
    const { policyOutput } = await import('../src/policy/print.js');
    const fleet = parseFleet(
      bigFleet(n, (i) => `{name: c-${i}, kubeconfig: {kmsSecret: acr-fleet/c-${i}}}`),
      { file: 'fleet.yaml', env: {} },
    );
    const out = policyOutput(fleet, { accountId: '111111111111' });
    if ('error' in out) return t.fail(out.error);
    t.is(out.stdout.length, chars);
    t.true(out.stdout.length <= 6144);
    t.regex(out.stdout, /"acs:kms:cn-hangzhou:111111111111:secret\/acr-fleet\/\*"/);
  });
}

test('policy fails with one line and exit 1 when the fleet cannot fit one RAM policy document', async (t) => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = (await import('node:path')).default;
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-policy-'));
  const id = (i: number) => `c${i.toString(16).padStart(31, '0')}`;
  await writeFile(
    path.join(dir, 'fleet.yaml'),
    bigFleet(200, (i) => `{name: c-${i}, kubeconfig: {ackClusterId: ${id(i)}}}`),
  );
  const r = await cli(['policy', '-c', 'fleet.yaml', '--account-id', '111111111111'], { cwd: dir });
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.is(
    r.stderr,
    "acr-fleet policy: the RAM policy would be 17417 characters, more than RAM's limit of 6144 for one policy document (cs:DescribeClusterUserKubeconfig: 200 resources)\n",
  );
});

test("a settings: configmap cluster's policy lists the instances fleet.yaml allows its ConfigMap, never a wildcard", async (t) => {
  const { parseFleet } = await import('../src/config/load.js');
  const { functionPolicy } = await import('../src/policy/ram.js');
  const fleet = parseFleet(
    `regionId: cn-hangzhou\nregistries:\n  - {name: prod, instanceId: cri-prod01, regionId: cn-beijing}\n  - {name: other, instanceId: cri-other}\n  - {name: partner, instanceId: cri-partner, assumeRoleARN: "acs:ram::2222:role/acr-pull"}\nclusters:\n  - {name: legacy, kubeconfig: {kmsSecret: acr-fleet/legacy}, settings: configmap, configmap: {registries: [prod, partner]}}\n`,
    { file: 'fleet.yaml', env: {} },
  );
  const { policy } = functionPolicy(fleet, ACCOUNT);
  t.deepEqual(policy.Statement, [
    {
      Effect: 'Allow',
      Action: ['cr:GetAuthorizationToken'],
      Resource: [`acs:cr:cn-beijing:${ACCOUNT}:repository/cri-prod01`],
    },
    {
      Effect: 'Allow',
      Action: ['cr:ListInstanceEndpoint'],
      Resource: [`acs:cr:cn-beijing:${ACCOUNT}:instance/cri-prod01`],
    },
    {
      Effect: 'Allow',
      Action: ['kms:GetSecretValue'],
      Resource: [`acs:kms:cn-hangzhou:${ACCOUNT}:secret/acr-fleet/legacy`],
    },
    { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: ['acs:ram::2222:role/acr-pull'] },
  ]);
});

test("the README's RAM policy is exactly what policy prints for the example fleet", async (t) => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const block =
    /npx acr-fleet policy --config examples\/fleet\.yaml --account-id 111111111111\n```\n\n```json\n([\s\S]*?)```/.exec(
      readme,
    );
  t.truthy(block, 'the README shows the command and its output');
  const r = await cli(['policy', '-c', 'examples/fleet.yaml', '--account-id', '111111111111'], {
    cwd: new URL('..', import.meta.url).pathname,
  });
  t.is(r.code, 0, r.stderr);
  t.is(block?.[1], r.stdout);
});

test('KMS secrets stay named one by one while the document fits RAM, a pattern only past it', async (t) => {
  const { parseFleet } = await import('../src/config/load.js');
  const { functionPolicy } = await import('../src/policy/ram.js');
  const kms = (n: number) =>
    functionPolicy(
      parseFleet(
        bigFleet(n, (i) => `{name: c-${i}, kubeconfig: {kmsSecret: acr-fleet/c-${i}}}`),
        { file: 'fleet.yaml', env: {} },
      ),
      '111111111111',
    ).policy.Statement.find((s) => s.Action[0] === 'kms:GetSecretValue')?.Resource;
  t.is(kms(20)?.length, 20);
  t.true(kms(20)?.includes('acs:kms:cn-hangzhou:111111111111:secret/acr-fleet/c-7'));
  t.deepEqual(kms(100), ['acs:kms:cn-hangzhou:111111111111:secret/acr-fleet/*']);
});

test('the ROS template gives the webhook a second role, trusted by FC only, holding only the policy --webhook prints', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const yaml = (await import('js-yaml')).default;
  const tpl = yaml.load(await readFile(new URL('../infra/ros/acr-fleet.yaml', import.meta.url), 'utf8')) as {
    Parameters: Record<string, { Type: string }>;
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    Outputs: Record<string, { Value: unknown }>;
  };
  const role = tpl.Resources.WebhookRole;
  t.is(role?.Type, 'ALIYUN::RAM::Role');
  t.deepEqual(role?.Properties.AssumeRolePolicyDocument, {
    Version: '1',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
  });
  t.is(tpl.Parameters.WebhookPolicyDocument?.Type, 'Json');
  t.deepEqual(
    (role?.Properties.Policies as { PolicyDocument: unknown }[]).map((p) => p.PolicyDocument),
    [{ Ref: 'WebhookPolicyDocument' }],
    'the generated webhook policy and nothing else',
  );
  t.deepEqual(tpl.Outputs.WebhookRoleArn?.Value, { 'Fn::GetAtt': ['WebhookRole', 'Arn'] });
});
