/**
 * The fleet runner: for each cluster (bounded concurrency) observe → plan → apply, isolating
 * failures per cluster and per namespace. Tokens come from the shared per-run broker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { Cluster, Fleet } from '../config/resolve.js';
import { describeError, KubeError } from '../errors.js';
import type { ClusterPort } from '../kube/port.js';
import type { Logger } from '../log/logger.js';
import {
  desiredPullSecrets,
  planCluster,
  type Plan,
  type SecretAction,
  type ServiceAccountPatch,
} from '../reconcile/plan.js';
import { planEntries } from '../reconcile/explain.js';
import { selectionOf } from '../reconcile/selection.js';
import type { Observed } from '../reconcile/state.js';
import type { TokenBroker } from '../tokens/broker.js';
import { emptyClusterReport, type ClusterReport, type FleetReport } from './report.js';

export interface RunDeps {
  broker: TokenBroker;
  /** Opens a cluster (loads its kubeconfig). Injected so tests and entry points choose the source. */
  connect(cluster: Cluster): Promise<ClusterPort>;
  log: Logger;
  now?: () => number;
  /** Called as each cluster finishes, for progress output. */
  onCluster?(report: ClusterReport, done: number, total: number): void;
}

export interface RunOptions {
  dryRun?: boolean;
  /** Only these clusters (by name); all when absent. */
  only?: readonly string[];
}

/** Attempts at a ServiceAccount patch that meets 409 (someone else writing it), as client-go's RetryOnConflict. */
const CONFLICT_ATTEMPTS = 5;

/** Refreshes the fleet and reports per cluster. Never throws for a cluster's failure. */
export async function refreshFleet(fleet: Fleet, deps: RunDeps, opts: RunOptions = {}): Promise<FleetReport> {
  const started = Date.now();
  const now = deps.now ?? Date.now;
  const clusters = opts.only ? fleet.clusters.filter((c) => opts.only?.includes(c.name)) : fleet.clusters;
  const limit = pLimit(fleet.concurrency);
  let done = 0;
  const reports = await Promise.all(
    clusters.map((cluster) =>
      limit(async () => {
        const report = await refreshCluster(cluster, fleet, deps, opts.dryRun ?? false, now);
        deps.onCluster?.(report, ++done, clusters.length);
        return report;
      }),
    ),
  );
  const tokens = (await deps.broker.fetched()).map((t) => ({
    registry: t.registry,
    expiresAt: new Date(t.expiresAt).toISOString(),
    domains: t.domains,
    retries: t.retries,
  }));
  const failed = reports.filter((r) => r.status === 'failed').length;
  return {
    dryRun: opts.dryRun ?? false,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    clusters: reports,
    tokens,
    summary: { clusters: reports.length, ok: reports.length - failed, failed },
  };
}

async function refreshCluster(
  cluster: Cluster,
  fleet: Fleet,
  deps: RunDeps,
  dryRun: boolean,
  now: () => number,
): Promise<ClusterReport> {
  const report = emptyClusterReport(cluster.name);
  const started = Date.now();
  let port: ClusterPort | undefined;
  try {
    port = await deps.connect(cluster);
    const connected = port;
    checkCredentialExpiry(cluster.name, connected.credentialExpiresAt, report, deps.log, now());
    // The lists start at once; a migrated cluster's ConfigMap and the tokens are fetched meanwhile.
    const observing = observe(connected, secretNamesOf(cluster));
    // Awaited below; this only keeps a failure of the ConfigMap step from leaving it unhandled.
    observing.catch(() => undefined);
    const effective = await selectionOf(cluster, fleet.registries, connected);
    const [tokens, observed] = await Promise.all([
      Promise.all(effective.registries.map((r) => deps.broker.get(r))),
      observing,
    ]);
    const plan = planCluster(effective.settings, tokens, observed, now());
    report.namespaces = plan.namespaces.length;
    report.skipped = plan.skipped;
    report.conflicts = [...plan.conflicts];
    if (dryRun) countPlan(plan, report);
    else await apply(plan, connected, report, fleet.kubernetes.writeConcurrency);
  } catch (err) {
    fail(report, describeError(err));
  }
  if (port) {
    report.requests = port.stats.requests;
    report.retries = port.stats.retries;
    report.connections = port.stats.connections;
    port.close();
  }
  report.durationMs = Date.now() - started;
  // report.error already names the cluster.
  if (report.status === 'failed')
    deps.log.error(report.error ?? `cluster ${cluster.name}: failed`, { cluster: cluster.name });
  else deps.log.debug(`cluster ${cluster.name}: ok`, { cluster: cluster.name, requests: report.requests });
  for (const c of report.conflicts) {
    deps.log.warn(
      `cluster ${cluster.name}: namespace ${c.namespace}: Secret ${c.name} exists and is not managed by acr-fleet; left alone`,
      { cluster: cluster.name },
    );
  }
  return report;
}

/** Warn this long before a kubeconfig credential expires. */
const CREDENTIAL_WARNING_MS = 30 * 24 * 3600 * 1000;

/** Puts the credential's expiry in the report; warns within 30 days of it, errs once it passed. */
function checkCredentialExpiry(
  cluster: string,
  expiresAt: number | undefined,
  report: ClusterReport,
  log: Logger,
  now: number,
): void {
  if (expiresAt === undefined) return;
  const iso = new Date(expiresAt).toISOString();
  report.credentialExpiresAt = iso;
  const left = expiresAt - now;
  if (left > CREDENTIAL_WARNING_MS) return;
  const daysLeft = Math.max(0, Math.floor(left / (24 * 3600 * 1000)));
  const fields = { event: 'credential-expiry', cluster, expiresAt: iso, daysLeft };
  if (left <= 0)
    log.error(
      `cluster ${cluster}: the kubeconfig credential expired at ${iso}; run \`acr-fleet register\` for this cluster again`,
      fields,
    );
  else
    log.warn(
      `cluster ${cluster}: the kubeconfig credential expires at ${iso} (${daysLeft} days left); run \`acr-fleet register\` for this cluster again before then`,
      fields,
    );
}

// Moved to the selection module; kept until webhook/install.ts imports it from there (then delete this line).
export { fromConfigMap } from '../reconcile/selection.js';

/**
 * The Secret names a cluster's identity may see: the one it writes, then former names still being cleaned
 * up (their owned Secrets are not wanted, so the planner deletes them). One list per name.
 */
function secretNamesOf(cluster: Cluster): string[] {
  return [cluster.secretName, ...(cluster.previousSecretNames ?? [])];
}

/**
 * The cluster-wide lists a plan is computed from. Secrets are listed by name (one list per name), the
 * only way an identity whose RBAC names its Secrets can list them; a label list would be refused.
 * A former name (all but the first) that the rules no longer grant (403) has nothing left under it:
 * `register` drops a name from the rules only once none of its Secrets remain.
 */
export async function observe(port: ClusterPort, secretNames: readonly string[]): Promise<Observed> {
  const listNamed = (name: string, former: boolean) =>
    port.listSecrets({ name }).catch((err: unknown) => {
      if (former && err instanceof KubeError && err.status === 403) return [];
      throw err;
    });
  const [namespaces, secrets, serviceAccounts] = await Promise.all([
    port.listNamespaces(),
    Promise.all(secretNames.map((name, i) => listNamed(name, i > 0))).then((lists) => lists.flat()),
    port.listServiceAccounts(),
  ]);
  return { namespaces, secrets, serviceAccounts };
}

/** Dry run: the report says what would change, and why. */
function countPlan(plan: Plan, report: ClusterReport): void {
  report.plan = planEntries(plan);
  for (const a of plan.secrets)
    report.secrets[a.op === 'create' ? 'created' : a.op === 'update' ? 'updated' : 'deleted']++;
  report.secrets.unchanged = plan.unchangedSecrets;
  report.serviceAccounts = { patched: plan.serviceAccounts.length, unchanged: plan.unchangedServiceAccounts };
}

/** Secrets first, then ServiceAccounts of namespaces whose Secret is in place. */
async function apply(plan: Plan, port: ClusterPort, report: ClusterReport, writeConcurrency: number): Promise<void> {
  report.secrets.unchanged = plan.unchangedSecrets;
  report.serviceAccounts.unchanged = plan.unchangedServiceAccounts;
  await applyChanges(plan, port, report, writeConcurrency);
}

/**
 * Applies a plan in the order that never leaves a reference to a missing Secret: creates and updates,
 * then the ServiceAccount patches of namespaces whose Secret is in place, then the deletes of Secrets no
 * longer referenced. A namespace whose Secret write or patch failed keeps its old Secret for the next run.
 */
export async function applyChanges(
  plan: Pick<Plan, 'secrets' | 'serviceAccounts'>,
  port: ClusterPort,
  report: ClusterReport,
  writeConcurrency: number,
): Promise<void> {
  const held = new Set<string>();
  const limit = pLimit(writeConcurrency);
  const each = <T>(items: readonly T[], namespace: (item: T) => string, run: (item: T) => Promise<boolean>) =>
    Promise.all(
      items.map((item) =>
        limit(async () => {
          try {
            if (!(await run(item))) held.add(namespace(item));
          } catch (err) {
            held.add(namespace(item));
            fail(report, describeError(err));
          }
        }),
      ),
    );
  const writes = plan.secrets.filter((a) => a.op !== 'delete');
  const deletes = plan.secrets.filter((a) => a.op === 'delete');
  // A Secret that turned out to be someone else's holds its namespace too: no reference is added to it.
  await each(writes, namespaceOf, (a) => applySecret(a, port, report));
  await each(
    plan.serviceAccounts.filter((p) => !held.has(p.namespace)),
    (p) => p.namespace,
    async (patch) => {
      if (await applyServiceAccount(patch, port)) report.serviceAccounts.patched++;
      else report.serviceAccounts.unchanged++;
      return true;
    },
  );
  await each(
    deletes.filter((a) => !held.has(namespaceOf(a))),
    namespaceOf,
    (a) => applySecret(a, port, report),
  );
}

/** Applies one Secret action; false when a create met a Secret of that name created meanwhile by someone else. */
async function applySecret(action: SecretAction, port: ClusterPort, report: ClusterReport): Promise<boolean> {
  switch (action.op) {
    case 'create':
      if ((await port.createSecret(action.secret)) === 'exists') {
        report.conflicts.push({ namespace: action.secret.namespace, name: action.secret.name });
        return false;
      }
      report.secrets.created++;
      return true;
    case 'update':
      await port.replaceSecret(action.secret, action.resourceVersion);
      report.secrets.updated++;
      return true;
    case 'delete':
      await port.deleteSecret(action.namespace, action.name, action.resourceVersion);
      report.secrets.deleted++;
      return true;
  }
}

/**
 * Patches a ServiceAccount. On a 409 (someone changed it since it was read) re-reads it and re-applies
 * the same intent to the fresh entries, a few times, as client-go's RetryOnConflict does. Returns false
 * when someone else's change left nothing to do.
 */
async function applyServiceAccount(patch: ServiceAccountPatch, port: ClusterPort): Promise<boolean> {
  let target = { resourceVersion: patch.resourceVersion, imagePullSecrets: patch.imagePullSecrets };
  for (let attempt = 1; ; attempt++) {
    try {
      await port.setImagePullSecrets(patch.namespace, patch.name, target.resourceVersion, target.imagePullSecrets);
      return true;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409) || attempt >= CONFLICT_ATTEMPTS) throw err;
    }
    await sleep(10 * attempt * (0.9 + Math.random() * 0.2));
    const fresh = await port.readServiceAccount(patch.namespace, patch.name);
    const next = desiredPullSecrets(fresh, patch.add, new Set(patch.remove));
    // Nothing left to do: if the list is exactly the one sent, that was most likely this patch itself, whose
    // answer was lost and whose repeat met its own resourceVersion bump.
    if (!next) return fresh.imagePullSecrets.join('\n') === target.imagePullSecrets.join('\n');
    target = { resourceVersion: fresh.resourceVersion, imagePullSecrets: next };
  }
}

function namespaceOf(a: SecretAction): string {
  return a.op === 'delete' ? a.namespace : a.secret.namespace;
}

function fail(report: ClusterReport, message: string): void {
  report.status = 'failed';
  const text = `cluster ${report.name}: ${message}`;
  if (!report.error) report.error = text;
  else (report.errors ??= [report.error]).push(text);
}
