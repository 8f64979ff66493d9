import { readFile } from 'node:fs/promises';
import test from 'ava';
import { parseFleet } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { fleetJsonSchema } from '../scripts/schema.js';

const VALID = `
regionId: cn-hangzhou
registries:
  - name: prod
    instanceId: cri-abc
    regionId: cn-beijing
    domains: a.example.com, b.example.com
  - name: pe
clusters:
  - name: one
    kubeconfig: { file: ./k/one.yaml }
  - name: two
    kubeconfig: { file: /abs/two.yaml }
    registries: [pe]
    watchNamespace: all
    serviceAccount: "*"
    expiringThreshold: 1h30m
`;

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseFleet(text, { file: 'fleet.yaml', path: '/etc/acr/fleet.yaml', env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

test('a valid config resolves defaults, comma lists, editions and paths relative to the config file', (t) => {
  const fleet = parseFleet(VALID, { file: 'fleet.yaml', path: '/etc/acr/fleet.yaml', env: {} });
  t.deepEqual(fleet.registries, [
    {
      name: 'prod',
      edition: 'enterprise',
      instanceId: 'cri-abc',
      regionId: 'cn-beijing',
      domains: ['a.example.com', 'b.example.com'],
      credential: { base: { kind: 'default' } },
    },
    { name: 'pe', edition: 'personal', regionId: 'cn-hangzhou', credential: { base: { kind: 'default' } } },
  ]);
  const [one, two] = fleet.clusters;
  t.like(one, {
    kubeconfig: { kind: 'file', path: '/etc/acr/k/one.yaml', display: './k/one.yaml' },
    registries: ['prod', 'pe'],
    namespaces: { all: false, names: ['default'] },
    serviceAccounts: ['default'],
    expiringThresholdMs: 15 * 60_000,
    secretName: 'acr-credential-fleet',
  });
  t.like(two, {
    registries: ['pe'],
    namespaces: { all: true, exclude: ['kube-system', 'kube-public', 'kube-node-lease'] },
    serviceAccounts: '*',
    expiringThresholdMs: 90 * 60_000,
  });
  t.is(fleet.concurrency, 8);
});

test('the region falls back to FC_REGION when the config names none', (t) => {
  const fleet = parseFleet(VALID.replace('regionId: cn-hangzhou\n', ''), {
    file: 'fleet.yaml',
    env: { FC_REGION: 'cn-shanghai' },
  });
  t.is(fleet.registries[1]?.regionId, 'cn-shanghai');
});

const INVALID: [string, string, string[]][] = [
  [
    'an unknown kubeconfig source',
    `registries: [{name: r, regionId: cn-hangzhou}]\nclusters:\n  - {name: a, kubeconfig: {file: a}}\n  - {name: b, kubeconfig: {file: b}}\n  - {name: c, kubeconfig: {path: c}}\n`,
    ['fleet.yaml: clusters[2].kubeconfig: expected one of file, kmsSecret, ackClusterId'],
  ],
  [
    'unknown keys, at any depth',
    `regionId: cn-x\nregistrys: []\nregistries: [{name: r, instance: cri-a}]\nclusters: [{name: a, kubeconfig: {file: a}, watchNamespaces: all}]\n`,
    [
      'fleet.yaml: registries[0].instance: unknown key; did you mean instanceId?',
      'fleet.yaml: clusters[0].watchNamespaces: unknown key; did you mean watchNamespace?',
      'fleet.yaml: registrys: unknown key; did you mean registries?',
    ],
  ],
  [
    'duplicate names and unknown registry references',
    `regionId: cn-x\nregistries: [{name: r}, {name: r}]\nclusters: [{name: a, kubeconfig: {file: a}}, {name: a, kubeconfig: {file: b}, registries: [r, nope]}]\n`,
    [
      'fleet.yaml: registries[1].name: duplicate registry name "r"',
      'fleet.yaml: clusters[1].name: duplicate cluster name "a"',
      'fleet.yaml: clusters[1].registries[1]: unknown registry "nope" (defined: r)',
    ],
  ],
  [
    'wrong types and missing keys, all at once',
    `regionId: cn-x\nconcurrency: 0\nregistries: [{name: r, instanceId: abc}]\nclusters: [{kubeconfig: {file: 3}, expiringThreshold: 15 minutes, serviceAccount: 5}]\n`,
    [
      'fleet.yaml: concurrency: must be at least 1',
      'fleet.yaml: registries[0].instanceId: expected an Enterprise Edition instance id (cri-...) or "" for Personal Edition',
      'fleet.yaml: clusters[0].name: required',
      'fleet.yaml: clusters[0].kubeconfig.file: expected string, got number',
      'fleet.yaml: clusters[0].serviceAccount: expected a comma-separated string or a list of strings',
      'fleet.yaml: clusters[0].expiringThreshold: expected a duration such as 15m, 1h or 90s',
    ],
  ],
  ['an empty file', ``, ['fleet.yaml: the file is empty (expected a mapping with registries and clusters)']],
  [
    'a duplicated YAML key',
    `regionId: a\nregionId: b\n`,
    ['fleet.yaml: line 2, column 1: invalid YAML: duplicated mapping key'],
  ],
  [
    'no region anywhere',
    `registries: [{name: r}]\nclusters: [{name: a, kubeconfig: {file: a}}]\n`,
    [
      'fleet.yaml: registries[0].regionId: required: no top-level regionId, and neither FC_REGION nor ALIBABA_CLOUD_REGION_ID is set',
    ],
  ],
  [
    "the add-on's inline AccessKeys, with the KMS form to use instead",
    `regionId: cn-x\nregistries: [{name: r, customAccessKey: LTAIxxxx, customAccessKeySecret: s3cr3t-value}]\nclusters: [{name: a, kubeconfig: {file: a}}]\n`,
    [
      'fleet.yaml: registries[0].customAccessKey: AccessKeys are never accepted inline; store {"AccessKeyId","AccessKeySecret"} in KMS and use accessKey: { kmsSecret: NAME }',
      'fleet.yaml: registries[0].customAccessKeySecret: AccessKeys are never accepted inline; store {"AccessKeyId","AccessKeySecret"} in KMS and use accessKey: { kmsSecret: NAME }',
    ],
  ],
  [
    'credential keys that need each other or exclude each other',
    `regionId: cn-x\nregistries:\n  - {name: a, rrsaRoleARN: "acs:ram::1:role/r"}\n  - {name: b, externalId: abc, expireDuration: 100000}\n  - {name: c, assumeRoleARN: "arn:aws:iam::1:role/x"}\nclusters: [{name: a, kubeconfig: {file: a}}]\n`,
    [
      'fleet.yaml: registries[1].expireDuration: must be at most 43200',
      'fleet.yaml: registries[2].assumeRoleARN: expected a role ARN such as acs:ram::123456789012:role/acr-pull',
      // Issue 17: one pass, so the rules between keys are reported with the structural errors.
      'fleet.yaml: registries[0]: rrsaRoleARN and rrsaOIDCProviderRoleARN go together',
      'fleet.yaml: registries[1]: externalId and expireDuration need assumeRoleARN',
    ],
  ],
  [
    'RRSA without its provider, and role options without a role',
    `regionId: cn-x\nregistries:\n  - {name: a, rrsaRoleARN: "acs:ram::1:role/r"}\n  - {name: b, externalId: abc}\nclusters: [{name: a, kubeconfig: {file: a}}]\n`,
    [
      'fleet.yaml: registries[0]: rrsaRoleARN and rrsaOIDCProviderRoleARN go together',
      'fleet.yaml: registries[1]: externalId and expireDuration need assumeRoleARN',
    ],
  ],
  [
    'an endpoint that is not a URL',
    `regionId: cn-x\nendpoints: {cr: "cr.example.com"}\nregistries: [{name: r}]\nclusters: [{name: a, kubeconfig: {file: a}}]\n`,
    ['fleet.yaml: endpoints.cr: expected an http(s) URL such as https://cr.{region}.aliyuncs.com'],
  ],
  [
    'webhook settings out of range and a webhook URL that is not HTTPS',
    `regionId: cn-x\nwebhook: {url: "http://hook.example.com"}\ndefaults: {webhook: {enabled: true, failurePolicy: Block, timeoutSeconds: 60}}\nregistries: [{name: r}]\nclusters: [{name: a, kubeconfig: {file: a}, webhook: {enable: true}}]\n`,
    [
      "fleet.yaml: webhook.url: expected the HTTPS URL of the webhook function's HTTP trigger",
      'fleet.yaml: defaults.webhook.failurePolicy: expected Ignore or Fail',
      'fleet.yaml: defaults.webhook.timeoutSeconds: must be at most 30',
      'fleet.yaml: clusters[0].webhook.enable: unknown key; did you mean enabled?',
    ],
  ],
  [
    'a cluster with the webhook enabled but no webhook URL',
    `regionId: cn-x\nregistries: [{name: r}]\nclusters: [{name: a, kubeconfig: {file: a}}, {name: b, kubeconfig: {file: b}, webhook: {enabled: true}}]\n`,
    ['fleet.yaml: webhook.url: required when a cluster has webhook.enabled: true'],
  ],
];

test('webhook settings take the built-in defaults, then defaults, then the cluster; the key secret and CA resolve', (t) => {
  const text = `regionId: cn-hangzhou\nwebhook: {url: "https://hook.cn-hangzhou.fcapp.run/", caFile: ca.pem}\ndefaults: {webhook: {enabled: true, timeoutSeconds: 5}}\nregistries: [{name: r}]\nclusters:\n  - {name: a, kubeconfig: {file: a}}\n  - {name: b, kubeconfig: {file: b}, webhook: {enabled: false, failurePolicy: Fail}}\n`;
  const fleet = parseFleet(text, { file: 'fleet.yaml', path: '/etc/acr-fleet/fleet.yaml', env: {} });
  t.deepEqual(fleet.webhook, {
    url: 'https://hook.cn-hangzhou.fcapp.run',
    keySecret: 'acr-fleet/webhook-key',
    regionId: 'cn-hangzhou',
    caFile: '/etc/acr-fleet/ca.pem',
  });
  t.deepEqual(
    fleet.clusters.map((c) => c.webhook),
    [
      { enabled: true, failurePolicy: 'Ignore', timeoutSeconds: 5 },
      { enabled: false, failurePolicy: 'Fail', timeoutSeconds: 5 },
    ],
  );
});

for (const [what, text, expected] of INVALID) {
  test(`validation reports ${what} with file and key path`, (t) => {
    t.deepEqual(problems(text).sort(), [...expected].sort());
  });
}

test('the published JSON Schema is the one generated from the validator', async (t) => {
  const published: unknown = JSON.parse(
    await readFile(new URL('../schema/fleet.schema.json', import.meta.url), 'utf8'),
  );
  t.deepEqual(published, fleetJsonSchema());
});

test('the shipped example fleet.yaml is valid', async (t) => {
  const { loadFleet } = await import('../src/config/load.js');
  const fleet = await loadFleet({
    file: 'examples/fleet.yaml',
    path: new URL('../examples/fleet.yaml', import.meta.url).pathname,
    env: {},
  });
  t.deepEqual(
    fleet.clusters.map((c) => c.kubeconfig.kind),
    ['ack', 'kms', 'kms'],
  );
  t.is(
    fleet.registries.find((r) => r.name === 'partner')?.credential.assumeRole?.roleArn,
    'acs:ram::222222222222:role/acr-pull',
  );
});
