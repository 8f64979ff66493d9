/**
 * Discovery for the entry points: lists `discovery:` sources with the caller's credentials (the operator's
 * for the CLI, the function role's in FC), once per region and run, and adds what it finds to the fleet.
 */
import { cachedClusterLister } from '../cloud/discovery.js';
import type { CredentialClient } from '../cloud/credentials.js';
import { SdkOpenApiCaller } from '../cloud/openapi.js';
import { discoverClusters, type SourceReport } from '../config/discover.js';
import type { Fleet } from '../config/resolve.js';
import type { Logger } from '../log/logger.js';

/** The fleet with its discovered clusters, and what each source found (or why it failed). */
export async function discoverFleet(
  fleet: Fleet,
  credential: CredentialClient,
): Promise<{ fleet: Fleet; sources: SourceReport[] }> {
  if (!fleet.discovery?.length) return { fleet, sources: [] };
  const lister = cachedClusterLister(new SdkOpenApiCaller({ endpoints: fleet.endpoints, credential }));
  return discoverClusters(fleet, lister);
}

/** One line per source: what it found (info), each failed listing (error, event `discovery-failed`). */
export function logDiscovery(log: Logger, sources: readonly SourceReport[]): void {
  for (const s of sources) {
    log.info(`${s.label}: ${describeSource(s)}`, { event: 'discovery', source: s.source, clusters: s.clusters.length });
    for (const e of s.errors ?? []) log.error(e, { event: 'discovery-failed', source: s.source });
  }
}

/** `3 clusters (a, b, c); 1 already in clusters:; 1 not serving`. */
export function describeSource(s: SourceReport): string {
  const parts = [`${s.clusters.length} cluster(s)${s.clusters.length ? ` (${s.clusters.join(', ')})` : ''}`];
  if (s.claimed) parts.push(`${s.claimed} taken by clusters: or an earlier source`);
  if (s.skipped) parts.push(`${s.skipped} not serving (initial or deleting)`);
  if (s.errors?.length) parts.push(`${s.errors.length} listing(s) failed`);
  return parts.join('; ');
}

/** Whether a listing failed: the run then exits 1, like a failed cluster. */
export const discoveryFailed = (sources: readonly SourceReport[]): boolean => sources.some((s) => s.errors?.length);
