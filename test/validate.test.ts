/**
 * Issue 17: `validate` checks fleet.yaml in one pass (structure, cross references, values as the services
 * that receive them check them), with suggestions, warnings that do not fail, and one JSON document.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { checkFleet } from '../src/config/load.js';
import { cli } from './support/cli.js';

const REGISTRIES = `registries:\n  - {name: prod, instanceId: cri-abc, regionId: cn-beijing}\n  - {name: pe}\n`;

/** Every problem of a fleet text, as `validate` prints it (warnings marked). */
function problems(text: string, checkFiles = false, dir = '/etc/acr'): string[] {
  return checkFleet(text, { file: 'fleet.yaml', path: path.join(dir, 'fleet.yaml'), env: {}, checkFiles })
    .problems.map((p) => `${p.path}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`)
    .sort();
}

const CASES: [string, string, string[]][] = [
  [
    'a structural error does not hide a duplicate name or an unknown registry',
    `regionId: cn-hangzhou\nconcurrency: 0\n${REGISTRIES}  - {name: prod}\nclusters:\n  - {name: a, kubeconfig: {kmsSecret: acr-fleet/a}, registries: [prd]}\n  - {name: a, kubeconfig: {path: x}}\n`,
    [
      'clusters[0].registries[0]: unknown registry "prd" (defined: prod, pe); did you mean "prod"?',
      'clusters[1].kubeconfig: expected one of file, kmsSecret, ackClusterId',
      'clusters[1].name: duplicate cluster name "a"',
      'concurrency: must be at least 1',
      'registries[2].name: duplicate registry name "prod"',
    ],
  ],
  [
    "the add-on's kebab-case keys, with the fleet.yaml key to use",
    `regionId: cn-hangzhou\ndefaults: {watch-namespace: all, service-account: default}\n${REGISTRIES}clusters:\n  - {name: a, kubeconfig: {kmsSecret: acr-fleet/a}, expiring-threshold: 15m, webhook: {enable: true}}\n`,
    [
      'clusters[0].expiring-threshold: unknown key; did you mean expiringThreshold?',
      'clusters[0].webhook.enable: unknown key; did you mean enabled?',
      'defaults.service-account: unknown key; did you mean serviceAccount?',
      'defaults.watch-namespace: unknown key; did you mean watchNamespace?',
    ],
  ],
  [
    'values the receiving service would refuse',
    `regionId: "cn hangzhou"\nkubernetes: {requestTimeout: 0s, retryBudget: 0ms}\n` +
      `registries:\n  - {name: prod, instanceId: cri-abc, regionId: "evil.example:443/?", domains: "https://registry.example.com,bücher.example.com"}\n` +
      `  - {name: ak, accessKey: {kmsSecret: "acr fleet/ak"}}\n` +
      `clusters:\n  - {name: a, kubeconfig: {kmsSecret: "acr-fleet/a#1"}, watchNamespace: "apps,Team_A", serviceAccount: "web,Builder"}\n` +
      `  - {name: b, kubeconfig: {ackClusterId: c0123, regionId: CN-X}, excludeNamespaces: [kube-system, "-x"], secretName: "a..b"}\n`,
    [
      'clusters[0].kubeconfig.kmsSecret: expected a KMS secret name: 1 to 192 letters, digits and _/+=.@-',
      'clusters[0].serviceAccount: "Builder" is not a ServiceAccount name (DNS-1123 subdomain: lowercase letters, digits, "-" and ".")',
      'clusters[0].watchNamespace: "Team_A" is not a namespace name (DNS-1123 label: lowercase letters, digits and "-", at most 63 characters)',
      'clusters[1].excludeNamespaces: "-x" is not a namespace name (DNS-1123 label: lowercase letters, digits and "-", at most 63 characters)',
      'clusters[1].kubeconfig.regionId: expected a region id such as cn-hangzhou',
      'clusters[1].secretName: expected a lowercase name (letters, digits, "-" and ".")',
      'kubernetes.requestTimeout: must be greater than 0',
      'kubernetes.retryBudget: must be greater than 0',
      'regionId: expected a region id such as cn-hangzhou',
      'registries[0].domains: "https://registry.example.com" is not a valid domain: a registry domain such as registry.cn-hangzhou.aliyuncs.com (ASCII hostname, no scheme, path or port)',
      'registries[0].regionId: expected a region id such as cn-hangzhou',
      'registries[1].accessKey.kmsSecret: expected a KMS secret name: 1 to 192 letters, digits and _/+=.@-',
    ],
  ],
  [
    'a threshold at or above the shortest token lifetime, as a warning with the reason',
    `regionId: cn-hangzhou\ndefaults: {expiringThreshold: 1h}\nregistries:\n  - {name: prod, instanceId: cri-abc}\n  - {name: partner, instanceId: cri-p, assumeRoleARN: "acs:ram::2:role/r", expireDuration: 900}\n` +
      `clusters:\n  - {name: a, kubeconfig: {kmsSecret: acr-fleet/a}, registries: [prod]}\n  - {name: b, kubeconfig: {kmsSecret: acr-fleet/b}, registries: [partner], expiringThreshold: 20m}\n`,
    [
      'clusters[1].expiringThreshold: warning: 20m is not below the shortest token lifetime (15m, registry partner): every run would rewrite every Secret',
      'defaults.expiringThreshold: warning: 1h is not below the shortest token lifetime (1h, registry prod): every run would rewrite every Secret',
    ],
  ],
  [
    'configmap allowances that name unknown registries or apply to nothing',
    `regionId: cn-hangzhou\n${REGISTRIES}clusters:\n  - {name: a, kubeconfig: {kmsSecret: acr-fleet/a}, settings: configmap, configmap: {registries: [pe, prodd]}}\n  - {name: b, kubeconfig: {kmsSecret: acr-fleet/b}, configmap: {registries: [pe]}}\n`,
    [
      'clusters[0].configmap.registries[1]: unknown registry "prodd" (defined: prod, pe); did you mean "prod"?',
      'clusters[1].configmap: applies only with settings: configmap',
    ],
  ],
];

for (const [what, text, expected] of CASES) {
  test(`validate reports ${what}`, (t) => {
    t.deepEqual(problems(text), [...expected].sort());
  });
}

test('a warning alone leaves the file valid', (t) => {
  const text = `regionId: cn-hangzhou\ndefaults: {expiringThreshold: 2h}\n${REGISTRIES}clusters: [{name: a, kubeconfig: {kmsSecret: acr-fleet/a}}]\n`;
  const { fleet, problems: found } = checkFleet(text, { file: 'fleet.yaml', env: {} });
  t.is(found.length, 1);
  t.is(found[0]?.severity, 'warning');
  t.truthy(fleet);
});

test('validate checks that the files fleet.yaml names exist, relative to it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-validate-'));
  await writeFile(path.join(dir, 'here.yaml'), 'apiVersion: v1\n');
  const text = `regionId: cn-hangzhou\nwebhook: {url: "https://hook.example.com", caFile: ca.pem}\n${REGISTRIES}clusters:\n  - {name: a, kubeconfig: {file: here.yaml}}\n  - {name: b, kubeconfig: {file: ./kubeconfigs/gone.yaml}}\n`;
  t.deepEqual(problems(text, true, dir), [
    'clusters[1].kubeconfig.file: file not found: ./kubeconfigs/gone.yaml',
    'webhook.caFile: file not found: ca.pem',
  ]);
});

test('validate --json prints exactly one JSON document on stdout, also for a missing file or a YAML error', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-validate-'));
  await writeFile(path.join(dir, 'broken.yaml'), 'regionId: a\nregionId: b\n');
  await writeFile(
    path.join(dir, 'warn.yaml'),
    `regionId: cn-hangzhou\ndefaults: {expiringThreshold: 1h}\n${REGISTRIES}clusters: [{name: a, kubeconfig: {kmsSecret: acr-fleet/a}}]\n`,
  );
  const run = (file: string) => cli(['validate', '-c', file, '--json'], { cwd: dir });
  t.deepEqual(await run('missing.yaml'), {
    code: 2,
    stdout: `${JSON.stringify({ valid: false, problems: [{ file: 'missing.yaml', path: '', message: 'file not found', severity: 'error' }] })}\n`,
    stderr: '',
  });
  t.deepEqual(await run('broken.yaml'), {
    code: 2,
    stdout: `${JSON.stringify({
      valid: false,
      problems: [
        {
          file: 'broken.yaml',
          path: '',
          message: 'line 2, column 1: invalid YAML: duplicated mapping key',
          severity: 'error',
        },
      ],
    })}\n`,
    stderr: '',
  });
  const warned = await run('warn.yaml');
  t.is(warned.code, 0);
  t.is(warned.stderr, '');
  t.deepEqual(JSON.parse(warned.stdout), {
    valid: true,
    problems: [
      {
        file: 'warn.yaml',
        path: 'defaults.expiringThreshold',
        message:
          '1h is not below the shortest token lifetime (1h, registry prod): every run would rewrite every Secret',
        severity: 'warning',
      },
    ],
  });
  // Text mode: the warning on stderr, in the file: key.path: message style, and the file is valid.
  t.deepEqual(await cli(['validate', '-c', 'warn.yaml'], { cwd: dir }), {
    code: 0,
    stdout: 'warn.yaml: valid (2 registries, 1 clusters)\n',
    stderr:
      'warn.yaml: defaults.expiringThreshold: warning: 1h is not below the shortest token lifetime (1h, registry prod): every run would rewrite every Secret\n',
  });
});

test('a settings: configmap cluster allowed no registry is a warning naming the key to set', (t) => {
  t.deepEqual(
    problems(
      `regionId: cn-hangzhou\n${REGISTRIES}clusters: [{name: a, kubeconfig: {kmsSecret: acr-fleet/a}, settings: configmap}]\n`,
    ),
    [
      'clusters[0].configmap.registries: warning: none allowed: every registry its ConfigMap names will be refused (list the registries it may pick)',
    ],
  );
});

test('register can write what a cluster gets and what its ConfigMap may pick, and the result validates', async (t) => {
  const { upsertCluster } = await import('../src/config/edit.js');
  const { parseFleet } = await import('../src/config/load.js');
  const text = upsertCluster(
    `regionId: cn-hangzhou\n${REGISTRIES}clusters:\n  - {name: a, kubeconfig: {kmsSecret: acr-fleet/a}}\n`,
    {
      name: 'legacy',
      kmsSecret: 'acr-fleet/legacy',
      settings: 'configmap',
      configmapRegistries: ['prod', 'pe'],
    },
  );
  const fleet = parseFleet(text, { file: 'fleet.yaml', env: {} });
  t.deepEqual(fleet.clusters.find((c) => c.name === 'legacy')?.configmapRegistries, ['prod', 'pe']);
  const pinned = parseFleet(upsertCluster(text, { name: 'a', kmsSecret: 'acr-fleet/a', registries: ['pe'] }), {
    file: 'fleet.yaml',
    env: {},
  });
  t.deepEqual(pinned.clusters.find((c) => c.name === 'a')?.registries, ['pe']);
});

test('a longer STS session lengthens the token lifetime the threshold is compared with', (t) => {
  t.deepEqual(
    problems(
      `regionId: cn-hangzhou\nregistries: [{name: partner, instanceId: cri-p, assumeRoleARN: "acs:ram::2:role/r", expireDuration: 7200}]\nclusters: [{name: a, kubeconfig: {kmsSecret: acr-fleet/a}, expiringThreshold: 1h}]\n`,
    ),
    [],
  );
});
