/**
 * Merging what `discovery:` finds into the fleet (pure, given a lister): the sources' listings, the
 * tag and state filters, explicit entries winning, and the names of discovered clusters.
 */
import type { DiscoverySource } from './discovery.js';
import type { Cluster, KubeconfigRef } from './resolve.js';

/** A discovered cluster: the source's template with its own name and `ackClusterId` kubeconfig. */
export function discoveredCluster(
  source: DiscoverySource<Cluster>,
  found: { name: string; clusterId: string; regionId: string; ackName: string },
): Cluster {
  const kubeconfig: KubeconfigRef = {
    kind: 'ack',
    clusterId: found.clusterId,
    regionId: found.regionId,
    privateIpAddress: source.privateIpAddress,
    allowPrivateAddress: source.allowPrivateAddress,
  };
  return {
    ...source.template,
    name: found.name,
    kubeconfig,
    regionId: found.regionId,
    discovered: { source: source.path, clusterId: found.clusterId, ackName: found.ackName },
  };
}

/** A cluster as a listing reports it (CS DescribeClustersV1 or ADCP DescribeManagedClusters), checked. */
export interface ListedCluster {
  clusterId: string;
  /** The ACK name (remote text, bounded and without control characters). */
  name: string;
  regionId: string;
  state: string;
  tags: Record<string, string>;
  /** Creation time as the listing gives it: the older of two clusters of one name keeps the name. */
  created?: string;
}

/** Where discovery reads clusters from; the entry hands in one cached for the run (src/cloud/discovery.ts). */
export interface ClusterLister {
  /** Every ACK cluster of a region. */
  ackClusters(region: string): Promise<ListedCluster[]>;
  /** The member clusters of an ACK One fleet instance. */
  ackOneMembers(region: string, hubClusterId: string): Promise<ListedCluster[]>;
}

/** What one source found, for `validate`, `refresh` and `policy`. */
export interface SourceReport {
  source: string;
  label: string;
  /** Names of the clusters it added to the fleet. */
  clusters: string[];
  /** Found but taken by an explicit `clusters:` entry of the same cluster id, or by an earlier source. */
  claimed: number;
  /** Found but in a state without an API server to talk to (initial, deleting, deleted). */
  skipped: number;
  /** One line per failed listing: `<source label>: <region>: <cause>`. Nothing is removed for it. */
  errors?: string[];
}

/** ACK states in which a cluster has no API server to refresh (DescribeClustersV1 `state`). */
const NOT_SERVING = new Set(['initial', 'deleting', 'deleted', 'delete_failed']);

/**
 * A discovered cluster's name: its ACK name lowercased, every run of characters other than a-z, 0-9 and "-"
 * made one "-", trimmed of "-", at most 63 characters (a DNS-1123 label); the cluster id when nothing is left.
 */
export function clusterNameOf(ackName: string, clusterId: string): string {
  const base = ackName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return base || clusterId;
}

/**
 * The fleet with what `discovery:` finds added to `clusters`. Every source is listed (each region once,
 * through the lister's cache); a failed listing is reported on its source and removes nothing (its clusters
 * are only left out of this run). A cluster id named by an explicit `ackClusterId` entry stays that entry's;
 * a cluster two sources find takes the first source's settings. Names: see {@link clusterNameOf}; a name
 * already used by an explicit entry, or shared by discovered clusters, gets "-" and the first 6 characters
 * of the cluster id, except on the oldest cluster of that name (creation time, then id), which keeps it.
 */
export async function discoverClusters<F extends { clusters: Cluster[]; discovery?: DiscoverySource<Cluster>[] }>(
  fleet: F,
  lister: ClusterLister,
): Promise<{ fleet: F; sources: SourceReport[] }> {
  const sources = fleet.discovery ?? [];
  if (!sources.length) return { fleet, sources: [] };
  const explicitIds = new Set(
    fleet.clusters.flatMap((c) => (c.kubeconfig.kind === 'ack' ? [c.kubeconfig.clusterId] : [])),
  );
  const taken = new Set(fleet.clusters.map((c) => c.name));
  const claimed = new Set<string>();
  const found: { source: DiscoverySource<Cluster>; report: SourceReport; cluster: ListedCluster }[] = [];
  const reports: SourceReport[] = [];
  for (const source of sources) {
    const report: SourceReport = { source: source.path, label: source.label, clusters: [], claimed: 0, skipped: 0 };
    reports.push(report);
    const listings = await Promise.all(
      source.regions.map(async (region) => {
        try {
          return source.kind === 'ack'
            ? await lister.ackClusters(region)
            : await lister.ackOneMembers(region, source.hubClusterId ?? '');
        } catch (err) {
          (report.errors ??= []).push(
            `${source.label}: ${region}: ${err instanceof Error ? err.message : String(err)}`,
          );
          return [];
        }
      }),
    );
    for (const cluster of listings.flat()) {
      if (!Object.entries(source.tags).every(([k, v]) => cluster.tags[k] === v)) continue;
      if (NOT_SERVING.has(cluster.state)) {
        report.skipped++;
        continue;
      }
      if (explicitIds.has(cluster.clusterId) || claimed.has(cluster.clusterId)) {
        report.claimed++;
        continue;
      }
      claimed.add(cluster.clusterId);
      found.push({ source, report, cluster });
    }
  }
  // The oldest cluster of a name keeps it, whatever order the listings came in.
  const byBase = new Map<string, typeof found>();
  for (const f of found) {
    const base = clusterNameOf(f.cluster.name, f.cluster.clusterId);
    byBase.set(base, [...(byBase.get(base) ?? []), f]);
  }
  const added: Cluster[] = [];
  for (const [base, group] of [...byBase.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    group.sort(
      (a, b) =>
        (a.cluster.created ?? '').localeCompare(b.cluster.created ?? '') ||
        a.cluster.clusterId.localeCompare(b.cluster.clusterId),
    );
    group.forEach((f, i) => {
      const id = f.cluster.clusterId;
      let name = i === 0 && !taken.has(base) ? base : `${base.slice(0, 56).replace(/-+$/, '')}-${id.slice(0, 6)}`;
      if (taken.has(name)) name = id;
      taken.add(name);
      f.report.clusters.push(name);
      added.push(
        discoveredCluster(f.source, { name, clusterId: id, regionId: f.cluster.regionId, ackName: f.cluster.name }),
      );
    });
  }
  for (const r of reports) r.clusters.sort();
  return { fleet: { ...fleet, clusters: [...fleet.clusters, ...added] }, sources: reports };
}
