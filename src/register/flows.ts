/**
 * `register` and `deregister`: bring a cluster into the fleet with the least privilege, or take it out
 * leaving nothing of acr-fleet behind. Each step reports progress, each is safe to re-run, and the first
 * failure stops the flow with the step named. The admin kubeconfig is read, used and forgotten.
 */
import { readFile } from 'node:fs/promises';
import { removeCluster, upsertCluster, writeFleet } from '../config/edit.js';
import { closest } from '../config/rules.js';
import { quoteRemote } from '../log/quote.js';
import { loadFleet, parseFleet } from '../config/load.js';
import { DEFAULTS, type Cluster, type Fleet } from '../config/resolve.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { CsApi } from '../cloud/cs.js';
import { KmsApi, KmsWriter } from '../cloud/kms.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { AcrFleetError, CloudError, describeError } from '../errors.js';
import { applyChanges, countResults } from '../reconcile/apply.js';
import { connectKubeconfigFile, tokenKubeconfig, type KubeAdminClient } from '../kube/admin.js';
import { endpointOfKubeconfig, type PluginResolver } from '../kube/connect.js';
import { describeObject, type OwnedObject, type WriteResult } from '../kube/objects.js';
import { configMapObjects, IDENTITY, rbacObjects, rbacSettingsOf } from '../policy/rbac.js';
import { planRemoval } from '../reconcile/plan.js';
import { OWNED_SELECTOR } from '../reconcile/state.js';
import {
  AbortedError,
  destructive,
  endpointIdentity,
  RefusedError,
  storedIdentity,
  storedSource,
  type FlowPlanEntry,
} from './guard.js';
import { desiredWebhook, webhookPreconditions, WEBHOOK_OBJECT } from './webhook.js';
import { verifyIdentity } from './verify.js';
import {
  admissionPolicyObjects,
  admissionSettingsOf,
  type AdmissionPolicyVersion,
  type AdmissionSettings,
} from '../policy/admission.js';
import { noPolicyApi, proveAdmission, servedPolicyVersion } from './admission.js';

export interface FlowContext {
  /** fleet.yaml as shown to the user, and its absolute path. */
  configDisplay: string;
  configPath: string;
  env: Record<string, string | undefined>;
  credential: CredentialClient;
  /** Runs credential plugins (`exec`) of an admin kubeconfig; without it such a kubeconfig is refused. */
  resolvePlugin?: PluginResolver;
  /** Told every credential read or minted (the admin's, the identity's token): the entry's redactor. */
  onSecret?: (value: string) => void;
  /** One line per step. */
  progress(line: string): void;
  /** Plan only: read everything, write nothing (no cluster, KMS or fleet.yaml write). */
  dryRun?: boolean;
  /** Asked with the deletes and patches before the first of them; false aborts with nothing written. */
  confirm?: (changes: FlowPlanEntry[]) => Promise<boolean>;
}

/** What a flow did: under `dryRun`, the plan of what it would do. */
export interface FlowOutcome {
  plan?: FlowPlanEntry[];
}

export interface RegisterOptions {
  cluster: string;
  adminKubeconfig: string;
  /** The admin kubeconfig as the user typed it, for messages (default: the path). */
  adminKubeconfigDisplay?: string;
  kmsSecret?: string;
  /** Also grant `get` on kube-system/acr-configuration and set `settings: configmap`. */
  configmap?: boolean;
  /** Also install the admission webhook (immediate injection) after the cluster is in fleet.yaml. */
  webhook?: boolean;
  tokenSeconds?: number;
  /** Register on a server that serves no ValidatingAdmissionPolicy API (the identity is then fenced by RBAC only). */
  allowNoAdmissionPolicy?: boolean;
  /**
   * fleet.yaml registries the cluster gets (its ConfigMap may pick among, with `configmap`). Required for a
   * cluster fleet.yaml does not hold yet: a new cluster gets no registry by default.
   */
  registries?: string[];
  /** The cluster is reached at a loopback address: `kubeconfig: { allowPrivateAddress: true }`. */
  allowPrivateAddress?: boolean;
}

/**
 * Registers a cluster, or re-registers it after its settings changed: the RBAC is rendered from the
 * cluster's settings as fleet.yaml will hold them. Owned Secrets under a former secretName keep their name
 * in the rules and in `previousSecretNames` until a refresh has deleted them and register runs again.
 * Throws an error naming the failed step.
 */
export async function register(ctx: FlowContext, opts: RegisterOptions): Promise<FlowOutcome> {
  const fleet = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const text = await readFile(ctx.configPath, 'utf8');
  const region = requireRegion(fleet);
  const kmsName = opts.kmsSecret ?? `acr-fleet/${opts.cluster}`;
  const keySecret = fleet.webhook?.keySecret ?? DEFAULTS.webhookKeySecret;
  if (kmsName === keySecret)
    throw new AcrFleetError(
      `cluster ${opts.cluster}: kms secret ${kmsName} is the webhook key's; pass --kms-secret with another name`,
    );
  const existing = fleet.clusters.find((c) => c.name === opts.cluster);
  const registries = grantedRegistries(fleet, opts, existing !== undefined);
  const allowPrivateAddress =
    opts.allowPrivateAddress === true ||
    (existing?.kubeconfig.kind === 'kms' && existing.kubeconfig.allowPrivateAddress);
  const entry = {
    name: opts.cluster,
    kmsSecret: kmsName,
    ...(opts.configmap ? { settings: 'configmap' as const } : {}),
    ...(registries ? (opts.configmap ? { configmapRegistries: registries } : { registries }) : {}),
    ...(allowPrivateAddress ? { allowPrivateAddress } : {}),
  };
  // Every precondition before the first write: a webhook that cannot be installed stops here, not after the rotation.
  if (opts.webhook) {
    try {
      webhookPreconditions(parseFleet(upsertCluster(text, entry), fleetOptions(ctx)), opts.cluster);
    } catch (err) {
      throw new RefusedError(`cluster ${opts.cluster}: ${describeError(err)}; nothing written`, { cause: err });
    }
  }
  const step = stepper(ctx, opts.cluster);

  const admin = await openAdmin(ctx, opts.adminKubeconfig, fleet, step);
  // What the refresh will read from KMS, as it will read it: data, at an address it may reach.
  const stored = { data: { allowPrivateAddress }, onSecret: ctx.onSecret };
  /** Objects this run created, so that a refused verification can take them away again. */
  const created: OwnedObject[] = [];
  try {
    await step(
      'kubeconfig for kms',
      async () =>
        (
          await endpointOfKubeconfig(
            tokenKubeconfig(admin.endpoint, 'token-checked-before-any-write', opts.cluster),
            'acr-fleet kubeconfig',
            stored,
          )
        ).endpoint,
      () => 'data only, at an address the refresh may reach',
    );
    const cluster = clusterIn(upsertCluster(text, entry), ctx, opts.cluster);
    const retiring = await step(
      'secret names',
      async () => {
        // The admin lists by label: every Secret acr-fleet owns here, whatever its name; and the
        // ServiceAccounts still pointing at one, which the refresh may have to clean.
        const [owned, accounts] = await Promise.all([
          admin.listSecrets({ labelSelector: OWNED_SELECTOR }),
          admin.listServiceAccounts(),
        ]);
        const former = owned.filter((x) => x.name !== cluster.secretName);
        const ours = new Set([cluster.secretName, ...owned.map((x) => x.name)]);
        const referencing = accounts.filter((sa) => sa.imagePullSecrets.some((n) => ours.has(n))).map((sa) => sa.name);
        return { names: [...new Set(former.map((x) => x.name))].sort(), count: former.length, referencing };
      },
      (r) =>
        r.names.length
          ? `${cluster.secretName}, and ${r.names.join(', ')} until the next refresh has deleted its ${r.count} Secret(s); then run register again`
          : cluster.secretName,
    );
    const settings = rbacSettingsOf({ ...cluster, previousSecretNames: retiring.names }, retiring.referencing);
    if (settings.retiringServiceAccounts.length) {
      ctx.progress(
        `${opts.cluster}: serviceaccounts: also ${settings.retiringServiceAccounts.join(', ')} until the next refresh has removed their references to acr-fleet's Secret; then run register again`,
      );
    }
    const dropped = settings.configmap
      ? []
      : await Promise.all(
          (configMapObjects() as OwnedObject[]).map(async (obj) => ({ obj, r: await admin.previewRemove(obj) })),
        );
    const deletes: FlowPlanEntry[] = dropped
      .filter((d) => d.r === 'deleted')
      .map((d) => ({ action: 'delete', what: describeObject(d.obj), reason: 'settings: configmap no longer set' }));
    // The fence goes up before the rights it fences are granted.
    const fence = admissionSettingsOf(cluster, { retiringSecretNames: retiring.names });
    if (ctx.dryRun) {
      const served = await servedPolicyVersion(admin);
      const fenceObjects = served ? (admissionPolicyObjects(fence, served) as OwnedObject[]) : [];
      const kmsReader = new KmsApi(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: ctx.credential }));
      const stored = await kmsValue(kmsReader, region, kmsName);
      const plan: FlowPlanEntry[] = [];
      for (const obj of [...fenceObjects, ...(rbacObjects(settings) as OwnedObject[])]) {
        const r = await admin.previewWrite(obj);
        plan.push(
          r === 'created'
            ? { action: 'create', what: describeObject(obj) }
            : r === 'updated'
              ? { action: 'update', what: describeObject(obj) }
              : {
                  action: r === 'notOurs' ? 'skip' : 'unchanged',
                  what: describeObject(obj),
                  ...(r === 'notOurs' ? { reason: 'not ours: left alone' } : {}),
                },
        );
      }
      plan.push(
        ...deletes,
        { action: 'mint', what: `token for serviceaccount ${IDENTITY.namespace}/${IDENTITY.name}` },
        { action: 'store', what: `kms secret ${kmsName}`, reason: stored === undefined ? 'create' : 'rotate' },
        {
          action:
            upsertCluster(text, { ...entry, previousSecretNames: retiring.names }) === text ? 'unchanged' : 'update',
          what: ctx.configDisplay,
          reason: `cluster ${opts.cluster} uses kubeconfig { kmsSecret: ${kmsName} }`,
        },
        ...(opts.webhook
          ? [{ action: 'create' as const, what: describeObject(WEBHOOK_OBJECT), reason: 'create or update' }]
          : []),
      );
      return { plan };
    }
    if (deletes.length && ctx.confirm && !(await ctx.confirm(deletes)))
      throw new AbortedError(`cluster ${opts.cluster}: not confirmed; nothing written`);
    const policyVersion = await installFence(admin, fence, opts.allowNoAdmissionPolicy ?? false, step);
    for (const obj of rbacObjects(settings) as OwnedObject[])
      if ((await step(describeObject(obj), () => admin.createOrUpdate(obj), written)) === 'created') created.push(obj);
    if (!settings.configmap) {
      // A cluster that no longer reads the add-on ConfigMap loses the right to.
      for (const obj of configMapObjects() as OwnedObject[])
        if ((await admin.remove(obj)) === 'deleted') ctx.progress(`${opts.cluster}: ${describeObject(obj)}: deleted`);
    }

    const seconds = opts.tokenSeconds ?? 365 * 24 * 3600;
    const token = await step(
      `token for serviceaccount ${IDENTITY.namespace}/${IDENTITY.name}`,
      () => admin.mintToken(IDENTITY.namespace, IDENTITY.name, seconds),
      () => `minted (valid ${Math.round(seconds / 3600)}h)`,
    );
    ctx.onSecret?.(token);
    const kubeconfig = tokenKubeconfig(admin.endpoint, token, opts.cluster);

    await step(
      'verify',
      async () => {
        const excess = await verifyIdentity(kubeconfig, settings, fleet.kubernetes, stored);
        if (!excess.length) return;
        // More rights than the rendered rules: nothing is stored, and what this run created goes again.
        for (const obj of created.reverse()) await admin.remove(obj);
        throw new AcrFleetError(
          `the acr-fleet identity may also ${excess.join(', ')}: something else grants it more than its rules; remove that binding and run register again${created.length ? ` (removed what this run created: ${created.map(describeObject).join(', ')})` : ''}`,
        );
      },
      () => 'can do exactly its job',
    );
    if (policyVersion) {
      const proofs = await step(
        'admission proof',
        () => proveAdmission(kubeconfig, fence, settings, fleet.kubernetes),
        (r) => `${r.length} dry-run requests as the identity answered as the policy says`,
      );
      for (const p of proofs) ctx.progress(`${opts.cluster}: admission proof: ${p.what}: ${p.outcome}`);
    }

    const kms = new KmsWriter(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: ctx.credential }));
    await step(
      `kms secret ${kmsName}`,
      () => kms.store(region, kmsName, kubeconfig, `acr-fleet kubeconfig for cluster ${opts.cluster}`),
      (r) => r,
    );

    await step(
      ctx.configDisplay,
      async () => {
        // Re-read: the file may have changed while the cluster was being set up.
        const current = await readFile(ctx.configPath, 'utf8');
        await writeFleet(
          ctx.configPath,
          ctx.configDisplay,
          upsertCluster(current, { ...entry, previousSecretNames: retiring.names }),
          ctx.env,
        );
      },
      () =>
        `cluster ${opts.cluster} uses kubeconfig { kmsSecret: ${kmsName} }${retiring.names.length ? `, previousSecretNames: [${retiring.names.join(', ')}]` : ''}`,
    );

    if (opts.webhook) {
      const updated = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
      const caller = new SdkOpenApiCaller({ endpoints: updated.endpoints, credential: ctx.credential });
      await installWebhook(updated, opts.cluster, admin, caller, step);
    }
  } finally {
    admin.close();
  }
  return {};
}

function fleetOptions(ctx: FlowContext) {
  return { file: ctx.configDisplay, path: ctx.configPath, env: ctx.env };
}

/** A KMS secret's value, undefined when it does not exist (read-only). */
async function kmsValue(kms: KmsApi, region: string, name: string): Promise<string | undefined> {
  try {
    return await kms.secretValue(region, name);
  } catch (err) {
    if (err instanceof CloudError && err.code === 'Forbidden.ResourceNotFound') return undefined;
    throw err;
  }
}

/** The cluster as resolved from fleet.yaml text. */
function clusterIn(text: string, ctx: FlowContext, name: string): Cluster {
  const cluster = parseFleet(text, { file: ctx.configDisplay, path: ctx.configPath, env: ctx.env }).clusters.find(
    (c) => c.name === name,
  );
  if (!cluster) throw new AcrFleetError(`${ctx.configDisplay}: no cluster ${name}`);
  return cluster;
}

export interface DeregisterOptions {
  cluster: string;
  adminKubeconfig: string;
  adminKubeconfigDisplay?: string;
  kmsSecret?: string;
}

/**
 * Removes acr-fleet from a cluster, its KMS secret, and its fleet.yaml entry: only from a cluster fleet.yaml
 * names whose stored kubeconfig reaches the same API server with the same CA as the admin kubeconfig
 * (guard.ts says why). A name fleet.yaml does not know is refused while the cluster has anything of
 * acr-fleet; with nothing left anywhere (a re-run), every step reports `absent` and nothing is written.
 */
export async function deregister(ctx: FlowContext, opts: DeregisterOptions): Promise<FlowOutcome> {
  const fleet = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const region = requireRegion(fleet);
  const entry = fleet.clusters.find((c) => c.name === opts.cluster);
  const stored = entry?.kubeconfig.kind === 'kms' ? entry.kubeconfig.secretName : undefined;
  // The identity check below compares the entry's own stored kubeconfig: another name would delete a secret it
  // never checked (perhaps another cluster's).
  if (opts.kmsSecret !== undefined && stored !== undefined && opts.kmsSecret !== stored)
    throw new RefusedError(
      `cluster ${opts.cluster}: --kms-secret ${opts.kmsSecret} is not its kubeconfig's secret (${stored}); nothing touched`,
    );
  const secretName = opts.kmsSecret ?? stored ?? `acr-fleet/${opts.cluster}`;
  const step = stepper(ctx, opts.cluster);
  const adminShown = opts.adminKubeconfigDisplay ?? opts.adminKubeconfig;
  const caller = new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential: ctx.credential });
  const kmsReader = new KmsApi(caller);

  const admin = await openAdmin(ctx, opts.adminKubeconfig, fleet, step);
  // Only kinds and names matter for removal: every object any settings install.
  const objects = rbacObjects({
    secretNames: [],
    serviceAccounts: '*',
    retiringServiceAccounts: [],
    configmap: true,
  }).reverse() as OwnedObject[];
  const plan: FlowPlanEntry[] = [];
  try {
    const present = async (obj: OwnedObject) => (await admin.previewRemove(obj)) === 'deleted';
    const [webhookPresent, namespaces, secrets, serviceAccounts, ...rbacPresent] = await Promise.all([
      present(WEBHOOK_OBJECT),
      admin.listNamespaces(),
      admin.listSecrets({ labelSelector: OWNED_SELECTOR }),
      admin.listServiceAccounts(),
      ...objects.map(present),
    ]);
    const removal = planRemoval({ namespaces, secrets, serviceAccounts });
    const installed = [
      ...(webhookPresent ? [describeObject(WEBHOOK_OBJECT)] : []),
      ...objects.filter((_, i) => rbacPresent[i]).map(describeObject),
      ...(removal.secrets.length ? [`${removal.secrets.length} Secret(s)`] : []),
    ];
    if (!entry) {
      const meant = closest(
        opts.cluster,
        fleet.clusters.map((c) => c.name),
      );
      const hint = meant ? `; did you mean ${meant}?` : '';
      if (installed.length)
        throw new RefusedError(
          `cluster ${opts.cluster}: not in ${ctx.configDisplay}${hint}; the cluster behind ${adminShown} has acr-fleet (${installed[0]}) and deregister acts only on a cluster ${ctx.configDisplay} names; nothing touched`,
        );
      if ((await kmsValue(kmsReader, region, secretName)) !== undefined)
        throw new RefusedError(
          `cluster ${opts.cluster}: not in ${ctx.configDisplay}${hint}; kms secret ${secretName} exists and deregister deletes only the secret of a cluster ${ctx.configDisplay} names; nothing touched`,
        );
      // A re-run after a complete deregister: nothing of acr-fleet anywhere, nothing to write.
      for (const what of [
        describeObject(WEBHOOK_OBJECT),
        'secrets and imagePullSecrets',
        ...objects.map(describeObject),
        `kms secret ${secretName}`,
      ])
        ctx.progress(`${opts.cluster}: ${what}: absent`);
      ctx.progress(`${opts.cluster}: ${ctx.configDisplay}: no cluster ${opts.cluster}`);
      return ctx.dryRun ? { plan: [] } : {};
    }
    const source = storedSource(entry);
    let stored;
    try {
      stored = await storedIdentity(
        entry,
        {
          kmsSecret: (r, name) => kmsReader.secretValue(r, name),
          ackKubeconfig: (r, id, priv) => new CsApi(caller).temporaryKubeconfig(r, id, priv),
        },
        ctx.onSecret,
      );
    } catch (err) {
      throw new RefusedError(
        `cluster ${opts.cluster}: cannot read ${source} to check that ${adminShown} reaches the same cluster (${describeError(err)}); nothing touched`,
      );
    }
    const actual = endpointIdentity(admin.endpoint);
    if (stored.server !== actual.server || stored.ca !== actual.ca)
      throw new RefusedError(
        `cluster ${opts.cluster}: ${adminShown} reaches ${actual.server}${stored.server === actual.server ? ' with another CA' : ''}, but ${source} of ${opts.cluster} reaches ${quoteRemote(stored.server)}: a different cluster; nothing touched`,
      );
    ctx.progress(`${opts.cluster}: identity: ${adminShown} reaches the API server and CA of ${source}`);

    const kmsExists = (await kmsValue(kmsReader, region, secretName)) !== undefined;
    if (webhookPresent) plan.push({ action: 'delete', what: describeObject(WEBHOOK_OBJECT) });
    for (const x of removal.secrets)
      if (x.op === 'delete') plan.push({ action: 'delete', what: `secret ${x.namespace}/${x.name}`, reason: x.reason });
    for (const x of removal.serviceAccounts)
      plan.push({
        action: 'patch',
        what: `serviceaccount ${x.namespace}/${x.name}`,
        reason: x.remove.map((n) => `-${n}`).join(' '),
      });
    objects.forEach((obj, i) => {
      if (rbacPresent[i]) plan.push({ action: 'delete', what: describeObject(obj) });
    });
    const served = await servedPolicyVersion(admin);
    const fence = served
      ? (admissionPolicyObjects({ secretNames: [], excludedNamespaces: [], usernames: [] }, served) as OwnedObject[])
      : [];
    for (const obj of fence.reverse())
      if (await present(obj)) plan.push({ action: 'delete', what: describeObject(obj) });
    if (kmsExists) plan.push({ action: 'delete', what: `kms secret ${secretName}` });
    plan.push({ action: 'update', what: ctx.configDisplay, reason: `remove cluster ${opts.cluster}` });
    if (ctx.dryRun) return { plan };
    if (ctx.confirm && !(await ctx.confirm(destructive(plan))))
      throw new AbortedError(`cluster ${opts.cluster}: not confirmed; nothing written`);

    await removeFromCluster(admin, fleet, opts.cluster, step);
  } finally {
    admin.close();
  }

  const kms = new KmsWriter(caller);
  await step(
    `kms secret ${secretName}`,
    () => kms.delete(region, secretName),
    (deleted) => (deleted ? 'deleted' : 'absent'),
  );
  await removeFromFleetFile(ctx, opts.cluster, step);
  return {};
}

/**
 * Puts up the admission fence before the rights it fences: the policy API version the server serves, or a refusal
 * (naming what stays open) unless the operator allowed a server without one.
 */
export async function installFence(
  admin: KubeAdminClient,
  fence: AdmissionSettings,
  allowNone: boolean,
  step: Step,
): Promise<AdmissionPolicyVersion | undefined> {
  const version = await step(
    'admission policy',
    async () => {
      const served = await servedPolicyVersion(admin);
      if (!served && !allowNone) throw new AcrFleetError(noPolicyApi(false));
      return served;
    },
    (v) => (v ? `admissionregistration.k8s.io/${v}` : noPolicyApi(true)),
  );
  for (const obj of version ? (admissionPolicyObjects(fence, version) as OwnedObject[]) : [])
    await step(describeObject(obj), () => admin.createOrUpdate(obj), written);
  return version;
}

/** Installs the webhook configuration of a cluster, its URL secret derived from the KMS key. */
export async function installWebhook(
  fleet: Fleet,
  cluster: string,
  admin: KubeAdminClient,
  caller: SdkOpenApiCaller,
  step: Step,
): Promise<void> {
  const obj = await step(
    'webhook',
    () => desiredWebhook(fleet, cluster, admin, caller),
    () => 'configured (URL secret derived from the KMS key)',
  );
  await step(describeObject(obj), () => admin.createOrUpdate(obj), written);
}

/** Opens the cluster with the operator's admin kubeconfig, in memory only; its credentials go to the redactor. */
function openAdmin(ctx: FlowContext, file: string, fleet: Fleet, step: Step): Promise<KubeAdminClient> {
  return step(
    'admin kubeconfig',
    () => connectKubeconfigFile(file, file, fleet.kubernetes, ctx.resolvePlugin, ctx.onSecret),
    () => 'loaded (used in memory only)',
  );
}

/** Takes the cluster out of fleet.yaml (comments and layout kept); a cluster already absent is reported so. */
export async function removeFromFleetFile(ctx: FlowContext, cluster: string, step: Step): Promise<void> {
  await step(
    ctx.configDisplay,
    async () => {
      const text = await readFile(ctx.configPath, 'utf8');
      const next = removeCluster(text, cluster);
      if (next !== text) await writeFleet(ctx.configPath, ctx.configDisplay, next, ctx.env);
      return next !== text;
    },
    (removed) => (removed ? `cluster ${cluster} removed` : `no cluster ${cluster}`),
  );
}

/**
 * The fleet.yaml registries `--registries` names (each checked, with "did you mean"); undefined keeps an
 * existing entry's own. A new cluster must name them: none is granted by default.
 */
function grantedRegistries(fleet: Fleet, opts: RegisterOptions, exists: boolean): string[] | undefined {
  const known = fleet.registries.map((r) => r.name);
  if (!opts.registries?.length) {
    if (exists) return undefined;
    throw new AcrFleetError(
      `cluster ${opts.cluster}: --registries is required for a new cluster (${fleet.file} has ${known.join(', ')}); acr-fleet grants no registry by default`,
    );
  }
  for (const name of opts.registries)
    if (!known.includes(name)) {
      const meant = closest(name, known);
      throw new AcrFleetError(
        `cluster ${opts.cluster}: --registries: no registry ${name} in ${fleet.file}${meant ? `; did you mean ${meant}?` : ` (it has ${known.join(', ')})`}`,
      );
    }
  return opts.registries;
}

/**
 * Removes everything acr-fleet put in a cluster, as an admin: the webhook first (nothing may re-create a
 * Secret meanwhile), its Secrets and imagePullSecrets entries, then its RBAC objects.
 */
export async function removeFromCluster(
  admin: KubeAdminClient,
  fleet: Fleet,
  clusterName: string,
  step: Step,
): Promise<void> {
  await step(describeObject(WEBHOOK_OBJECT), () => admin.remove(WEBHOOK_OBJECT), removed);
  await step(
    'secrets and imagePullSecrets',
    async () => {
      // The admin lists by label: every Secret acr-fleet ever owned here, whatever its name.
      const [namespaces, secrets, serviceAccounts] = await Promise.all([
        admin.listNamespaces(),
        admin.listSecrets({ labelSelector: OWNED_SELECTOR }),
        admin.listServiceAccounts(),
      ]);
      const results = await applyChanges(
        planRemoval({ namespaces, secrets, serviceAccounts }),
        admin,
        fleet.kubernetes.writeConcurrency,
      );
      const failed = results.find((r) => r.outcome === 'failed');
      if (failed) throw new AcrFleetError(`cluster ${clusterName}: ${failed.error ?? 'failed'}`);
      return countResults(results);
    },
    (n) => `${n.Secret.deleted} Secret(s) deleted, ${n.ServiceAccount.patched} ServiceAccount(s) cleaned`,
  );

  // Only kinds and names matter for removal: every object any settings install.
  const objects = rbacObjects({
    secretNames: [],
    serviceAccounts: '*',
    retiringServiceAccounts: [],
    configmap: true,
  }).reverse() as OwnedObject[];
  for (const obj of objects) await step(describeObject(obj), () => admin.remove(obj), removed);
  // The fence comes down after the rights it fenced.
  const policyVersion = await servedPolicyVersion(admin);
  const fence = policyVersion
    ? admissionPolicyObjects({ secretNames: [], excludedNamespaces: [], usernames: [] }, policyVersion)
    : [];
  for (const obj of fence.reverse() as OwnedObject[]) await step(describeObject(obj), () => admin.remove(obj), removed);
}

function requireRegion(fleet: Fleet): string {
  if (!fleet.regionId)
    throw new AcrFleetError(
      `${fleet.file}: regionId: required to store kubeconfigs in KMS (or set ALIBABA_CLOUD_REGION_ID)`,
    );
  return fleet.regionId;
}

/** How a write is shown in a step's line. */
export function written(r: WriteResult): string {
  return r === 'notOurs' ? 'not ours: left alone' : r;
}

/** How a removal is shown: nothing to remove is `absent`. */
export function removed(r: WriteResult): string {
  return r === 'unchanged' ? 'absent' : written(r);
}

/** One step of a flow: `step(name, run, outcome)`. */
export type Step = <T>(name: string, run: () => Promise<T>, outcome: (r: T) => string) => Promise<T>;

/** Runs one step: prints `cluster: step: outcome`, or throws `step: cause`. */
export function stepper(ctx: FlowContext, cluster: string): Step {
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
