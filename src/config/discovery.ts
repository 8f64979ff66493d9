/**
 * `discovery:` in fleet.yaml: cluster sources next to `clusters:`. ACK clusters selected by regions and tags
 * (CS DescribeClustersV1), or the member clusters of an ACK One fleet instance (ADCP DescribeManagedClusters).
 * Each source may override the defaults for the clusters it finds (`settings`); the first source that finds a
 * cluster gives its settings. This module holds the schema part, the checks the schema cannot express, and
 * the resolved form; listing and merging happen in src/fleet/discover.ts.
 */
import * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { REGION, REGION_MESSAGE } from './rules.js';
import type { Cluster, KubeconfigRef } from './resolve.js';

const region = z.string().regex(REGION, REGION_MESSAGE);
const hubClusterId = z
  .string()
  .regex(/^c[a-z0-9]+$/, 'expected the ACK One fleet instance (hub cluster) id, such as c4f2a1b9e8d7c6b5a');
/** ACK tag keys and values: what the console accepts (keys 1..128, values 0..128, no control characters). */
const tagKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]+$/u, 'expected a tag key without control characters');
const tagValue = z
  .string()
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, 'expected a tag value without control characters');

/** The schema of `discovery:`; `settings` is the shape of the settings a cluster may override. */
export function discoverySchema(settings: z.ZodRawShape, registryName: z.ZodType) {
  const sourceSettings = z
    .strictObject({
      ...settings,
      registries: z
        .array(registryName)
        .min(1)
        .optional()
        .describe('Registries whose credentials the discovered clusters get. Default: all.'),
    })
    .optional()
    .describe('Overrides of defaults for the clusters this source finds (first matching source wins).');
  const privateIpAddress = z
    .boolean()
    .optional()
    .describe("Use the API servers' internal (VPC) addresses. Default: false.");
  const ack = z.strictObject({
    regions: z.array(region).min(1).describe('Regions to list ACK clusters in (one DescribeClustersV1 listing each).'),
    tags: z
      .record(tagKey, tagValue)
      .refine((t) => Object.keys(t).length > 0, { error: 'expected at least one tag (key: value)' })
      .describe('Tags a cluster must carry, every one of them, to be found (ACK tags, e.g. acr-fleet: enabled).'),
    privateIpAddress,
    settings: sourceSettings,
  });
  const ackOne = z.strictObject({
    hubClusterId: hubClusterId.describe('The ACK One fleet instance (its hub cluster id) whose members are found.'),
    region: region.optional().describe('Region of the fleet instance. Default: the top-level regionId.'),
    privateIpAddress,
    settings: sourceSettings,
  });
  return z
    .array(
      z.union(
        [
          z.strictObject({ ack: ack.describe('ACK clusters selected by regions and tags.') }),
          z.strictObject({ ackOne: ackOne.describe('Member clusters of an ACK One fleet instance.') }),
        ],
        { error: 'expected { ack: { regions, tags } } or { ackOne: { hubClusterId } }' },
      ),
    )
    .min(1)
    .describe(
      'Cluster sources: each found cluster joins the fleet with { ackClusterId } credentials and a name derived from its ACK name. Explicit clusters: entries win over discovered ones of the same cluster id.',
    );
}

/** One source, resolved. `template` is a cluster with the source's settings; discovery fills name and kubeconfig. */
export interface DiscoverySource {
  /** Where it is in fleet.yaml: `discovery[0]`. */
  path: string;
  kind: 'ack' | 'ackOne';
  /** `discovery[0] (ack cn-hangzhou, cn-beijing; acr-fleet=enabled)`: how reports and errors name it. */
  label: string;
  /** Regions listed (ack), or the fleet instance's region (ackOne). */
  regions: string[];
  hubClusterId?: string;
  tags: Record<string, string>;
  privateIpAddress: boolean;
  template: Cluster;
}

/** A discovery entry as the schema accepted it. */
export type DiscoveryEntry =
  | { ack: { regions: string[]; tags: Record<string, string>; privateIpAddress?: boolean; settings?: object } }
  | { ackOne: { hubClusterId: string; region?: string; privateIpAddress?: boolean; settings?: object } };

/**
 * Resolves the sources. `resolve` turns a cluster entry (the source's settings, a placeholder name and an
 * `ackClusterId` kubeconfig) into a resolved cluster, with the defaults merged as for any `clusters:` entry.
 */
export function resolveDiscovery(
  entries: readonly DiscoveryEntry[],
  regionId: string | undefined,
  resolve: (entry: Record<string, unknown>) => Cluster,
): { sources: DiscoverySource[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const sources = entries.map((e, i): DiscoverySource => {
    const path = `discovery[${i}]`;
    const spec = 'ack' in e ? e.ack : e.ackOne;
    const regions = 'ack' in e ? [...new Set(e.ack.regions)] : [e.ackOne.region ?? regionId ?? ''];
    if ('ackOne' in e && !regions[0])
      problems.push({
        path: `${path}.ackOne.region`,
        message: 'required: no top-level regionId, and neither FC_REGION nor ALIBABA_CLOUD_REGION_ID is set',
      });
    const tags = 'ack' in e ? e.ack.tags : {};
    const label =
      'ack' in e
        ? `${path} (ack ${regions.join(', ')}; ${Object.entries(tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : `${path} (ackOne ${e.ackOne.hubClusterId} in ${regions[0] ?? ''})`;
    const template = resolve({
      ...(spec.settings ?? {}),
      name: 'discovered',
      kubeconfig: { ackClusterId: 'c0', regionId: regions[0] || 'cn-hangzhou' },
    });
    return {
      path,
      kind: 'ack' in e ? 'ack' : 'ackOne',
      label,
      regions,
      ...('ackOne' in e ? { hubClusterId: e.ackOne.hubClusterId } : {}),
      tags,
      privateIpAddress: spec.privateIpAddress ?? false,
      template,
    };
  });
  return { sources, problems };
}

/** A discovered cluster: the source's template with its own name and `ackClusterId` kubeconfig. */
export function discoveredCluster(
  source: DiscoverySource,
  found: { name: string; clusterId: string; regionId: string; ackName: string },
): Cluster {
  const kubeconfig: KubeconfigRef = {
    kind: 'ack',
    clusterId: found.clusterId,
    regionId: found.regionId,
    privateIpAddress: source.privateIpAddress,
  };
  return {
    ...source.template,
    name: found.name,
    kubeconfig,
    regionId: found.regionId,
    discovered: { source: source.path, clusterId: found.clusterId, ackName: found.ackName },
  };
}

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the schema cannot say about `discovery:` and `clusters:` together: a fleet needs one of them; a
 * source's registries must exist (`reference` reports unknown names with a suggestion).
 */
export function discoveryProblems(doc: Raw, reference: (path: string, value: unknown) => void): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const discovery = Array.isArray(doc.discovery) ? doc.discovery : undefined;
  if (!discovery) {
    if (doc.clusters === undefined) problems.push({ path: 'clusters', message: 'required (or discovery:)' });
    else if (Array.isArray(doc.clusters) && doc.clusters.length === 0)
      problems.push({ path: 'clusters', message: 'expected at least 1 item(s)' });
    return problems;
  }
  discovery.forEach((entry, i) => {
    if (!isMap(entry)) return;
    for (const kind of ['ack', 'ackOne'] as const) {
      const spec = entry[kind];
      if (!isMap(spec) || !isMap(spec.settings)) continue;
      const registries = spec.settings.registries;
      if (Array.isArray(registries))
        registries.forEach((r, j) => reference(`discovery[${i}].${kind}.settings.registries[${j}]`, r));
    }
  });
  return problems;
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
export async function discoverClusters<F extends { clusters: Cluster[]; discovery?: DiscoverySource[] }>(
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
  const found: { source: DiscoverySource; report: SourceReport; cluster: ListedCluster }[] = [];
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
