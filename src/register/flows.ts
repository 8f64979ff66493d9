/**
 * `register` and `deregister`: bring a cluster into the fleet with the least privilege, or take it out
 * leaving nothing of acr-fleet behind. Each step reports progress, each is safe to re-run, and the first
 * failure stops the flow with the step named. The admin kubeconfig is read, used and forgotten.
 */
import { readFile } from 'node:fs/promises';
import { removeCluster, upsertCluster, writeFleet } from '../config/edit.js';
import { loadFleet } from '../config/load.js';
import type { Fleet } from '../config/resolve.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { KmsWriter } from '../cloud/kms.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { AcrFleetError, describeError } from '../errors.js';
import { emptyClusterReport } from '../fleet/report.js';
import { applyChanges } from '../fleet/run.js';
import { accessReview, ClusterAdmin, describeObject, readManifest, type AccessCheck } from '../kube/admin.js';
import { connectCluster } from '../kube/client.js';
import { kubeConfigFromFile, kubeConfigFromText } from '../kube/kubeconfig.js';
import { planRemoval } from '../reconcile/plan.js';
import { OWNED_SELECTOR } from '../reconcile/state.js';

const RBAC = new URL('../../infra/kubernetes/acr-fleet-rbac.yaml', import.meta.url);
const CONFIGMAP_RBAC = new URL('../../infra/kubernetes/acr-fleet-configmap-rbac.yaml', import.meta.url);
const SA = { namespace: 'kube-system', name: 'acr-fleet' };

/** What a refresh does, as API permission checks (the ClusterRole's rules, verb by verb). */
const NEEDED: AccessCheck[] = [
  { verb: 'list', resource: 'namespaces' },
  ...['list', 'create', 'update', 'delete'].map((verb) => ({ verb, resource: 'secrets', ...(verb === 'list' ? {} : { namespace: 'default' }) })),
  { verb: 'list', resource: 'serviceaccounts' },
  { verb: 'get', resource: 'serviceaccounts', namespace: 'default' },
  { verb: 'patch', resource: 'serviceaccounts', namespace: 'default' },
];
const CONFIGMAP_NEEDED: AccessCheck = { verb: 'get', resource: 'configmaps', namespace: 'kube-system', name: 'acr-configuration' };
/** Rights acr-fleet must not have; if it does, register warns (someone bound more to its identity). */
const EXCESS: AccessCheck[] = [
  { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
  { verb: 'delete', resource: 'namespaces' },
  { verb: 'create', resource: 'clusterrolebindings' },
];

export interface FlowContext {
  /** fleet.yaml as shown to the user, and its absolute path. */
  configDisplay: string;
  configPath: string;
  env: Record<string, string | undefined>;
  credential: CredentialClient;
  /** One line per step. */
  progress(line: string): void;
}

export interface RegisterOptions {
  cluster: string;
  adminKubeconfig: string;
  kmsSecret?: string;
  /** Also grant `get` on kube-system/acr-configuration and set `settings: configmap`. */
  configmap?: boolean;
  tokenSeconds?: number;
}

/** Registers a cluster. Throws an error naming the failed step. */
export async function register(ctx: FlowContext, opts: RegisterOptions): Promise<void> {
  const fleet = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const region = requireRegion(fleet);
  const secretName = opts.kmsSecret ?? `acr-fleet/${opts.cluster}`;
  const step = stepper(ctx, opts.cluster);

  const adminKc = await step('admin kubeconfig', async () => kubeConfigFromFile(opts.adminKubeconfig, opts.adminKubeconfig), () => 'loaded (used in memory only)');
  const admin = new ClusterAdmin(adminKc);
  const objects = [...(await readManifest(RBAC)), ...(opts.configmap ? await readManifest(CONFIGMAP_RBAC) : [])];
  for (const obj of objects) await step(describeObject(obj), () => admin.apply(obj), (r) => r);

  const seconds = opts.tokenSeconds ?? 365 * 24 * 3600;
  const token = await step(`token for serviceaccount ${SA.namespace}/${SA.name}`, () => admin.mintToken(SA.namespace, SA.name, seconds), () => `minted (valid ${Math.round(seconds / 3600)}h)`);
  const kubeconfig = await admin.kubeconfigFor(token, opts.cluster);

  await step('verify', async () => {
    const identity = kubeConfigFromText(kubeconfig, 'acr-fleet kubeconfig');
    const results = await accessReview(identity, [...NEEDED, ...(opts.configmap ? [CONFIGMAP_NEEDED] : []), ...EXCESS]);
    const denied = results.filter((r) => !r.allowed && !EXCESS.includes(r.check)).map((r) => show(r.check));
    if (denied.length) {
      throw new AcrFleetError(`the acr-fleet identity may not ${denied.join(', ')}: an object of that name exists without the acr-fleet label, or the cluster restricts it; grant infra/kubernetes/acr-fleet-rbac.yaml`);
    }
    // Then a real request: proves the server address, CA and token work together.
    const port = await connectCluster(identity, fleet.kubernetes);
    await port.listNamespaces().finally(() => port.close());
    return results.filter((r) => r.allowed && EXCESS.includes(r.check)).map((r) => show(r.check));
  }, (excess) => (excess.length ? `can do its job; warning: it may also ${excess.join(', ')}` : 'can do exactly its job'));

  const kms = new KmsWriter(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: ctx.credential }));
  await step(`kms secret ${secretName}`, () => kms.store(region, secretName, kubeconfig, `acr-fleet kubeconfig for cluster ${opts.cluster}`), (r) => r);

  await step(ctx.configDisplay, async () => {
    const text = await readFile(ctx.configPath, 'utf8');
    await writeFleet(ctx.configPath, ctx.configDisplay, upsertCluster(text, { name: opts.cluster, kmsSecret: secretName, ...(opts.configmap ? { settings: 'configmap' as const } : {}) }), ctx.env);
  }, () => `cluster ${opts.cluster} uses kubeconfig { kmsSecret: ${secretName} }`);
}

export interface DeregisterOptions {
  cluster: string;
  adminKubeconfig: string;
  kmsSecret?: string;
}

/** Removes acr-fleet from a cluster, its KMS secret, and its fleet.yaml entry. */
export async function deregister(ctx: FlowContext, opts: DeregisterOptions): Promise<void> {
  const fleet = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const region = requireRegion(fleet);
  const entry = fleet.clusters.find((c) => c.name === opts.cluster);
  const secretName = opts.kmsSecret ?? (entry?.kubeconfig.kind === 'kms' ? entry.kubeconfig.secretName : `acr-fleet/${opts.cluster}`);
  const step = stepper(ctx, opts.cluster);

  const adminKc = await step('admin kubeconfig', async () => kubeConfigFromFile(opts.adminKubeconfig, opts.adminKubeconfig), () => 'loaded (used in memory only)');
  await step('secrets and imagePullSecrets', async () => {
    const port = await connectCluster(adminKc, fleet.kubernetes);
    try {
      // The admin lists by label: every Secret acr-fleet ever owned here, whatever its name.
      const [namespaces, secrets, serviceAccounts] = await Promise.all([port.listNamespaces(), port.listSecrets({ labelSelector: OWNED_SELECTOR }), port.listServiceAccounts()]);
      const report = emptyClusterReport(opts.cluster);
      await applyChanges(planRemoval({ namespaces, secrets, serviceAccounts }), port, report, fleet.kubernetes.writeConcurrency);
      if (report.error) throw new AcrFleetError(report.error);
      return report;
    } finally {
      port.close();
    }
  }, (r) => `${r.secrets.deleted} Secret(s) deleted, ${r.serviceAccounts.patched} ServiceAccount(s) cleaned`);

  const admin = new ClusterAdmin(adminKc);
  const objects = [...(await readManifest(RBAC)), ...(await readManifest(CONFIGMAP_RBAC))].reverse();
  for (const obj of objects) await step(describeObject(obj), () => admin.remove(obj), (r) => r);

  const kms = new KmsWriter(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: ctx.credential }));
  await step(`kms secret ${secretName}`, () => kms.delete(region, secretName), (deleted) => (deleted ? 'deleted' : 'absent'));
  await step(ctx.configDisplay, async () => {
    const text = await readFile(ctx.configPath, 'utf8');
    const next = removeCluster(text, opts.cluster);
    if (next !== text) await writeFleet(ctx.configPath, ctx.configDisplay, next, ctx.env);
    return next !== text;
  }, (removed) => (removed ? `cluster ${opts.cluster} removed` : `no cluster ${opts.cluster}`));
}

function requireRegion(fleet: Fleet): string {
  if (!fleet.regionId) throw new AcrFleetError(`${fleet.file}: regionId: required to store kubeconfigs in KMS (or set ALIBABA_CLOUD_REGION_ID)`);
  return fleet.regionId;
}

/** Runs one step: prints `cluster: step: outcome`, or throws `step: cause`. */
function stepper(ctx: FlowContext, cluster: string) {
  return async <T>(name: string, run: () => Promise<T>, outcome: (r: T) => string): Promise<T> => {
    let result: T;
    try {
      result = await run();
    } catch (err) {
      throw new AcrFleetError(`cluster ${cluster}: ${name}: ${describeError(err)}`, { cause: err });
    }
    ctx.progress(`${cluster}: ${name}: ${outcome(result)}`);
    return result;
  };
}

function show(c: AccessCheck): string {
  return `${c.verb} ${c.resource}${c.name ? ` ${c.name}` : ''}${c.namespace ? ` in ${c.namespace}` : ''}`;
}
