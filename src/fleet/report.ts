/**
 * The refresh report: what `--json` prints and the FC handler returns. A cluster's row is a pure tally of
 * what its refresh came to ({@link tallyCluster}): the plan, the apply's per-object results, the failure.
 */
import type { ApplyResult } from '../reconcile/apply.js';
import { planEntries, type PlanEntry } from '../reconcile/explain.js';
import type { Plan } from '../reconcile/plan.js';
import type { SourceReport } from '../config/discover.js';

export interface ClusterReport {
  name: string;
  status: 'ok' | 'failed';
  /** Namespaces that hold (or, in a dry run, would hold) the Secret. */
  namespaces: number;
  secrets: { created: number; updated: number; unchanged: number; deleted: number };
  serviceAccounts: { patched: number; unchanged: number };
  /** Namespaces where a Secret of our name exists without our label: left alone. */
  conflicts: { namespace: string; name: string }[];
  /** Namespaces asked for but left alone (missing or terminating). */
  skipped: { namespace: string; reason: string }[];
  /** Kubernetes API requests made for this cluster (retries included). */
  requests: number;
  /** Requests sent again after a transient failure: a struggling API server shows here before it fails. */
  retries: number;
  /** Connections opened to the API server (TLS handshakes). */
  connections: number;
  durationMs: number;
  /** When the kubeconfig's credential stops working (RFC 3339), when it tells: register the cluster again before. */
  credentialExpiresAt?: string;
  /** The first failure, naming the cluster and the cause (each failure is logged). */
  error?: string;
  /**
   * `settings: configmap` only: ConfigMap entries refused because they asked for a registry, instance, region,
   * role or domain fleet.yaml does not allow this cluster (no token was fetched for them), each naming the cluster.
   */
  refused?: string[];
  /** Values of the cluster's ConfigMap that were clamped, each naming the cluster. */
  warnings?: string[];
  /** Dry run only: each change a refresh would make, with its reason. */
  plan?: PlanEntry[];
}

export interface TokenReport {
  registry: string;
  /** RFC 3339. */
  expiresAt: string;
  domains: string[];
  /** Cloud API calls sent again (throttling, 5xx, network) to get this token. */
  retries: number;
}

export interface FleetReport {
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  clusters: ClusterReport[];
  tokens: TokenReport[];
  summary: { clusters: number; ok: number; failed: number };
  /** What each `discovery:` source found, or why its listing failed (set by the entry points). */
  discovery?: SourceReport[];
}

/** What one cluster's refresh came to, before counting. */
export interface ClusterOutcome {
  name: string;
  dryRun: boolean;
  /** Absent when the cluster failed before it could be planned. */
  plan?: Plan;
  /** The apply's results; a dry run's are the ones predicted from the plan. */
  results: readonly ApplyResult[];
  /** What stopped the cluster before it could be applied (connect, ConfigMap, tokens, lists). */
  failure?: string;
  credentialExpiresAt?: string;
  /** The ConfigMap's refused entries and clamped values, without the cluster's name. */
  notices?: { refused: string[]; warnings: string[] };
  stats?: { requests: number; retries: number; connections: number };
  durationMs: number;
}

/** Every failure of a cluster, each naming the cluster: the one that stopped it, or each object's. */
export function failuresOf(o: Pick<ClusterOutcome, 'name' | 'failure' | 'results'>): string[] {
  const causes = o.failure !== undefined ? [o.failure] : o.results.flatMap((r) => (r.error ? [r.error] : []));
  return causes.map((c) => `cluster ${o.name}: ${c}`);
}

/** The report row of one cluster: counts of the results, the plan's unchanged objects, the first failure. */
export function tallyCluster(o: ClusterOutcome): ClusterReport {
  const { plan, stats } = o;
  const report: ClusterReport = {
    name: o.name,
    status: 'ok',
    namespaces: plan?.namespaces.length ?? 0,
    secrets: { created: 0, updated: 0, unchanged: plan?.unchangedSecrets ?? 0, deleted: 0 },
    serviceAccounts: { patched: 0, unchanged: plan?.unchangedServiceAccounts ?? 0 },
    conflicts: [...(plan?.conflicts ?? [])],
    skipped: plan?.skipped ?? [],
    requests: stats?.requests ?? 0,
    retries: stats?.retries ?? 0,
    connections: stats?.connections ?? 0,
    durationMs: o.durationMs,
  };
  if (o.credentialExpiresAt !== undefined) report.credentialExpiresAt = o.credentialExpiresAt;
  if (plan && o.dryRun) report.plan = planEntries(plan);
  if (o.notices?.refused.length) report.refused = o.notices.refused.map((r) => `cluster ${o.name}: ${r}`);
  if (o.notices?.warnings.length) report.warnings = o.notices.warnings.map((w) => `cluster ${o.name}: ${w}`);
  for (const r of o.results) {
    // A Secret counts as created, updated or deleted; a ServiceAccount as patched or unchanged; the rest do not.
    const counts: Record<string, number> = r.kind === 'Secret' ? report.secrets : report.serviceAccounts;
    if (r.outcome === 'conflict') report.conflicts.push({ namespace: r.namespace, name: r.name });
    else if (r.outcome in counts) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  }
  const [error] = failuresOf(o);
  if (error !== undefined) {
    report.status = 'failed';
    report.error = error;
  }
  return report;
}
