/** The refresh report: what `--json` prints and the FC handler returns. */
import type { PlanEntry } from '../reconcile/explain.js';

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
  /** First failure, naming the cluster and the cause. */
  error?: string;
  /** Every failure, when more than one namespace or object failed. */
  errors?: string[];
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
}

/** A report row for a cluster before any work. */
export function emptyClusterReport(name: string): ClusterReport {
  return {
    name,
    status: 'ok',
    namespaces: 0,
    secrets: { created: 0, updated: 0, unchanged: 0, deleted: 0 },
    serviceAccounts: { patched: 0, unchanged: 0 },
    conflicts: [],
    skipped: [],
    requests: 0,
    retries: 0,
    connections: 0,
    durationMs: 0,
  };
}
