/**
 * The fleet runner: for each cluster (bounded concurrency) observe → plan → apply, isolating
 * failures per cluster and per namespace. Tokens come from the shared per-run broker.
 */
import pLimit from 'p-limit';
import type { Cluster, Fleet } from '../config/resolve.js';
import { AcrFleetError, describeError, isForbidden } from '../errors.js';
import type { ClusterClient } from '../kube/cluster-client.js';
import type { Logger } from '../log/logger.js';
import { applyChanges, predictedResults } from '../reconcile/apply.js';
import { planCluster } from '../reconcile/plan.js';
import { selectionOf } from '../reconcile/selection.js';
import type { Observed } from '../reconcile/state.js';
import type { TokenBroker } from '../tokens/broker.js';
import { failuresOf, tallyCluster, type ClusterOutcome, type ClusterReport, type FleetReport } from './report.js';

export interface RunDeps {
  broker: TokenBroker;
  /** Opens a cluster (loads its kubeconfig). Injected so tests and entry points choose the source. */
  connect(cluster: Cluster): Promise<ClusterClient>;
  log: Logger;
  now?: () => number;
  /** Called as each cluster finishes, for progress output. */
  onCluster?(report: ClusterReport, done: number, total: number): void;
  /** Log each cluster failure (default). The CLI's text output prints it once, in its report, instead. */
  logFailures?: boolean;
}

export interface RunOptions {
  dryRun?: boolean;
  /** Only these clusters (by name); all when absent. */
  only?: readonly string[];
  /**
   * When the report must be ready (epoch ms; FC's invocation deadline less a margin): a cluster still running
   * then fails, named, like one past `kubernetes.clusterTimeout`.
   */
  deadline?: number;
}

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
        const report = await refreshCluster(cluster, fleet, deps, opts, now);
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
  opts: RunOptions,
  now: () => number,
): Promise<ClusterReport> {
  const started = Date.now();
  const dryRun = opts.dryRun ?? false;
  const outcome: Omit<ClusterOutcome, 'durationMs'> = { name: cluster.name, dryRun, results: [] };
  let client: ClusterClient | undefined;
  // The cluster's wall-clock limit: its own, or what is left of the invocation, whichever ends first.
  const own = started + fleet.kubernetes.clusterTimeoutMs;
  const invocationFirst = opts.deadline !== undefined && opts.deadline < own;
  const late = new AcrFleetError(
    invocationFirst
      ? "stopped: the invocation's time ran out before this cluster finished; raise the function's timeout or lower shardSize"
      : `did not finish within kubernetes.clusterTimeout (${fleet.kubernetes.clusterTimeoutMs / 1000}s); raise it in fleet.yaml if the cluster is that slow`,
  );
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        expired = true;
        // Ends its requests on the wire; whatever the work does next fails at once.
        client?.close();
        reject(late);
      },
      Math.max(0, Math.min(own, opts.deadline ?? own) - started),
    );
  });
  const work = async () => {
    client = await deps.connect(cluster);
    if (expired) throw late;
    const connected = client;
    const credentialExpiresAt = checkCredentialExpiry(cluster.name, connected.credentialExpiresAt, deps.log, now());
    if (credentialExpiresAt !== undefined) outcome.credentialExpiresAt = credentialExpiresAt;
    // The lists start at once; a migrated cluster's ConfigMap and the tokens are fetched meanwhile.
    const observing = observe(connected, secretNamesOf(cluster));
    // Awaited below; this only keeps a failure of the ConfigMap step from leaving it unhandled.
    observing.catch(() => undefined);
    const selection = await selectionOf(cluster, fleet.registries, connected);
    if (selection.notices) outcome.notices = selection.notices;
    const [tokens, observed] = await Promise.all([
      Promise.all(selection.registries.map((r) => deps.broker.get(r))),
      observing,
    ]);
    const plan = planCluster(selection.settings, tokens, observed, now());
    outcome.plan = plan;
    outcome.results = dryRun
      ? predictedResults(plan)
      : await applyChanges(plan, connected, fleet.kubernetes.writeConcurrency);
  };
  const working = work();
  // Settles after the deadline too (its requests fail once closed): nothing is left unhandled.
  working.catch(() => undefined);
  deadline.catch(() => undefined);
  try {
    await Promise.race([working, deadline]);
  } catch (err) {
    outcome.failure = describeError(err);
  } finally {
    clearTimeout(timer);
  }
  if (client) {
    outcome.stats = client.stats;
    client.close();
  }
  const report = tallyCluster({ ...outcome, durationMs: Date.now() - started });
  // Each failure already names the cluster.
  if (deps.logFailures !== false)
    for (const failure of failuresOf(outcome)) deps.log.error(failure, { cluster: cluster.name });
  if (report.status === 'ok')
    deps.log.debug(`cluster ${cluster.name}: ok`, { cluster: cluster.name, requests: report.requests });
  for (const line of report.refused ?? []) deps.log.warn(line, { event: 'configmap-refused', cluster: cluster.name });
  for (const line of report.warnings ?? []) deps.log.warn(line, { cluster: cluster.name });
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

/** The credential's expiry (RFC 3339) for the report; warns within 30 days of it, errs once it passed. */
function checkCredentialExpiry(
  cluster: string,
  expiresAt: number | undefined,
  log: Logger,
  now: number,
): string | undefined {
  if (expiresAt === undefined) return undefined;
  const iso = new Date(expiresAt).toISOString();
  const left = expiresAt - now;
  if (left > CREDENTIAL_WARNING_MS) return iso;
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
  return iso;
}

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
export async function observe(client: ClusterClient, secretNames: readonly string[]): Promise<Observed> {
  const listNamed = (name: string, former: boolean) =>
    client.listSecrets({ name }).catch((err: unknown) => {
      if (former && isForbidden(err)) return [];
      throw err;
    });
  const [namespaces, secrets, serviceAccounts] = await Promise.all([
    client.listNamespaces(),
    Promise.all(secretNames.map((name, i) => listNamed(name, i > 0))).then((lists) => lists.flat()),
    client.listServiceAccounts(),
  ]);
  return { namespaces, secrets, serviceAccounts };
}
