/**
 * A complete local fleet: one Alibaba Cloud emulator (EE instance in cn-beijing, Personal Edition in
 * cn-hangzhou) and three Kubernetes emulators, each granting acr-fleet only the RBAC `register` renders
 * from that cluster's settings (src/policy/rbac.ts). Writes kubeconfigs and a fleet.yaml into a fresh folder.
 * Used by the tests and by `npm start`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { AlibabaEmulator, type Credentials } from '../emulators/alibaba/index.js';
import { KubeEmulator, type KubeKind } from '../emulators/kube/index.js';
import { parseFleet } from '../../src/config/load.js';
import { rbacObjects, rbacSettingsOf } from '../../src/policy/rbac.js';

export const ACCOUNT = '1234567890123456';
export const EE_INSTANCE = 'cri-prod01';
/** The identity acr-fleet authenticates as in every sandbox cluster. */
export const FLEET_SA_USER = 'system:serviceaccount:kube-system:acr-fleet';

export interface SandboxCluster {
  name: string;
  kube: KubeEmulator;
  /** Bearer token of acr-fleet's identity in this cluster. */
  token: string;
  kubeconfigFile: string;
}

export interface Sandbox {
  dir: string;
  configFile: string;
  cloud: AlibabaEmulator;
  /** A RAM user allowed exactly what acr-fleet needs: for local runs (env credentials). */
  userCredentials: Credentials;
  /** The function's role ARN, for FC-style `context.credentials`. */
  functionRole: string;
  clusters: SandboxCluster[];
  cluster(name: string): SandboxCluster;
  /** Environment for a local CLI run against the sandbox. */
  env: Record<string, string>;
  /** Moves every cluster's kubeconfig into KMS (`acr-fleet/<name>`, cn-hangzhou) and points fleet.yaml at it. */
  kubeconfigsToKms(): Promise<void>;
  /** Rewrites fleet.yaml with a change applied to the parsed document. */
  editConfig(edit: (doc: Record<string, unknown>) => void): Promise<void>;
  /** Grants each cluster the RBAC rendered from its settings in the current fleet.yaml, as `register` would. */
  grantRbac(): Promise<void>;
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Lifetime of tokens the registries issue (default 3600 s). */
  tokenTtlSeconds?: number;
  /** Run each cluster's service account controller (a new namespace gets its `default` ServiceAccount). */
  serviceAccountController?: boolean;
}

/** Namespaces and ServiceAccounts of each sandbox cluster (the emulator creates no default ServiceAccount). */
const LAYOUT: Record<string, { namespaces: string[]; serviceAccounts: [string, string][] }> = {
  'hz-prod-1': {
    namespaces: ['team-a', 'team-b'],
    serviceAccounts: [
      ['default', 'default'],
      ['team-a', 'default'],
      ['team-a', 'builder'],
      ['team-b', 'default'],
      ['kube-system', 'default'],
    ],
  },
  'bj-prod-1': {
    namespaces: ['payments', 'search'],
    serviceAccounts: [
      ['payments', 'default'],
      ['payments', 'api'],
      ['search', 'default'],
      ['default', 'default'],
    ],
  },
  'hz-dev-1': { namespaces: [], serviceAccounts: [['default', 'default']] },
};

/** Runs `fn` with a fresh sandbox, closed afterwards whatever happens. */
export async function withSandbox(fn: (s: Sandbox) => Promise<void>, opts?: SandboxOptions): Promise<void> {
  const sandbox = await startSandbox(opts);
  try {
    await fn(sandbox);
  } finally {
    await sandbox.close();
  }
}

/** Starts the sandbox fleet. Call `close()` when done. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-sandbox-'));
  const cloud = await AlibabaEmulator.start({ regions: ['cn-hangzhou', 'cn-beijing'] });
  cloud.createAccount(ACCOUNT);
  const actions = [
    'cr:GetAuthorizationToken',
    'cr:ListInstanceEndpoint',
    'kms:GetSecretValue',
    'sts:AssumeRole',
    'cs:DescribeClusterUserKubeconfig',
  ];
  const userCredentials = cloud.addUser({ accountId: ACCOUNT, name: 'acr-fleet-local', actions });
  const functionRole = cloud.addRole({ accountId: ACCOUNT, name: 'acr-fleet-function', actions });
  const ttl = opts.tokenTtlSeconds ?? 3600;
  cloud.addEnterpriseInstance({
    accountId: ACCOUNT,
    instanceId: EE_INSTANCE,
    name: 'acme',
    region: 'cn-beijing',
    tokenTtlSeconds: ttl,
  });
  cloud.enablePersonalEdition({ accountId: ACCOUNT, region: 'cn-hangzhou', tokenTtlSeconds: ttl });

  const clusters: SandboxCluster[] = [];
  for (const [name, layout] of Object.entries(LAYOUT)) {
    const kube = await KubeEmulator.start({ serviceAccountController: opts.serviceAccountController ?? false });
    for (const ns of layout.namespaces) kube.seed('namespaces', { metadata: { name: ns } });
    for (const [ns, sa] of layout.serviceAccounts)
      kube.seed('serviceaccounts', { metadata: { namespace: ns, name: sa } });
    const token = `sandbox-token-${name}-${Math.random().toString(36).slice(2)}`;
    kube.addToken(token, {
      name: FLEET_SA_USER,
      groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
    });
    const kubeconfigFile = path.join(dir, 'kubeconfigs', `${name}.yaml`);
    await writeFileDeep(kubeconfigFile, kube.kubeconfig({ token, contextName: name }));
    clusters.push({ name, kube, token, kubeconfigFile });
  }

  const endpoints = cloud.endpointsConfig();
  const configFile = path.join(dir, 'fleet.yaml');
  const doc = {
    regionId: 'cn-hangzhou',
    endpoints: { cr: endpoints.cr, sts: endpoints.sts, kms: endpoints.kms, cs: endpoints.cs },
    defaults: { watchNamespace: 'default', serviceAccount: 'default', expiringThreshold: '15m' },
    registries: [
      { name: 'acme-ee', instanceId: EE_INSTANCE, regionId: 'cn-beijing' },
      { name: 'hz-personal', instanceId: '' },
    ],
    clusters: [
      { name: 'hz-prod-1', kubeconfig: { file: './kubeconfigs/hz-prod-1.yaml' }, watchNamespace: 'all' },
      {
        name: 'bj-prod-1',
        kubeconfig: { file: './kubeconfigs/bj-prod-1.yaml' },
        watchNamespace: ['payments', 'search'],
        serviceAccount: '*',
        registries: ['acme-ee'],
      },
      { name: 'hz-dev-1', kubeconfig: { file: './kubeconfigs/hz-dev-1.yaml' }, registries: ['hz-personal'] },
    ],
  };
  await writeFile(configFile, yaml.dump(doc));

  const editConfig = async (edit: (doc: Record<string, unknown>) => void): Promise<void> => {
    const current = yaml.load(await readFile(configFile, 'utf8')) as Record<string, unknown>;
    edit(current);
    await writeFile(configFile, yaml.dump(current));
  };
  const grantRbac = async (): Promise<void> => {
    const fleet = parseFleet(await readFile(configFile, 'utf8'), { file: 'fleet.yaml', path: configFile });
    for (const c of fleet.clusters) {
      const kube = clusters.find((x) => x.name === c.name)?.kube;
      for (const obj of rbacObjects(rbacSettingsOf(c))) kube?.seed(`${obj.kind.toLowerCase()}s` as KubeKind, obj);
    }
  };
  await grantRbac();
  return {
    dir,
    configFile,
    cloud,
    userCredentials,
    functionRole,
    clusters,
    cluster(name) {
      const c = clusters.find((x) => x.name === name);
      if (!c) throw new Error(`no sandbox cluster ${name}`);
      return c;
    },
    env: {
      ALIBABA_CLOUD_ACCESS_KEY_ID: userCredentials.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: userCredentials.accessKeySecret,
    },
    async kubeconfigsToKms() {
      for (const c of clusters) {
        cloud.putKmsSecret({
          accountId: ACCOUNT,
          region: 'cn-hangzhou',
          name: `acr-fleet/${c.name}`,
          data: c.kube.kubeconfig({ token: c.token, contextName: c.name }),
        });
      }
      await editConfig((d) => {
        for (const c of d.clusters as { name: string; kubeconfig: unknown }[])
          c.kubeconfig = { kmsSecret: `acr-fleet/${c.name}` };
      });
    },
    editConfig,
    grantRbac,
    async close() {
      await Promise.all([cloud.close(), ...clusters.map((c) => c.kube.close())]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writeFileDeep(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}
