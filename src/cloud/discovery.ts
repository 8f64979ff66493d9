/**
 * The cluster lister discovery reads through (src/config/discovery.ts): ACK listings per region and ACK One
 * members per fleet instance, each fetched at most once per run (the promise is cached, failures too, so a
 * region that failed is not asked again by a second source in the same run).
 */
import type { ClusterLister, ListedCluster } from '../config/discover.js';
import { AdcpApi } from './adcp.js';
import { CsApi } from './cs.js';
import type { OpenApiCaller } from './openapi.js';

export function cachedClusterLister(caller: OpenApiCaller): ClusterLister {
  const cs = new CsApi(caller);
  const adcp = new AdcpApi(caller);
  const cache = new Map<string, Promise<ListedCluster[]>>();
  const once = (key: string, list: () => Promise<ListedCluster[]>) => {
    let p = cache.get(key);
    if (!p) cache.set(key, (p = list()));
    return p;
  };
  return {
    ackClusters: (region) => once(`ack\n${region}`, () => cs.listClusters(region)),
    ackOneMembers: (region, hub) => once(`ackOne\n${region}\n${hub}`, () => adcp.members(region, hub)),
  };
}
