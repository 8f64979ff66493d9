/**
 * The deploy file and the deployable code: s.yaml must satisfy the fc3 component's documented rules
 * (devsapp/fc3 src/schema.json: required props, runtime, memory, timeout, timer trigger config) plus a
 * handler that exists in the build output and a cron FC accepts; the bundle must run the refresh.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import yaml from 'js-yaml';
import * as z from 'zod';
import { buildFunction } from '../scripts/build.js';
import { renderNetworks } from '../scripts/networks.js';
import { parseFleet } from '../src/config/load.js';
import { sandbox } from './support/sandbox.js';

const REGIONS = [
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-south-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-5',
  'ap-southeast-7',
  'cn-beijing',
  'cn-chengdu',
  'cn-hangzhou',
  'cn-hongkong',
  'cn-huhehaote',
  'cn-qingdao',
  'cn-shanghai',
  'cn-shenzhen',
  'cn-zhangjiakou',
  'eu-central-1',
  'eu-west-1',
  'us-east-1',
  'us-west-1',
] as const;

/** FC timer cron: six fields with seconds, or @every with a unit of m or h. */
function validCron(expr: string): boolean {
  if (/^@every \d+[mh](\d+m)?$/.test(expr)) return true;
  const fields = expr.trim().split(/\s+/);
  const field = /^(\*|\?|[0-9A-Z]+([-/,][0-9A-Z*]+)*|\*\/\d+)$/i;
  return fields.length === 6 && fields.every((f) => field.test(f));
}

/** The subset of the fc3 props schema acr-fleet uses, with its documented bounds. */
const props = z.strictObject({
  region: z.enum(REGIONS),
  functionName: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/),
  description: z.string().optional(),
  runtime: z.literal('nodejs20'),
  code: z.string().min(1),
  handler: z.string().regex(/^[^.]+\.[A-Za-z_$][\w$]*$/),
  memorySize: z.number().int().multipleOf(64).min(128).max(32768),
  timeout: z.number().int().min(1).max(86400),
  role: z.string().regex(/^acs:ram::\d+:role\/.+$/),
  internetAccess: z.boolean().optional(),
  logConfig: z.union([z.literal('auto'), z.object({ project: z.string(), logstore: z.string() })]),
  environmentVariables: z.record(z.string(), z.string()).optional(),
  // devsapp/fc3 src/schema.json IAsyncInvokeConfig (bounds as there); when present, a failure destination is required here.
  asyncInvokeConfig: z
    .strictObject({
      maxAsyncEventAgeInSeconds: z.number().int().min(1).max(2592000),
      maxAsyncRetryAttempts: z.number().int().min(0).max(8),
      destinationConfig: z.strictObject({
        onFailure: z.strictObject({
          destination: z.string().regex(/^acs:(mns|fc|eventbridge|rocketmq):[a-z0-9-]+:\d+:.+$/),
        }),
        onSuccess: z.strictObject({ destination: z.string() }).optional(),
      }),
    })
    .optional(), // the timer function (shard dispatch) must have it: asserted in the first test
  vpcConfig: z
    .union([
      z.literal('auto'),
      z.object({
        vpcId: z.string(),
        vSwitchIds: z.union([z.array(z.string()), z.literal('auto')]),
        securityGroupId: z.string(),
      }),
    ])
    .optional(),
  triggers: z
    .array(
      z.union([
        z.strictObject({
          triggerName: z.string().min(1),
          triggerType: z.literal('timer'),
          description: z.string().optional(),
          triggerConfig: z.strictObject({
            cronExpression: z.string().refine(validCron, 'not a cron FC accepts'),
            enable: z.boolean(),
            payload: z.string().optional(),
          }),
        }),
        z.strictObject({
          triggerName: z.string().min(1),
          triggerType: z.literal('http'),
          description: z.string().optional(),
          triggerConfig: z.strictObject({
            authType: z.enum(['anonymous', 'function', 'jwt']),
            methods: z.array(z.enum(['HEAD', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])).min(1),
            disableURLInternet: z.boolean().optional(),
          }),
        }),
      ]),
    )
    .min(1),
});

/** Resolves serverless-devs' `${env('NAME', 'default')}` and `${vars.x}` as `s` does. */
function resolve(doc: unknown, env: Record<string, string>, vars: Record<string, unknown> = {}): unknown {
  if (typeof doc === 'string') {
    return doc.replace(
      /\$\{\s*env\('([^']+)'(?:\s*,\s*'([^']*)')?\)\s*\}|\$\{\s*vars\.([\w]+)\s*\}/g,
      (_m, name?: string, def?: string, v?: string) => {
        if (v) return String(vars[v]);
        const value = env[name ?? ''] ?? def;
        if (value === undefined) throw new Error(`env('${name}') not found`);
        return value;
      },
    );
  }
  if (Array.isArray(doc)) return doc.map((d) => resolve(d, env, vars));
  if (doc && typeof doc === 'object')
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, resolve(v, env, vars)]));
  return doc;
}

const ENV = {
  ACR_FLEET_ROLE_ARN: 'acs:ram::123456789012:role/acr-fleet-function',
  ACR_FLEET_WEBHOOK_ROLE_ARN: 'acs:ram::123456789012:role/acr-fleet-webhook',
  ACR_FLEET_FAILURE_DESTINATION: 'acs:mns:cn-hangzhou:123456789012:/queues/acr-fleet-failures/messages',
};

async function resolvedProps(
  mutate?: (doc: { resources: Record<string, { props: Record<string, unknown> }> }) => void,
  resource = 'acr-fleet',
) {
  const doc = yaml.load(await readFile(new URL('../s.yaml', import.meta.url), 'utf8')) as {
    edition: string;
    vars: Record<string, unknown>;
    resources: Record<string, { component: string; props: Record<string, unknown> }>;
  };
  mutate?.(doc);
  const vars = resolve(doc.vars, ENV) as Record<string, unknown>;
  return { doc, props: resolve(doc.resources[resource]?.props, ENV, vars) as Record<string, unknown> };
}

test('s.yaml satisfies the fc3 component rules with only the documented variables set', async (t) => {
  const { doc, props: p } = await resolvedProps();
  t.is(doc.edition, '3.0.0');
  t.is(doc.resources['acr-fleet']?.component, 'fc3');
  const parsed = props.safeParse(p);
  t.true(parsed.success, JSON.stringify(parsed.error?.issues));
  t.like(p, { runtime: 'nodejs20', handler: 'index.handler', code: './dist' });
  // A shard event older than one tick is superseded by the next tick's.
  t.like(p, {
    asyncInvokeConfig: {
      maxAsyncEventAgeInSeconds: 300,
      maxAsyncRetryAttempts: 1,
      destinationConfig: { onFailure: { destination: ENV.ACR_FLEET_FAILURE_DESTINATION } },
    },
  });
});

test('a failure destination for shard invocations is required: s.yaml names the variable that is missing', async (t) => {
  const doc = yaml.load(await readFile(new URL('../s.yaml', import.meta.url), 'utf8')) as { vars: unknown };
  t.throws(
    () =>
      resolve(doc.vars, {
        ACR_FLEET_ROLE_ARN: ENV.ACR_FLEET_ROLE_ARN,
        ACR_FLEET_WEBHOOK_ROLE_ARN: ENV.ACR_FLEET_WEBHOOK_ROLE_ARN,
      }),
    {
      message: "env('ACR_FLEET_FAILURE_DESTINATION') not found",
    },
  );
});

test('the webhook function in s.yaml satisfies the fc3 rules: same code, handler index.webhook, a POST-only HTTP trigger', async (t) => {
  const { doc, props: p } = await resolvedProps(undefined, 'acr-fleet-webhook');
  t.is(doc.resources['acr-fleet-webhook']?.component, 'fc3');
  const parsed = props.safeParse(p);
  t.true(parsed.success, JSON.stringify(parsed.error?.issues));
  t.like(p, { runtime: 'nodejs20', handler: 'index.webhook', code: './dist', functionName: 'acr-fleet-webhook' });
  t.is(p.role, ENV.ACR_FLEET_WEBHOOK_ROLE_ARN, "issue 15: the webhook runs as its own role, not the timer's");
  t.deepEqual(
    (p.triggers as { triggerType: string; triggerConfig: unknown }[]).map((x) => [x.triggerType, x.triggerConfig]),
    [['http', { authType: 'anonymous', methods: ['POST'], disableURLInternet: false }]],
  );
});

test('a role is required: s.yaml names the variable that is missing', async (t) => {
  const doc = yaml.load(await readFile(new URL('../s.yaml', import.meta.url), 'utf8')) as { vars: unknown };
  t.throws(() => resolve(doc.vars, {}), { message: "env('ACR_FLEET_ROLE_ARN') not found" });
});

const BROKEN: [string, (p: Record<string, unknown>) => void][] = [
  ['a missing handler', (p) => delete p.handler],
  ['another runtime', (p) => (p.runtime = 'nodejs18')],
  ['memory that is not a multiple of 64', (p) => (p.memorySize = 500)],
  [
    'a five-field cron',
    (p) =>
      ((p.triggers as Record<string, Record<string, unknown>>[])[0]!.triggerConfig!.cronExpression = '*/5 * * * *'),
  ],
  [
    'a timer without enable',
    (p) => delete (p.triggers as Record<string, Record<string, unknown>>[])[0]!.triggerConfig!.enable,
  ],
  [
    "async retries past fc3's maximum of 8",
    (p) => ((p.asyncInvokeConfig as Record<string, unknown>).maxAsyncRetryAttempts = 9),
  ],
  [
    'async invocations without a failure destination',
    (p) => delete (p.asyncInvokeConfig as Record<string, unknown>).destinationConfig,
  ],
];
for (const [what, mutate] of BROKEN) {
  test(`the deploy-file check catches ${what}`, async (t) => {
    const { props: p } = await resolvedProps((d) => mutate(d.resources['acr-fleet']!.props));
    t.false(props.safeParse(p).success);
  });
}

test('timer crons are checked as FC reads them', (t) => {
  for (const ok of ['@every 5m', '@every 1h', '0 */5 * * * *', '0 0 8 * * *']) t.true(validCron(ok), ok);
  for (const bad of ['@every 5', '*/5 * * * *', 'every 5 minutes', '']) t.false(validCron(bad), bad);
});

test('the build bundles one ES module whose handler (s.yaml handler index.handler) refreshes the fleet', async (t) => {
  const s = await sandbox(t, { kubeconfigs: 'kms' });
  t.teardown(() => void delete process.env.FC_FUNC_CODE_PATH);
  const out = await mkdtemp(path.join(tmpdir(), 'acr-fleet-dist-'));
  const result = await buildFunction(out, s.configFile);
  const { props: p } = await resolvedProps();
  const [file, exported] = String(p.handler).split('.');
  t.is(path.join(out, `${file}.mjs`), result.bundle, 'the handler file exists in the build output');
  t.is(
    await readFile(path.join(out, 'fleet.yaml'), 'utf8'),
    await readFile(s.configFile, 'utf8'),
    'the config ships beside the code',
  );
  const mod = (await import(pathToFileURL(result.bundle).href)) as Record<string, unknown>;
  const handler = mod[exported ?? ''] as (
    e: Buffer,
    c: unknown,
    w: (l: string) => void,
  ) => Promise<{ summary: { ok: number; failed: number } }>;
  t.is(typeof handler, 'function');
  process.env.FC_FUNC_CODE_PATH = out;
  const report = await handler(
    Buffer.from('{"triggerName":"refresh","payload":"{}"}'),
    { credentials: s.cloud.roleSession(s.functionRole) },
    () => {},
  );
  t.deepEqual(report.summary, { clusters: 3, ok: 3, failed: 0 } as never);
  const hook = mod.webhook as (
    e: Buffer,
    c: unknown,
    w: (l: string) => void,
  ) => Promise<{ statusCode: number; isBase64Encoded: boolean }>;
  const event = {
    version: 'v1',
    rawPath: '/clusters/hz-prod-1/guess',
    body: '{}',
    isBase64Encoded: false,
    headers: {},
    queryParameters: {},
    requestContext: { http: { method: 'POST', path: '/clusters/hz-prod-1/guess' } },
  };
  t.like(
    await hook(Buffer.from(JSON.stringify(event)), { credentials: s.cloud.roleSession(s.functionRole) }, () => {}),
    { statusCode: 401, isBase64Encoded: false },
    'the bundle also exports the webhook handler (index.webhook)',
  );
});

test("s.yaml's documented deploy command sets every variable without a default, and every documented invoke names its function", async (t) => {
  const text = await readFile(new URL('../s.yaml', import.meta.url), 'utf8');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const required = [...text.matchAll(/\$\{env\('([A-Z_]+)'\)\}/g)].map((m) => m[1]);
  const header = text
    .split('\n')
    .filter((l) => l.startsWith('#'))
    .join('\n');
  const deploy = /^#\s+npm ci && ([\s\S]*?)npx s deploy/m.exec(header)?.[1] ?? '';
  const set = [...deploy.matchAll(/([A-Z_]+)=/g)].map((m) => m[1]);
  t.deepEqual(
    required.filter((name) => !set.includes(name)),
    [],
    'the header deploy command sets each of them',
  );
  // Each required variable appears in the README's variable table.
  for (const name of required) t.regex(readme, new RegExp(`\\| \`${name}\` \\| required \\|`));
  const resources = Object.keys((yaml.load(text) as { resources: Record<string, unknown> }).resources);
  t.true(resources.length > 1);
  for (const doc of [header, readme]) {
    for (const m of doc.matchAll(/\bnpx s (?:([\w-]+) )?invoke\b/g)) {
      t.true(m[1] !== undefined && resources.includes(m[1]), `"${m[0]}" names one of ${resources.join(', ')}`);
    }
  }
});

/** serverless-devs 3's `extend:` (docs/zh/extend.md): the extended file deep-merged under the extending one, lists replaced. */
function extend(base: unknown, over: unknown): unknown {
  if (
    base &&
    over &&
    typeof base === 'object' &&
    typeof over === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(over)
  ) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over)) out[k] = extend(out[k], v);
    return out;
  }
  return over === undefined ? base : over;
}

test('s.networks.yaml (npm run networks) adds one function per network with clusters: fc3 rules, vpcConfig, same code and handler, no trigger', async (t) => {
  const text = await readFile(new URL('../s.yaml', import.meta.url), 'utf8');
  const net = (n: string, region = 'cn-hangzhou') => ({
    region,
    vpcId: `vpc-bp1${n}0000001`,
    vSwitchIds: [`vsw-bp1${n}0000001`, `vsw-bp1${n}0000002`],
    securityGroupId: `sg-bp1${n}0000001`,
  });
  const fleet = parseFleet(
    yaml.dump({
      regionId: 'cn-hangzhou',
      registries: [{ name: 'main', instanceId: 'cri-abc' }],
      networks: { 'vpc-a': net('a'), 'vpc-b': net('b', 'cn-shanghai'), unused: net('c') },
      clusters: [
        { name: 'pub', kubeconfig: { ackClusterId: 'c1' } },
        { name: 'a1', kubeconfig: { ackClusterId: 'c2' }, network: 'vpc-a' },
        { name: 'b1', kubeconfig: { ackClusterId: 'c3' }, network: 'vpc-b' },
      ],
    }),
    { file: 'fleet.yaml', env: {} },
  );
  const generated = renderNetworks(text, fleet);
  t.is(generated.extend, 's.yaml');
  const doc = extend(yaml.load(text), yaml.load(yaml.dump(generated))) as {
    vars: Record<string, unknown>;
    resources: Record<string, { component: string; props: Record<string, unknown> }>;
  };
  t.deepEqual(Object.keys(doc.resources), [
    'acr-fleet',
    'acr-fleet-webhook',
    'acr-fleet-net-vpc-a',
    'acr-fleet-net-vpc-b',
  ]);
  const vars = resolve(doc.vars, ENV) as Record<string, unknown>;
  const main = resolve(doc.resources['acr-fleet']?.props, ENV, vars) as Record<string, unknown>;
  const networkProps = props.omit({ triggers: true }).extend({
    vpcConfig: z.strictObject({
      vpcId: z.string().regex(/^vpc-/),
      vSwitchIds: z.array(z.string().regex(/^vsw-/)).min(1),
      securityGroupId: z.string().regex(/^sg-/),
    }),
  });
  for (const [name, network] of [
    ['vpc-a', net('a')],
    ['vpc-b', net('b', 'cn-shanghai')],
  ] as const) {
    const resource = doc.resources[`acr-fleet-net-${name}`];
    t.is(resource?.component, 'fc3');
    const p = resolve(resource?.props, ENV, vars) as Record<string, unknown>;
    const parsed = networkProps.safeParse(p);
    t.true(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
    t.like(p, {
      functionName: `acr-fleet-net-${name}`,
      region: network.region,
      vpcConfig: { vpcId: network.vpcId, vSwitchIds: network.vSwitchIds, securityGroupId: network.securityGroupId },
      code: main.code,
      handler: main.handler,
      runtime: main.runtime,
      role: main.role,
      timeout: main.timeout,
      environmentVariables: { NODE_ENV: 'production', ACR_FLEET_MAIN_REGION: 'cn-hangzhou' },
    });
    t.deepEqual(p.asyncInvokeConfig, main.asyncInvokeConfig);
    t.false('triggers' in p, 'no timer: the main function dispatches to it');
  }
  // Renamed with ACR_FLEET_FUNCTION_NAME, the network functions follow (the dispatcher derives their names the same way).
  const renamedEnv = { ...ENV, ACR_FLEET_FUNCTION_NAME: 'fleet-x' };
  const renamedVars = resolve(doc.vars, renamedEnv) as Record<string, unknown>;
  const renamed = resolve(doc.resources['acr-fleet-net-vpc-a']?.props, renamedEnv, renamedVars) as Record<
    string,
    unknown
  >;
  t.is(renamed.functionName, 'fleet-x-net-vpc-a');
});
