/**
 * `register` and `deregister` of ACK clusters without kubeconfigs (`--ack-cluster-id`, `--discovered`). The
 * operator works with its own RAM identity: a temporary ACK kubeconfig (DescribeClusterUserKubeconfig, 15
 * minutes, used in memory) installs acr-fleet's ClusterRole and, where enabled, the webhook configuration;
 * then ACK's GrantPermissions binds the FUNCTION's RAM role to that ClusterRole (a custom ClusterRole grant:
 * `role_type: cluster`, `is_custom: true`, `is_ram_role: true`), so ACK creates the ClusterRoleBinding for the
 * role's Kubernetes user (its RoleId) and every run's 15-minute kubeconfig of the function is allowed exactly
 * that. Nothing is stored in KMS. GrantPermissions replaces every grant of the role, so the role's current
 * grants are read first (DescribeUserPermission) and sent back with ours added or taken away.
 */
import { readFile } from 'node:fs/promises';
import { cachedClusterLister } from '../cloud/discovery.js';
import { CsApi, type AckGrant } from '../cloud/cs.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { RamApi } from '../cloud/ram.js';
import { clusterNameOf, discoverClusters, type SourceReport } from '../config/discover.js';
import { upsertAckCluster, writeFleet } from '../config/edit.js';
import { loadFleet, parseFleet } from '../config/load.js';
import type { Cluster, Fleet } from '../config/resolve.js';
import { AcrFleetError, describeError } from '../errors.js';
import { connectKubeconfigText, type KubeAdminClient } from '../kube/admin.js';
import { describeObject, type OwnedObject } from '../kube/objects.js';
import { IDENTITY, rbacObjects, rbacSettingsOf } from '../policy/rbac.js';
import { admissionSettingsOf } from '../policy/admission.js';
import {
  installFence,
  installWebhook,
  removeFromCluster,
  removeFromFleetFile,
  stepper,
  written,
  type FlowContext,
  type Step,
} from './flows.js';

/** Where the function's role comes from when `--function-role-arn` is not given. */
export const FUNCTION_ROLE_ENV = 'ACR_FLEET_FUNCTION_ROLE_ARN';

export interface AckRegisterOptions {
  /** `--ack-cluster-id`: one cluster. */
  clusterId?: string;
  /** `--region`: its region (default: the one fleet.yaml or discovery gives it, else the top-level regionId). */
  region?: string;
  /** `--cluster`: its name in fleet.yaml (default: derived from its ACK name). */
  name?: string;
  /** `--discovered`: every discovered cluster whose grant is missing. */
  discovered?: boolean;
  /** `--function-role-arn`, else `$ACR_FLEET_FUNCTION_ROLE_ARN`. */
  functionRoleArn?: string;
  /** Also install the webhook configuration (it is installed anyway where the cluster has it enabled). */
  webhook?: boolean;
  /** Register on a server that serves no ValidatingAdmissionPolicy API (the identity is then fenced by RBAC only). */
  allowNoAdmissionPolicy?: boolean;
}

/** The grant that binds the function's role to acr-fleet's ClusterRole in one cluster. */
export function fleetGrant(clusterId: string): AckGrant {
  return {
    cluster: clusterId,
    role_name: IDENTITY.name,
    role_type: 'cluster',
    namespace: '',
    is_custom: true,
    is_ram_role: true,
  };
}

const isFleetGrant = (g: AckGrant, clusterId?: string) =>
  g.is_custom && g.role_type === 'cluster' && g.role_name === IDENTITY.name && (!clusterId || g.cluster === clusterId);

/** What a registration did: the clusters registered, those already registered, and the failures. */
export interface AckRegisterResult {
  registered: string[];
  unchanged: string[];
  failed: string[];
}

/**
 * Registers one ACK cluster or every discovered one not yet registered. A cluster that fails is named and
 * the others still go on; the grant is made for those whose objects are in place. Throws when any failed.
 */
export async function registerAck(ctx: FlowContext, opts: AckRegisterOptions): Promise<AckRegisterResult> {
  const roleArn = functionRole(opts, ctx.env);
  const roleName = roleArn.replace(/^acs:ram::\d+:role\//, '');
  const loaded = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const caller = new SdkOpenApiCaller({ endpoints: loaded.endpoints, credential: ctx.credential });
  const cs = new CsApi(caller);
  const { fleet, sources } = await discoverClusters(loaded, cachedClusterLister(caller));
  const failures = reportSources(ctx, sources);

  let targets: Cluster[];
  let entry: { name: string; clusterId: string; regionId: string } | undefined;
  if (opts.discovered) {
    if (!fleet.discovery?.length)
      throw new AcrFleetError(`${ctx.configDisplay}: --discovered: no discovery: sources in this file`);
    targets = fleet.clusters.filter((c) => c.discovered);
  } else {
    const id = opts.clusterId ?? '';
    const known = fleet.clusters.find((c) => c.kubeconfig.kind === 'ack' && c.kubeconfig.clusterId === id);
    if (known) targets = [known];
    else {
      entry = await newEntry(ctx, fleet, cs, id, opts);
      const text = upsertAckCluster(await readFile(ctx.configPath, 'utf8'), entry);
      const parsed = parseFleet(text, { file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
      targets = parsed.clusters.filter((c) => c.name === entry?.name);
    }
  }
  const home = fleet.regionId ?? targets[0]?.regionId ?? opts.region;
  if (!home) throw new AcrFleetError(`${ctx.configDisplay}: regionId: required for the ACK permission calls`);
  const roleStep = roleStepper(ctx, roleName);
  const uid = await roleStep(
    'kubernetes user',
    () => new RamApi(caller).roleId(home, roleName),
    (id) => `${id} (ACK maps every session of the role to this RoleId)`,
  );
  const grants = await roleStep(
    'grants',
    () => cs.userPermissions(home, uid),
    (g) => `${g.length} (${g.filter((x) => isFleetGrant(x)).length} to acr-fleet's ClusterRole)`,
  );
  const granted = new Set(grants.filter((g) => isFleetGrant(g)).map((g) => g.cluster));
  const todo = opts.discovered ? targets.filter((c) => !granted.has(clusterIdOf(c))) : targets;
  const result: AckRegisterResult = {
    registered: [],
    unchanged: targets.filter((c) => !todo.includes(c)).map((c) => c.name),
    failed: [],
  };
  for (const name of result.unchanged) ctx.progress(`${name}: already registered (acr-fleet grant present)`);

  const installed: Cluster[] = [];
  for (const cluster of todo) {
    try {
      await install(ctx, fleet, cluster, caller, cs, { ...opts, ramUser: uid });
      installed.push(cluster);
    } catch (err) {
      failures.push(describeError(err));
      result.failed.push(cluster.name);
    }
  }
  const missing = installed.filter((c) => !granted.has(clusterIdOf(c)));
  if (missing.length) {
    const next = [...grants, ...missing.map((c) => fleetGrant(clusterIdOf(c)))];
    await roleStep(
      'grant',
      () => cs.grantPermissions(home, uid, next).catch((err: unknown) => Promise.reject(grantError(err))),
      () =>
        `bound to ClusterRole ${IDENTITY.name} in ${missing.map((c) => c.name).join(', ')} (${next.length} grant(s) in all, the others kept)`,
    );
  }
  result.registered = installed.map((c) => c.name);
  if (entry) {
    const added = entry;
    await stepper(ctx, added.name)(
      ctx.configDisplay,
      async () => {
        const current = await readFile(ctx.configPath, 'utf8');
        await writeFleet(ctx.configPath, ctx.configDisplay, upsertAckCluster(current, added), ctx.env);
      },
      () => `cluster ${added.name} uses kubeconfig { ackClusterId: ${added.clusterId} } (nothing stored in KMS)`,
    );
  }
  if (failures.length) throw new AcrFleetError(failures.join('; '));
  return result;
}

/** Removes acr-fleet from an ACK cluster and takes the function role's grant there away (keeping the others). */
export async function deregisterAck(
  ctx: FlowContext,
  opts: { clusterId?: string; name?: string; functionRoleArn?: string },
): Promise<string> {
  const roleArn = functionRole(opts, ctx.env);
  const roleName = roleArn.replace(/^acs:ram::\d+:role\//, '');
  const loaded = await loadFleet({ file: ctx.configDisplay, path: ctx.configPath, env: ctx.env });
  const caller = new SdkOpenApiCaller({ endpoints: loaded.endpoints, credential: ctx.credential });
  const cs = new CsApi(caller);
  const { fleet, sources } = await discoverClusters(loaded, cachedClusterLister(caller));
  reportSources(ctx, sources);
  const cluster = fleet.clusters.find((c) =>
    opts.clusterId
      ? c.kubeconfig.kind === 'ack' && c.kubeconfig.clusterId === opts.clusterId
      : c.name === opts.name && c.kubeconfig.kind === 'ack',
  );
  if (!cluster || cluster.kubeconfig.kind !== 'ack')
    throw new AcrFleetError(
      `${ctx.configDisplay}: no ACK cluster ${opts.clusterId ?? opts.name ?? ''} in clusters: or found by discovery:`,
    );
  const ref = cluster.kubeconfig;
  const step = stepper(ctx, cluster.name);
  const admin = await openAckAdmin(ctx, cs, fleet, ref, step);
  try {
    await removeFromCluster(admin, fleet, cluster.name, step);
  } finally {
    admin.close();
  }
  const home = fleet.regionId ?? ref.regionId;
  const roleStep = roleStepper(ctx, roleName);
  const uid = await roleStep(
    'kubernetes user',
    () => new RamApi(caller).roleId(home, roleName),
    (id) => id,
  );
  const grants = await roleStep(
    'grants',
    () => cs.userPermissions(home, uid),
    (g) => String(g.length),
  );
  const kept = grants.filter((g) => !isFleetGrant(g, ref.clusterId));
  await roleStep(
    `grant in ${cluster.name}`,
    async () => {
      if (kept.length === grants.length) return false;
      await cs.grantPermissions(home, uid, kept).catch((err: unknown) => Promise.reject(grantError(err)));
      return true;
    },
    (changed) => (changed ? `removed (${kept.length} other grant(s) kept)` : 'absent'),
  );
  if (cluster.discovered)
    ctx.progress(
      `${cluster.name}: still found by ${cluster.discovered.source}: remove its tag (or the source), or the next run finds it again and fails there`,
    );
  else await removeFromFleetFile(ctx, cluster.name, step);
  return cluster.name;
}

/**
 * The operator's temporary ACK kubeconfig of a cluster, opened in memory: read as data, its credentials (the
 * operator's own) given to the redactor; nothing stored in KMS.
 */
async function openAckAdmin(
  ctx: FlowContext,
  cs: CsApi,
  fleet: Fleet,
  ref: Extract<Cluster['kubeconfig'], { kind: 'ack' }>,
  step: Step,
): Promise<KubeAdminClient> {
  const text = await step(
    'kubeconfig',
    () => cs.temporaryKubeconfig(ref.regionId, ref.clusterId, ref.privateIpAddress),
    () => 'temporary, for your own RAM identity (used in memory only, nothing stored in KMS)',
  );
  // Issued by ACK's API to the operator, not handed over by a tenant: no plugin, file or metadata address, but the
  // address is where the operator's own machine reaches the cluster (a tunnel on loopback included).
  return connectKubeconfigText(text, `ACK cluster ${ref.clusterId}`, fleet.kubernetes, {
    data: { allowPrivateAddress: true },
    onSecret: ctx.onSecret,
  });
}

/** Installs acr-fleet's objects with the operator's temporary kubeconfig. Throws naming the cluster and step. */
async function install(
  ctx: FlowContext,
  fleet: Fleet,
  cluster: Cluster,
  caller: SdkOpenApiCaller,
  cs: CsApi,
  opts: Pick<AckRegisterOptions, 'webhook' | 'allowNoAdmissionPolicy'> & { ramUser: string },
): Promise<void> {
  const webhook = opts.webhook ?? false;
  const ref = cluster.kubeconfig;
  const step = stepper(ctx, cluster.name);
  if (ref.kind !== 'ack') throw new AcrFleetError(`cluster ${cluster.name}: not an ACK cluster`);
  if (cluster.settingsSource === 'configmap')
    throw new AcrFleetError(
      `cluster ${cluster.name}: settings: configmap needs a kubeconfig registration (register --kubeconfig); ACK grants bind ClusterRoles only`,
    );
  const admin = await openAckAdmin(ctx, cs, fleet, ref, step);
  try {
    // The fence goes up before the rights it fences: it matches the role's Kubernetes user (its RoleId) too.
    const fence = admissionSettingsOf(cluster, { ramUser: opts.ramUser });
    await installFence(admin, fence, opts.allowNoAdmissionPolicy ?? false, step);
    // The function's identity is the role's Kubernetes user, bound by ACK: only the ClusterRole is ours to install.
    const role = rbacObjects(rbacSettingsOf(cluster)).filter((o) => o.kind === 'ClusterRole') as OwnedObject[];
    for (const obj of role) await step(describeObject(obj), () => admin.createOrUpdate(obj), written);
    if (webhook || cluster.webhook.enabled) {
      await installWebhook(fleet, cluster.name, admin, caller, step);
    }
  } finally {
    admin.close();
  }
}

/** The fleet.yaml entry of a cluster `--ack-cluster-id` names that fleet.yaml and discovery do not know. */
async function newEntry(
  ctx: FlowContext,
  fleet: Fleet,
  cs: CsApi,
  clusterId: string,
  opts: AckRegisterOptions,
): Promise<{ name: string; clusterId: string; regionId: string }> {
  const regionId = opts.region ?? fleet.regionId;
  if (!regionId)
    throw new AcrFleetError(`cluster ${clusterId}: --region: required (no top-level regionId in ${ctx.configDisplay})`);
  const listed = (await cs.listClusters(regionId)).find((c) => c.clusterId === clusterId);
  if (!listed) throw new AcrFleetError(`cluster ${clusterId}: not found in ${regionId} (DescribeClustersV1)`);
  const taken = new Set(fleet.clusters.map((c) => c.name));
  let name = opts.name ?? clusterNameOf(listed.name, clusterId);
  if (!opts.name && taken.has(name)) name = `${name.slice(0, 56).replace(/-+$/, '')}-${clusterId.slice(0, 6)}`;
  if (taken.has(name))
    throw new AcrFleetError(`cluster ${clusterId}: the name ${name} is taken in ${ctx.configDisplay}; pass --cluster`);
  return { name, clusterId, regionId };
}

function functionRole(opts: { functionRoleArn?: string }, env: Record<string, string | undefined>): string {
  const arn = opts.functionRoleArn ?? env[FUNCTION_ROLE_ENV];
  if (!arn)
    throw new AcrFleetError(
      `--function-role-arn: required (or ${FUNCTION_ROLE_ENV}): the RAM role of the deployed function, which ACK grants acr-fleet's ClusterRole`,
    );
  if (!/^acs:ram::\d+:role\/[A-Za-z0-9.-]{1,64}$/.test(arn))
    throw new AcrFleetError(
      `--function-role-arn: expected a role ARN such as acs:ram::123456789012:role/acr-fleet, got ${JSON.stringify(arn.slice(0, 80))}`,
    );
  return arn;
}

/** Steps about the function's role: `function role NAME: step: outcome`, or thrown with that prefix. */
function roleStepper(ctx: FlowContext, roleName: string): Step {
  return async (name, run, outcome) => {
    let result;
    try {
      result = await run();
    } catch (err) {
      throw new AcrFleetError(`function role ${roleName}: ${name}: ${describeError(err)}`, { cause: err });
    }
    ctx.progress(`function role ${roleName}: ${name}: ${outcome(result)}`);
    return result;
  };
}

const clusterIdOf = (c: Cluster) => (c.kubeconfig.kind === 'ack' ? c.kubeconfig.clusterId : '');

/** Each source's findings as progress; its failed listings as failures (the run goes on without them). */
function reportSources(ctx: FlowContext, sources: readonly SourceReport[]): string[] {
  for (const s of sources) ctx.progress(`${s.label}: ${s.clusters.length} cluster(s)`);
  return sources.flatMap((s) => s.errors ?? []);
}

/** GrantPermissions refused: say what the operator lacks. */
function grantError(err: unknown): Error {
  const text = describeError(err);
  if (!/ForbiddenGrantPermissions|StatusForbidden/.test(text)) return err instanceof Error ? err : new Error(text);
  return new AcrFleetError(
    `${text} (the operator must be an RBAC administrator in ACK (console: Authorizations) of every cluster the function's role has grants on)`,
    { cause: err },
  );
}
