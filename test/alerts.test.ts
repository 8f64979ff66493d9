/**
 * The alerts template (infra/ros/acr-fleet-alerts.yaml), checked the way test/deploy.test.ts checks
 * s.yaml: every property is one ROS documents for ALIYUN::SLS::Alert (help.aliyun.com ROS reference
 * "ALIYUN::SLS::Alert", and @alicloud/ros-cdk-sls RosAlert.*Property for which are required), every
 * parameter referenced exists, and every query reads log fields the function really writes.
 */
import { readFile } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import * as z from 'zod';
import { handler } from '../src/entry/fc.js';
import { ACCOUNT, sandbox } from './support/sandbox.js';
import { FLEET_SA_GROUPS, FLEET_SA_USER, kmsKubeconfigName } from './support/fleet.js';
import { logLines } from './support/parse.js';

type Json = unknown;
interface Template {
  Parameters: Record<string, { Type: string; Default?: unknown }>;
  Resources: Record<string, { Type: string; Properties: Record<string, Json> }>;
  Outputs: Record<string, unknown>;
}

const load = async () =>
  yaml.load(await readFile(new URL('../infra/ros/acr-fleet-alerts.yaml', import.meta.url), 'utf8')) as Template;

// --- the documented shape of ALIYUN::SLS::Alert ---------------------------------------------------
const tag = z.strictObject({ Key: z.string().min(1), Value: z.string() });
const severity = z.union([z.literal(2), z.literal(4), z.literal(6), z.literal(8), z.literal(10)]);
const query = z.strictObject({
  Query: z.string().min(1),
  LogStore: z.string().optional(),
  Start: z.string().regex(/^-\d+[smhd]$/),
  End: z.string(),
  TimeSpanType: z.enum(['Relative', 'Custom', 'Truncated']),
  PowerSqlMode: z.string().optional(),
  Store: z.string().optional(),
  DashboardId: z.string().optional(),
  RoleArn: z.string().optional(),
  StoreType: z.enum(['log', 'metric', 'meta']).optional(),
  Project: z.string().optional(),
  Region: z.string().optional(),
  ChartTitle: z.string().optional(),
});
const configuration = z.strictObject({
  Throttling: z.string().optional(),
  Condition: z.string().optional(),
  AutoAnnotation: z.boolean().optional(),
  SeverityConfigurations: z
    .array(
      z.strictObject({
        Severity: severity,
        EvalCondition: z
          .strictObject({ Condition: z.string().optional(), CountCondition: z.string().optional() })
          .optional(),
      }),
    )
    .optional(),
  NoDataFire: z.boolean().optional(),
  NotificationList: z.array(z.unknown()).optional(),
  NotifyThreshold: z.number().int().optional(),
  MuteUntil: z.number().int().optional(),
  Dashboard: z.string().min(1),
  Labels: z.array(tag).optional(),
  GroupConfiguration: z
    .strictObject({ Type: z.enum(['no_group', 'labels_auto', 'custom']), Fields: z.array(z.string()).optional() })
    .optional(),
  NoDataSeverity: severity.optional(),
  Type: z.string().optional(),
  Annotations: z.array(tag).optional(),
  Version: z.string().optional(),
  JoinConfigurations: z.array(z.strictObject({ Type: z.string(), Condition: z.string().optional() })).optional(),
  PolicyConfiguration: z
    .strictObject({
      AlertPolicyId: z.string().optional(),
      ActionPolicyId: z.string().optional(),
      UseDefault: z.boolean().optional(),
      RepeatInterval: z
        .string()
        .regex(/^\d+[smh]$/)
        .optional(),
    })
    .optional(),
  QueryList: z.array(query).min(1),
  SendResolved: z.boolean().optional(),
  Threshold: z.number().int().min(1).optional(),
});
const alertProperties = z.strictObject({
  Project: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/),
  Detail: z.strictObject({
    Type: z.string().optional(),
    Description: z.string().optional(),
    Configuration: configuration,
    // As the ROS reference spells them (the SLS API itself says Enabled).
    State: z.enum(['Enable', 'Disabled']).optional(),
    Schedule: z.strictObject({
      DayOfWeek: z.number().int().optional(),
      Type: z.enum(['FixedRate', 'Cron', 'Hourly', 'Daily', 'Weekly']),
      RunImmediately: z.boolean().optional(),
      Hour: z.number().int().optional(),
      CronExpression: z.string().optional(),
      Delay: z.number().int().optional(),
      Interval: z
        .string()
        .regex(/^\d+[smhd]$/)
        .optional(),
    }),
    DisplayName: z.string().min(1).max(64),
    Name: z.string().min(1),
  }),
});

// --- a small ROS evaluator: Ref, Fn::Sub, Fn::Str, Fn::Calculate ------------------------------------
type Params = Record<string, string | number>;

function resolve(node: Json, params: Params): Json {
  if (Array.isArray(node)) return node.map((n) => resolve(n, params));
  if (!node || typeof node !== 'object') return node;
  const entries = Object.entries(node);
  const [fn, arg] = entries[0] ?? [];
  if (entries.length === 1 && fn === 'Ref') return param(params, arg as string);
  if (entries.length === 1 && fn === 'Fn::Str') return String(resolve(arg, params));
  if (entries.length === 1 && fn === 'Fn::Calculate') {
    const [expr, , numbers] = resolve(arg, params) as [string, number, number[]];
    return calculate(expr.replace(/\{(\d+)\}/g, (_m, i: string) => String(numbers[Number(i)])));
  }
  if (entries.length === 1 && fn === 'Fn::Sub') {
    const [text, vars] = (Array.isArray(arg) ? resolve(arg, params) : [arg, {}]) as [string, Params];
    return text.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => String(vars[name] ?? param(params, name)));
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, params)]));
}

function param(params: Params, name: string): string | number {
  const v = params[name];
  if (v === undefined) throw new Error(`undeclared or unset parameter ${name}`);
  return v;
}

/** Integer arithmetic (+ - * / %, parentheses) as Fn::Calculate does it on integers. */
function calculate(expr: string): number {
  const tokens = expr.match(/\d+|[-+*/%()]/g) ?? [];
  if (tokens.join('') !== expr.replace(/\s+/g, '')) throw new Error(`Fn::Calculate: cannot read ${expr}`);
  let i = 0;
  const primary = (): number => {
    const t = tokens[i++];
    if (t === '(') {
      const v = sum();
      i++;
      return v;
    }
    return Number(t);
  };
  const product = (): number => {
    let v = primary();
    while (tokens[i] === '*' || tokens[i] === '/' || tokens[i] === '%') {
      const op = tokens[i++];
      const r = primary();
      v = op === '*' ? v * r : op === '/' ? Math.trunc(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[i] === '+' || tokens[i] === '-') v = tokens[i++] === '+' ? v + product() : v - product();
    return v;
  };
  return sum();
}

const GIVEN = { LogProject: 'aliyun-fc-cn-hangzhou-0123', LogStore: 'function-log', ActionPolicyId: 'platform-oncall' };

/** Parameter values as a stack would get them: defaults, overridden by what is given. */
function stackParams(t: Template, given: Params = GIVEN): Params {
  return {
    ...Object.fromEntries(
      Object.entries(t.Parameters).flatMap(([k, p]) =>
        p.Default === undefined ? [] : [[k, p.Default as string | number]],
      ),
    ),
    ...given,
  };
}

interface Alert {
  Project: string;
  Detail: z.infer<typeof alertProperties>['Detail'];
}
const alerts = (t: Template, params: Params = stackParams(t)) =>
  Object.fromEntries(Object.entries(t.Resources).map(([name, r]) => [name, resolve(r.Properties, params) as Alert]));

// --- tests ---------------------------------------------------------------------------------------

test('the alerts template holds the four alerts, each an ALIYUN::SLS::Alert with only documented properties', async (t) => {
  const template = await load();
  t.deepEqual(Object.keys(template.Resources), ['ClusterFailing', 'TokenFailing', 'RunMissing', 'CredentialExpiring']);
  for (const [name, r] of Object.entries(template.Resources)) t.is(r.Type, 'ALIYUN::SLS::Alert', name);
  for (const [name, props] of Object.entries(alerts(template))) {
    const parsed = alertProperties.safeParse(props);
    t.true(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
  }
});

const BROKEN: [string, (a: Alert) => void][] = [
  ['an invented property', (a) => ((a.Detail as Record<string, unknown>).Severity = 8)],
  ['a missing Dashboard', (a) => delete (a.Detail.Configuration as Record<string, unknown>).Dashboard],
  [
    'a query without a time span type',
    (a) => delete (a.Detail.Configuration.QueryList[0] as Record<string, unknown>).TimeSpanType,
  ],
  ['a severity SLS does not have', (a) => (a.Detail.Configuration.SeverityConfigurations![0]!.Severity = 5 as never)],
  ['a display name over 64 characters', (a) => (a.Detail.DisplayName = 'x'.repeat(65))],
];
for (const [what, mutate] of BROKEN) {
  test(`the alert check catches ${what}`, async (t) => {
    const alert = alerts(await load()).ClusterFailing!;
    mutate(alert);
    t.false(alertProperties.safeParse(alert).success);
  });
}

test('every parameter referenced is declared, every declared one is used, and only the project, logstore and action policy are required', async (t) => {
  const template = await load();
  const referenced = new Set<string>();
  const walk = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'Ref' && typeof v === 'string') referenced.add(v);
      // Fn::Sub names parameters as ${Name}, except the variables it declares itself.
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(v) ? (v as [string, Record<string, Json>]) : [v as string, {}];
        for (const m of text.matchAll(/\$\{(\w+)\}/g)) if (!(m[1]! in vars)) referenced.add(m[1]!);
      }
      walk(v);
    }
  };
  walk(template.Resources);
  t.deepEqual([...referenced].sort(), Object.keys(template.Parameters).sort());
  t.deepEqual(
    Object.entries(template.Parameters)
      .filter(([, p]) => p.Default === undefined)
      .map(([k]) => k)
      .sort(),
    ['ActionPolicyId', 'LogProject', 'LogStore'],
  );
  t.throws(() => alerts(template, stackParams(template, { LogProject: 'p', LogStore: 's' })), {
    message: 'undeclared or unset parameter ActionPolicyId',
  });
});

test('every alert notifies through the configured action policy, again after the repeat interval', async (t) => {
  const template = await load();
  for (const [name, a] of Object.entries(
    alerts(template, stackParams(template, { ...GIVEN, RepeatInterval: '30m' })),
  )) {
    t.deepEqual(
      a.Detail.Configuration.PolicyConfiguration,
      {
        AlertPolicyId: 'sls.builtin.dynamic',
        ActionPolicyId: 'platform-oncall',
        RepeatInterval: '30m',
        UseDefault: false,
      },
      name,
    );
    t.is(a.Project, GIVEN.LogProject);
    t.is(a.Detail.Configuration.QueryList[0]?.Store, GIVEN.LogStore);
  }
});

test('alert windows follow the schedule: N runs for a failing cluster, two periods for a missed run', async (t) => {
  const template = await load();
  const start = (a: Alert) => a.Detail.Configuration.QueryList[0]?.Start;
  const byDefault = alerts(template);
  t.is(start(byDefault.ClusterFailing!), '-20m', '(3 runs + 1) × 5 minutes');
  t.is(start(byDefault.RunMissing!), '-10m');
  t.is(start(byDefault.TokenFailing!), '-5m');
  for (const a of Object.values(byDefault)) t.is(a.Detail.Schedule.Interval, '5m');
  const hourly = alerts(template, stackParams(template, { ...GIVEN, ScheduleMinutes: 60, ConsecutiveFailures: 2 }));
  t.is(start(hourly.ClusterFailing!), '-180m');
  t.is(start(hourly.RunMissing!), '-120m');
  t.regex(
    hourly.ClusterFailing!.Detail.Configuration.QueryList[0]?.Query ?? '',
    /where rn <= 2 and status = 'failed' group by cluster having count\(\*\) >= 2$/,
  );
  // The default period is the function's default timer in s.yaml.
  t.regex(
    await readFile(new URL('../s.yaml', import.meta.url), 'utf8'),
    /schedule: \$\{env\('ACR_FLEET_SCHEDULE', '@every 5m'\)\}/,
  );
  t.is(template.Parameters.ScheduleMinutes?.Default, 5);
});

/** Fields of each log event, as the deployed function writes them (events other helpers add: by contract). */
async function loggedFields(t: ExecutionContext): Promise<Map<string, Set<string>>> {
  const s = await sandbox(t, { kubeconfigs: 'kms', functionConfig: true });
  const fields = new Map<string, Set<string>>();
  await s.cluster('bj-prod-1').kube.close(); // a failing cluster, so its error field is logged too
  // A registry whose token fails (token-failed) and a cluster credential 10 days from expiry (credential-expiry).
  s.cloud.injectError({
    action: 'GetAuthorizationToken',
    status: 403,
    code: 'NoPermission',
    message: 'denied',
    times: 100,
  });
  const dev = s.cluster('hz-dev-1');
  const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const expiring = `${b64url({ alg: 'RS256' })}.${b64url({ sub: FLEET_SA_USER, exp: Math.floor(Date.now() / 1000) + 10 * 86_400 })}.c2ln`;
  dev.kube.addToken(expiring, { name: FLEET_SA_USER, groups: FLEET_SA_GROUPS });
  s.cloud.putKmsSecret({
    accountId: ACCOUNT,
    region: 'cn-hangzhou',
    name: kmsKubeconfigName('hz-dev-1'),
    data: dev.kube.kubeconfig({ token: expiring, contextName: dev.name }),
  });
  await handler(Buffer.from('{}'), { credentials: s.cloud.roleSession(s.functionRole) }, (line) => {
    const [o] = logLines([line]);
    if (typeof o?.event === 'string')
      for (const k of Object.keys(o)) (fields.get(o.event) ?? fields.set(o.event, new Set()).get(o.event)!).add(k);
  });
  return fields;
}

test('every query reads only events and fields the function logs, and selects what its conditions, groups and annotations use', async (t) => {
  const logged = await loggedFields(t);
  t.true(logged.get('cluster')?.has('error'), 'a failed cluster logs its error');
  const expected: Record<string, string> = {
    ClusterFailing: 'cluster',
    TokenFailing: 'token-failed',
    RunMissing: 'summary',
    CredentialExpiring: 'credential-expiry',
  };
  for (const [name, a] of Object.entries(alerts(await load()))) {
    const c = a.Detail.Configuration;
    const q = c.QueryList[0]?.Query ?? '';
    const events = [...q.matchAll(/json_extract_scalar\(message, '\$\.event'\) = '([\w-]+)'/g)].map((m) => m[1]);
    t.deepEqual(events, [expected[name]], `${name} reads event ${expected[name]}`);
    const fields = logged.get(events[0] ?? '');
    for (const m of q.matchAll(/'\$\.(\w+)'/g))
      t.true(fields?.has(m[1] ?? ''), `${name}: ${m[1]} is logged with event ${events[0]}`);
    t.regex(q, /^functionName: "acr-fleet" \| select /, `${name} reads the function's own logs`);

    const columns = new Set(
      [...q.matchAll(/ as (\w+)/g)].map((m) => m[1]).filter((col) => !['t', 'rn'].includes(col ?? '')),
    );
    // In the failing-cluster query the outer select keeps `cluster` by name.
    if (name === 'ClusterFailing') columns.add('cluster');
    const used = [
      ...(c.SeverityConfigurations ?? []).flatMap((s) =>
        [...(s.EvalCondition?.Condition ?? '').matchAll(/([a-z_]+) [<>=]/g)].map((m) => m[1]),
      ),
      ...(c.GroupConfiguration?.Fields ?? []),
      ...(c.Annotations ?? []).flatMap((x) => [...x.Value.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1])),
    ];
    t.true(used.length > 0);
    for (const u of used) t.true(columns.has(u), `${name}: ${u} is selected (${[...columns].join(', ')})`);
  }
});

test('expiry severity: critical once expired, medium within the warning window', async (t) => {
  const template = await load();
  const sev = alerts(template, stackParams(template, { ...GIVEN, ExpiryWarningDays: 14 })).CredentialExpiring!.Detail
    .Configuration.SeverityConfigurations;
  t.deepEqual(sev, [
    { Severity: 10, EvalCondition: { Condition: 'days_left <= 0', CountCondition: '' } },
    { Severity: 6, EvalCondition: { Condition: 'days_left <= 14', CountCondition: '' } },
  ]);
});
