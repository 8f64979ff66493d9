/**
 * Issue 15: a cluster owner's ConfigMap only narrows what fleet.yaml allows that cluster. Each hostile
 * entry is refused with its one line and yields no registry (so no token is fetched for it); the add-on's
 * documented ConfigMaps keep working once the operator allows their registries.
 */
import test from 'ava';
import { configMapContext, parseAcrConfiguration } from '../src/config/configmap.js';
import { parseFleet } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';

const FLEET = `
regionId: cn-hangzhou
registries:
  - {name: prod, instanceId: cri-instanceId, regionId: cn-hangzhou}
  - {name: prod-bj, instanceId: cri-instanceId, regionId: cn-beijing}
  - {name: pe, instanceId: ""}
  - {name: pe-bj, instanceId: "", regionId: cn-beijing}
  - {name: partner, instanceId: cri-partner, regionId: cn-beijing, assumeRoleARN: "acs:ram::2222:role/acr-pull", expireDuration: 900}
  - {name: other-tenant, instanceId: cri-othertenant, regionId: cn-hangzhou}
  - {name: pinned, instanceId: cri-pinned, domains: "pinned-registry.cn-hangzhou.cr.aliyuncs.com"}
clusters:
  - name: legacy
    kubeconfig: {kmsSecret: acr-fleet/legacy}
    settings: configmap
    configmap: {registries: [prod, prod-bj, pe, partner, pinned]}
  - name: tenant-b
    kubeconfig: {kmsSecret: acr-fleet/tenant-b}
    registries: [other-tenant]
  - name: bare
    kubeconfig: {kmsSecret: acr-fleet/bare}
    settings: configmap
`;
const fleet = parseFleet(FLEET, { file: 'fleet.yaml', env: {} });
const ctx = (name = 'legacy') =>
  configMapContext(
    fleet.clusters.find((c) => c.name === name)!,
    fleet,
  );
const parse = (data: Record<string, string>, name?: string) => parseAcrConfiguration(data, 'cm', ctx(name));

const DOCUMENTED: [string, Record<string, string>, string[]][] = [
  [
    'the same-account Enterprise Edition example',
    {
      'service-account': 'default',
      'watch-namespace': 'all',
      'expiring-threshold': '15m',
      'notify-email': 'c*@aliyuncs.com',
      'acr-registry-info':
        '- instanceId: "cri-instanceId"\n  regionId: "cn-hangzhou"\n  domains: "instance.default.domain.com,instance.custom.domain.com"\n',
    },
    ['prod'],
  ],
  [
    'the cross-region example',
    {
      'acr-registry-info':
        '- instanceId: "cri-instanceId"\n  regionId: "cn-beijing"\n- instanceId: "cri-instanceId"\n  regionId: "cn-hangzhou"            \n',
    },
    ['prod-bj', 'prod'],
  ],
  [
    'the Enterprise and Personal Edition side by side example',
    { 'acr-registry-info': '- instanceId: ""\n- instanceId: "cri-instanceId"\n' },
    ['pe', 'prod'],
  ],
  [
    'a ConfigMap with only the API version (the Personal Edition of the region)',
    { 'acr-api-version': '2018-12-01' },
    ['pe'],
  ],
  [
    'a cross-account entry naming the role fleet.yaml gives that instance',
    {
      'acr-registry-info':
        '- instanceId: cri-partner\n  regionId: cn-beijing\n  assumeRoleARN: "acs:ram::2222:role/acr-pull"\n  expireDuration: 3600\n',
    },
    ['partner'],
  ],
];

for (const [what, data, expected] of DOCUMENTED) {
  test(`an allowed ConfigMap keeps working: ${what}`, (t) => {
    const r = parse(data);
    t.deepEqual(r.refused, []);
    t.deepEqual(
      r.registries.map((x) => x.name),
      expected,
    );
    // fleet.yaml's own registries: role, region and domains never come from the ConfigMap.
    for (const reg of r.registries) t.true(fleet.registries.includes(reg), reg.name);
  });
}

const HOSTILE: [string, string, string][] = [
  [
    "another tenant's instance",
    '- instanceId: cri-othertenant\n  regionId: cn-hangzhou\n',
    'ConfigMap acr-registry-info[0]: instance cri-othertenant is not allowed for this cluster',
  ],
  [
    'an allowed instance in a region fleet.yaml does not give it',
    '- instanceId: cri-partner\n  regionId: cn-shanghai\n  assumeRoleARN: "acs:ram::2222:role/acr-pull"\n',
    'ConfigMap acr-registry-info[0]: instance cri-partner in region cn-shanghai is not allowed for this cluster',
  ],
  [
    'a region that injects a host',
    '- instanceId: cri-instanceId\n  regionId: "evil.example:443/?"\n',
    'ConfigMap acr-registry-info[0]: instance cri-instanceId in a region that is not a region id is not allowed for this cluster',
  ],
  [
    "a partner account's role fleet.yaml gave to another registry",
    '- instanceId: cri-instanceId\n  assumeRoleARN: "acs:ram::9999:role/admin"\n',
    'ConfigMap acr-registry-info[0]: role acs:ram::9999:role/admin for instance cri-instanceId is not allowed for this cluster',
  ],
  [
    'a domain fleet.yaml does not list for the instance',
    '- instanceId: cri-pinned\n  domains: "pinned-registry.cn-hangzhou.cr.aliyuncs.com,evil.example.com"\n',
    'ConfigMap acr-registry-info[0]: domain "evil.example.com" of instance cri-pinned is not allowed for this cluster',
  ],
  [
    'a foreign domain for the Personal Edition registry',
    '- instanceId: ""\n  domains: "registry.cn-hangzhou.aliyuncs.com,evil.example.com"\n',
    'ConfigMap acr-registry-info[0]: domain "evil.example.com" of the Personal Edition registry is not allowed for this cluster',
  ],
  [
    'a Personal Edition registry of a region not allowed',
    '- instanceId: ""\n  regionId: cn-beijing\n',
    'ConfigMap acr-registry-info[0]: the Personal Edition registry in region cn-beijing is not allowed for this cluster',
  ],
];

for (const [what, info, message] of HOSTILE) {
  test(`a ConfigMap entry naming ${what} is refused, and nothing is fetched for it`, (t) => {
    const r = parse({ 'acr-registry-info': `- instanceId: cri-instanceId\n${info}` });
    t.deepEqual(
      r.refused,
      [message.replace('acr-registry-info[0]', 'acr-registry-info[1]')],
      'refused, named with its index',
    );
    t.deepEqual(
      r.registries.map((x) => x.name),
      ['prod'],
      'the allowed entry beside it still works',
    );
  });
}

test('a cluster fleet.yaml allows no ConfigMap registry gets none, whatever its ConfigMap says', (t) => {
  const r = parse({ 'acr-registry-info': '- instanceId: cri-instanceId\n- instanceId: ""\n' }, 'bare');
  t.deepEqual(r.registries, []);
  t.deepEqual(r.refused, [
    'ConfigMap acr-registry-info[0]: instance cri-instanceId is not allowed for this cluster',
    'ConfigMap acr-registry-info[1]: the Personal Edition registry is not allowed for this cluster',
  ]);
  t.deepEqual(parse({}, 'bare').refused, [
    'ConfigMap acr-registry-info: the Personal Edition registry is not allowed for this cluster',
  ]);
});

test('a context without an allowance (a caller not yet narrowing) refuses everything', (t) => {
  const { allowed: _allowed, ...rest } = ctx();
  const r = parseAcrConfiguration({ 'acr-registry-info': '- instanceId: cri-instanceId\n' }, 'cm', rest);
  t.deepEqual(r.registries, []);
  t.is(r.refused.length, 1);
});

test('expiring-threshold is clamped below the token lifetime of the registries it picks', (t) => {
  const r = parse({
    'expiring-threshold': '20m',
    'acr-registry-info': '- instanceId: cri-partner\n  regionId: cn-beijing\n- instanceId: cri-instanceId\n',
  });
  t.is(r.settings.expiringThresholdMs, 7.5 * 60_000);
  t.deepEqual(r.warnings, ['ConfigMap expiring-threshold: 20m is not below the token lifetime (15m); 7.5m used']);
  t.is(parse({ 'expiring-threshold': '15m' }).settings.expiringThresholdMs, 15 * 60_000);
});

test('a ConfigMap past the caps is refused whole, before anything is parsed', (t) => {
  const many = Array.from({ length: 51 }, () => '- instanceId: cri-instanceId\n').join('');
  const err = t.throws(() => parse({ 'acr-registry-info': many }), { instanceOf: ConfigError });
  t.is(err?.message, 'cm: data.acr-registry-info: 51 entries, more than the 50 acr-fleet reads');
  const big = t.throws(() => parse({ 'notify-email': 'x'.repeat(300 * 1024) }), { instanceOf: ConfigError });
  t.is(big?.message, 'cm: data: 307212 bytes, more than the 262144 acr-fleet reads');
});

test('a ConfigMap entry naming an RRSA role fleet.yaml did not give is refused', (t) => {
  const r = parseAcrConfiguration(
    {
      rrsa: 'enable: true',
      'acr-registry-info':
        '- instanceId: cri-instanceId\n  rrsaRoleARN: "acs:ram::1:role/r"\n  rrsaOIDCProviderRoleARN: "acs:ram::1:oidc-provider/p"\n',
    },
    'cm',
    { ...ctx(), oidcTokenFile: '/var/run/token' },
  );
  t.deepEqual(r.registries, []);
  t.deepEqual(r.refused, [
    'ConfigMap acr-registry-info[0]: RRSA role acs:ram::1:role/r for instance cri-instanceId is not allowed for this cluster',
  ]);
});
