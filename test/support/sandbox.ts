/**
 * A complete local fleet: one Alibaba Cloud emulator (EE instance in cn-beijing, Personal Edition in
 * cn-hangzhou) and three Kubernetes emulators, each granting acr-fleet only the RBAC `register` renders
 * from that cluster's settings (src/policy/rbac.ts). Writes kubeconfigs and a fleet.yaml into a fresh folder.
 *
 * Tests take it from `sandbox(t, options)`, which closes it when the test ends; `npm start` uses
 * `startSandbox()` and closes it itself.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { AlibabaEmulator, type Credentials } from '../emulators/alibaba/index.js';
import { KubeEmulator, type KubeEmulatorOptions, type KubeKind } from '../emulators/kube/index.js';
import { parseFleet } from '../../src/config/load.js';
import { rbacObjects, rbacSettingsOf } from '../../src/policy/rbac.js';
import {
  ACCOUNT,
  CLUSTER_NAMES,
  EE_INSTANCE,
  FLEET_SA_GROUPS,
  FLEET_SA_USER,
  HOME_REGION,
  kmsKubeconfigName,
  PARTNER_ACCOUNT,
  PARTNER_INSTANCE,
  REGISTRY_NAMES,
} from './fleet.js';

// Older imports take these from here.
export { ACCOUNT, EE_INSTANCE, FLEET_SA_USER } from './fleet.js';

/** The admin kubeconfig `adminKubeconfig` writes, relative to the sandbox folder (what `--kubeconfig` is given). */
export const ADMIN_KUBECONFIG = 'admin.yaml';

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
  /**
   * Moves every cluster's kubeconfig into KMS (`acr-fleet/<name>`, cn-hangzhou) and points fleet.yaml at it,
   * with `allowPrivateAddress: true` (the emulators listen on 127.0.0.1).
   */
  kubeconfigsToKms(): Promise<void>;
  /** Rewrites fleet.yaml with a change applied to the parsed document. */
  editConfig(edit: (doc: Record<string, unknown>) => void): Promise<void>;
  /** Grants each cluster the RBAC rendered from its settings in the current fleet.yaml, as `register` would. */
  grantRbac(): Promise<void>;
  /** Starts a Kubernetes emulator outside fleet.yaml (a cluster to register), closed with the sandbox. */
  startCluster(opts?: KubeEmulatorOptions): Promise<KubeEmulator>;
  /**
   * Gives `kube` a cluster-admin token and writes a kubeconfig for it to `admin.yaml` in the sandbox folder
   * (what `register --kubeconfig admin.yaml` reads). Returns the file's path.
   */
  adminKubeconfig(kube: KubeEmulator, opts: { token: string; contextName: string }): Promise<string>;
  /** A RAM user of the sandbox account allowed `actions` (an operator running `register`): its CLI environment. */
  operatorEnv(actions: string[], name?: string): Record<string, string>;
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Lifetime of tokens the registries issue (default 3600 s). */
  tokenTtlSeconds?: number;
  /** Run each cluster's service account controller (a new namespace gets its `default` ServiceAccount). */
  serviceAccountController?: boolean;
  /** Where fleet.yaml takes kubeconfigs from: files (default) or KMS, as the deployed function does. */
  kubeconfigs?: 'file' | 'kms';
  /**
   * Adds a second account (`PARTNER_ACCOUNT`) with an EE instance `cri-partner` in cn-beijing, and registry
   * `partner` for it (these keys added to its fleet.yaml entry) used by hz-dev-1 alone.
   */
  partner?: Record<string, unknown>;
  /** A change to fleet.yaml, applied (after `kubeconfigs` and `partner`) before the test starts. */
  editConfig?: (doc: Record<string, unknown>) => void;
  /**
   * Point the FC handlers at this fleet.yaml (`ACR_FLEET_CONFIG`) for the test; unset at teardown. The variable
   * is process-wide: tests that use it must be `test.serial`.
   */
  functionConfig?: boolean;
  /** Regions the Alibaba emulator serves (default cn-hangzhou and cn-beijing); fleet.yaml's endpoints cover them all. */
  regions?: string[];
}

/**
 * The sandbox fleet for one test: started with `opts`, closed (with every cluster `startCluster` added, and
 * `ACR_FLEET_CONFIG` unset) by `t.teardown` when the test ends, pass or fail.
 */
export async function sandbox(t: ExecutionContext, opts: SandboxOptions = {}): Promise<Sandbox> {
  const s = await startSandbox(opts);
  t.teardown(async () => {
    if (opts.functionConfig) delete process.env.ACR_FLEET_CONFIG;
    await s.close();
  });
  if (opts.kubeconfigs === 'kms') await s.kubeconfigsToKms();
  if (opts.partner) await addPartner(s, opts.partner);
  if (opts.editConfig) await s.editConfig(opts.editConfig);
  if (opts.functionConfig) process.env.ACR_FLEET_CONFIG = s.configFile;
  return s;
}

async function addPartner(s: Sandbox, registry: Record<string, unknown>): Promise<void> {
  s.cloud.createAccount(PARTNER_ACCOUNT);
  s.cloud.addEnterpriseInstance({
    accountId: PARTNER_ACCOUNT,
    instanceId: PARTNER_INSTANCE,
    name: 'partner',
    region: 'cn-beijing',
  });
  await s.editConfig((d) => {
    (d.registries as unknown[]).push({
      name: 'partner',
      instanceId: PARTNER_INSTANCE,
      regionId: 'cn-beijing',
      ...registry,
    });
    const clusters = d.clusters as { name: string; registries?: string[] }[];
    clusters.find((c) => c.name === CLUSTER_NAMES.hzDev)!.registries = ['partner'];
    clusters.find((c) => c.name === CLUSTER_NAMES.hzProd)!.registries = [REGISTRY_NAMES.ee, REGISTRY_NAMES.personal];
  });
}

/** Namespaces and ServiceAccounts of each sandbox cluster (the emulator creates no default ServiceAccount). */
const LAYOUT: Record<string, { namespaces: string[]; serviceAccounts: [string, string][] }> = {
  [CLUSTER_NAMES.hzProd]: {
    namespaces: ['team-a', 'team-b'],
    serviceAccounts: [
      ['default', 'default'],
      ['team-a', 'default'],
      ['team-a', 'builder'],
      ['team-b', 'default'],
      ['kube-system', 'default'],
    ],
  },
  [CLUSTER_NAMES.bjProd]: {
    namespaces: ['payments', 'search'],
    serviceAccounts: [
      ['payments', 'default'],
      ['payments', 'api'],
      ['search', 'default'],
      ['default', 'default'],
    ],
  },
  [CLUSTER_NAMES.hzDev]: { namespaces: [], serviceAccounts: [['default', 'default']] },
};

/** Starts the sandbox fleet (the emulators' part of `opts`). Call `close()` when done; tests use `sandbox(t)`. */
export async function startSandbox(
  opts: Pick<SandboxOptions, 'tokenTtlSeconds' | 'serviceAccountController' | 'regions'> = {},
): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'acr-fleet-sandbox-'));
  const cloud = await AlibabaEmulator.start({ regions: opts.regions ?? ['cn-hangzhou', 'cn-beijing'] });
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
    kube.addToken(token, { name: FLEET_SA_USER, groups: FLEET_SA_GROUPS });
    const kubeconfigFile = path.join(dir, 'kubeconfigs', `${name}.yaml`);
    await writeFileDeep(kubeconfigFile, kube.kubeconfig({ token, contextName: name }));
    clusters.push({ name, kube, token, kubeconfigFile });
  }

  const endpoints = cloud.endpointsConfig();
  const configFile = path.join(dir, 'fleet.yaml');
  const doc = {
    regionId: HOME_REGION,
    endpoints: { cr: endpoints.cr, sts: endpoints.sts, kms: endpoints.kms, cs: endpoints.cs },
    defaults: { watchNamespace: 'default', serviceAccount: 'default', expiringThreshold: '15m' },
    registries: [
      { name: REGISTRY_NAMES.ee, instanceId: EE_INSTANCE, regionId: 'cn-beijing' },
      { name: REGISTRY_NAMES.personal, instanceId: '' },
    ],
    clusters: [
      {
        name: CLUSTER_NAMES.hzProd,
        kubeconfig: { file: `./kubeconfigs/${CLUSTER_NAMES.hzProd}.yaml` },
        watchNamespace: 'all',
      },
      {
        name: CLUSTER_NAMES.bjProd,
        kubeconfig: { file: `./kubeconfigs/${CLUSTER_NAMES.bjProd}.yaml` },
        watchNamespace: ['payments', 'search'],
        serviceAccount: '*',
        registries: [REGISTRY_NAMES.ee],
      },
      {
        name: CLUSTER_NAMES.hzDev,
        kubeconfig: { file: `./kubeconfigs/${CLUSTER_NAMES.hzDev}.yaml` },
        registries: [REGISTRY_NAMES.personal],
      },
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
  const extraClusters: KubeEmulator[] = [];
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
          region: HOME_REGION,
          name: kmsKubeconfigName(c.name),
          data: c.kube.kubeconfig({ token: c.token, contextName: c.name }),
        });
      }
      await editConfig((d) => {
        for (const c of d.clusters as { name: string; kubeconfig: unknown }[])
          // The emulators listen on 127.0.0.1: the operator allows these clusters that address, explicitly.
          c.kubeconfig = { kmsSecret: kmsKubeconfigName(c.name), allowPrivateAddress: true };
      });
    },
    editConfig,
    grantRbac,
    async startCluster(opts) {
      const kube = await KubeEmulator.start(opts);
      extraClusters.push(kube);
      return kube;
    },
    async adminKubeconfig(kube, { token, contextName }) {
      kube.addToken(token, { name: 'platform-admin', groups: ['system:masters'] });
      const file = path.join(dir, ADMIN_KUBECONFIG);
      await writeFile(file, kube.kubeconfig({ token, contextName }));
      return file;
    },
    operatorEnv(actions, name = 'platform-operator') {
      const operator = cloud.addUser({ accountId: ACCOUNT, name, actions });
      return {
        ALIBABA_CLOUD_ACCESS_KEY_ID: operator.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: operator.accessKeySecret,
      };
    },
    async close() {
      await Promise.all([
        cloud.close(),
        ...clusters.map((c) => c.kube.close()),
        ...extraClusters.map((k) => k.close()),
      ]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function writeFileDeep(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}
