/**
 * Migration from the add-on: its acr-configuration ConfigMap, including the examples of its public
 * documentation, read as the add-on reads it, by `validate --configmap` and by `settings: configmap`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { sandbox, type Sandbox } from './support/sandbox.js';
import { readReport } from './support/parse.js';
import { cli } from './support/cli.js';
import { loginDomains, pullSecrets, SECRET } from './support/assert.js';

/** Writes `data` as a ConfigMap manifest, the way `kubectl get cm -o yaml` shows it. */
async function configMapFile(dir: string, data: Record<string, string>): Promise<string> {
  const file = path.join(dir, `cm-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'acr-configuration', namespace: 'kube-system' },
      data,
    }),
  );
  return path.basename(file);
}

// The documented examples, verbatim where a ConfigMap can hold them (data values are strings).
const VALID: [string, Record<string, string>, string][] = [
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
    'cm: valid (1 registries: cri-instanceId@cn-hangzhou)',
  ],
  [
    'the cross-region example',
    {
      'service-account': 'default',
      'watch-namespace': 'all',
      'expiring-threshold': '15m',
      'acr-registry-info':
        '- instanceId: "cri-instanceId"\n  regionId: "cn-beijing"\n- instanceId: "cri-instanceId"\n  regionId: "cn-hangzhou"            \n',
    },
    'cm: valid (2 registries: cri-instanceId@cn-beijing, cri-instanceId@cn-hangzhou)',
  ],
  [
    'the Enterprise and Personal Edition side by side example',
    {
      'service-account': 'default',
      'watch-namespace': 'all',
      'expiring-threshold': '15m',
      'notify-email': 'cs@aliyuncs.com',
      'acr-registry-info': '- instanceId: ""\n- instanceId: "cri-xxxx"\n',
    },
    'cm: valid (2 registries: personal@cn-shanghai, cri-xxxx@cn-shanghai)',
  ],
  [
    'the cross-account AssumeRole example',
    {
      'service-account': 'default',
      'watch-namespace': 'all',
      'expiring-threshold': '15m',
      'acr-registry-info':
        '- instanceId: ""\n  regionId: "cn-beijing"\n  domains: "registry.cn-beijing.aliyuncs.com"\n  assumeRoleARN: "acs:ram::.*:role/kubernetesworkerrole-test"\n  expireDuration: 3600\n',
    },
    'cm: valid (1 registries: personal@cn-beijing)',
  ],
  [
    'a ConfigMap with only the API version, as the oldest example',
    { 'acr-api-version': '2018-12-01' },
    'cm: valid (1 registries: personal@cn-shanghai)',
  ],
  [
    'the webhook-configuration example',
    {
      'service-account': 'default',
      'watch-namespace': 'all',
      'webhook-configuration': 'enable: true\nfailure-policy: Ignore\ntimeout-seconds: 10\n',
    },
    'cm: valid (1 registries: personal@cn-shanghai)',
  ],
];

for (const [what, data, expected] of VALID) {
  test(`validate --configmap accepts ${what}`, async (t) => {
    const s = await sandbox(t);
    const file = await configMapFile(s.dir, data);
    const r = await cli(['validate', '--configmap', file], {
      cwd: s.dir,
      env: { ALIBABA_CLOUD_REGION_ID: 'cn-shanghai' },
    });
    t.is(r.stdout, `${expected.replace('cm', file)}\n`);
    t.is(r.code, 0);
  });
}

const INVALID: [string, Record<string, string>, string[]][] = [
  [
    'the AccessKey example verbatim (its comments are not YAML)',
    {
      'acr-registry-info':
        '- instanceId: ""\n  customAccessKey: "xxxxx" // Enter the AccessKey ID of the created RAM user. \n  customAccessKeySecret: "xxxxxx" // Enter the AccessKey secret of the created RAM user. \n',
    },
    ['data.acr-registry-info: invalid YAML at line 2: bad indentation of a mapping entry'],
  ],
  [
    'inline AccessKeys, which are reported and never used',
    {
      'acr-registry-info':
        '- instanceId: ""\n  customAccessKey: "LTAIexample"\n  customAccessKeySecret: "never-printed-secret"\n',
    },
    [
      'data.acr-registry-info[0].customAccessKey: inline AccessKeys are not used; register this instance in fleet.yaml with accessKey: { kmsSecret: NAME }',
      'data.acr-registry-info[0].customAccessKeySecret: inline AccessKeys are not used; register this instance in fleet.yaml with accessKey: { kmsSecret: NAME }',
    ],
  ],
  [
    'the documented domains list that is not YAML',
    { 'acr-registry-info': '- instanceId: "cri-xxx"\n  regionId: "cn-hangzhou"\n  domains: "xxx.com","yyy.com"\n' },
    ['data.acr-registry-info: invalid YAML at line 3: bad indentation of a mapping entry'],
  ],
  [
    'the mis-indented Personal Edition example',
    { 'acr-registry-info': '- instanceId: ""\n    regionId: "cn-hangzhou"' },
    ['data.acr-registry-info: invalid YAML at line 2: bad indentation of a mapping entry'],
  ],
  [
    'RRSA fields without rrsa enabled, unknown keys and a bad threshold',
    {
      'expiring-threshold': '15 minutes',
      'acr-registry': 'registry.*.aliyuncs.com',
      'acr-registry-info':
        '- instanceId: cri-a\n  rrsaRoleARN: acs:ram::1:role/r\n  rrsaOIDCProviderRoleARN: acs:ram::1:oidc-provider/p\n  region: cn-hangzhou\n',
    },
    [
      "data.acr-registry: the add-on's pre-2020 key is not supported; list instances in acr-registry-info",
      'data.expiring-threshold: expected a duration such as 15m, 1h or 90s',
      'data.acr-registry-info[0].region: unknown key',
      'data.acr-registry-info[0].rrsaRoleARN: RRSA fields need rrsa: "enable: true"',
    ],
  ],
  [
    'webhook-configuration values the add-on does not accept',
    { 'webhook-configuration': 'enable: yes-please\nfailure-policy: Block\ntimeout-seconds: 60\nport: 8443\n' },
    [
      'data.webhook-configuration.enable: expected true or false',
      'data.webhook-configuration.failure-policy: expected Ignore or Fail',
      'data.webhook-configuration.timeout-seconds: expected whole seconds from 1 to 30',
      'data.webhook-configuration.port: unknown key',
    ],
  ],
];

for (const [what, data, expected] of INVALID) {
  test(`validate --configmap explains ${what}`, async (t) => {
    const s = await sandbox(t);
    const file = await configMapFile(s.dir, data);
    const r = await cli(['validate', '--configmap', file], { cwd: s.dir });
    t.is(r.code, 2);
    t.deepEqual(r.stderr.trim().split('\n').sort(), expected.map((e) => `${file}: ${e}`).sort());
    t.false(r.stderr.includes('never-printed-secret') || r.stderr.includes('LTAIexample'));
  });
}

/** Switches hz-dev-1 to `settings: configmap` and grants the RBAC rendered for that. */
async function migrate(
  s: Sandbox,
  data: Record<string, string> | undefined,
  allowed: string[] = ['acme-ee', 'hz-personal'],
): Promise<void> {
  const kube = s.cluster('hz-dev-1').kube;
  kube.seed('namespaces', { metadata: { name: 'apps' } });
  kube.seed('serviceaccounts', { metadata: { namespace: 'apps', name: 'default' } });
  kube.seed('serviceaccounts', { metadata: { namespace: 'apps', name: 'web' } });
  if (data) kube.seed('configmaps', { metadata: { namespace: 'kube-system', name: 'acr-configuration' }, data });
  await s.editConfig((d) => {
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === 'hz-dev-1')!;
    delete c.registries;
    c.settings = 'configmap';
    // Issue 15: the ConfigMap picks among what fleet.yaml allows this cluster.
    c.configmap = { registries: allowed };
  });
  await s.grantRbac();
}

test('a migrated cluster is refreshed with its ConfigMap settings and registries, each token shared with the fleet', async (t) => {
  const s = await sandbox(t);
  await migrate(s, {
    'watch-namespace': 'apps',
    'service-account': 'default,web',
    'expiring-threshold': '15m',
    'acr-api-version': '2018-12-01',
    'acr-registry-info': '- instanceId: "cri-prod01"\n  regionId: "cn-beijing"\n- instanceId: ""\n',
  });
  const { code, stdout } = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  t.is(code, 0, stdout);
  const kube = s.cluster('hz-dev-1').kube;
  t.is(loginDomains(s.cloud, kube, 'apps').length, 5, 'EE of cn-beijing and PE of the cluster region (cn-hangzhou)');
  t.is(kube.get('secrets', 'default', SECRET), undefined, 'the ConfigMap replaced watchNamespace');
  t.deepEqual(pullSecrets(kube, 'apps', 'web'), [SECRET]);
  t.is(s.cloud.tokens.length, 2, "the migrated registries reuse the fleet registries' tokens");
});

test('a migrated cluster without the ConfigMap fails alone, saying so', async (t) => {
  const s = await sandbox(t);
  await migrate(s, undefined);
  const { code, stdout } = await cli(['refresh', '--config', 'fleet.yaml', '--json'], { cwd: s.dir, env: s.env });
  t.is(code, 1);
  const clusters = readReport(stdout).clusters;
  t.is(
    clusters.find((c) => c.name === 'hz-dev-1')?.error,
    'cluster hz-dev-1: kube-system/acr-configuration: not found (the cluster is set to settings: configmap)',
  );
  t.true(clusters.filter((c) => c.name !== 'hz-dev-1').every((c) => c.status === 'ok'));
});

test('validate --configmap --cluster names each entry fleet.yaml does not allow that cluster, and exits 2', async (t) => {
  const s = await sandbox(t);
  await s.editConfig((d) => {
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === 'hz-dev-1')!;
    c.settings = 'configmap';
    c.configmap = { registries: ['hz-personal'] };
  });
  const file = await configMapFile(s.dir, {
    'acr-registry-info': '- instanceId: ""\n- instanceId: "cri-prod01"\n  regionId: "cn-beijing"\n',
  });
  const refused = await cli(['validate', '-c', 'fleet.yaml', '--configmap', file, '--cluster', 'hz-dev-1'], {
    cwd: s.dir,
  });
  t.deepEqual(refused, {
    code: 2,
    stdout: '',
    stderr: `${file}: cluster hz-dev-1: ConfigMap acr-registry-info[1]: instance cri-prod01 is not allowed for this cluster\n`,
  });
  await s.editConfig((d) => {
    const c = (d.clusters as Record<string, unknown>[]).find((x) => x.name === 'hz-dev-1')!;
    c.configmap = { registries: ['hz-personal', 'acme-ee'] };
  });
  const allowed = await cli(['validate', '-c', 'fleet.yaml', '--configmap', file, '--cluster', 'hz-dev-1'], {
    cwd: s.dir,
  });
  t.deepEqual(allowed, {
    code: 0,
    stdout: `${file}: valid for cluster hz-dev-1 (2 registries: hz-personal, acme-ee)\n`,
    stderr: '',
  });
});
