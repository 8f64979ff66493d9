/** ACK One (ADCP 2022-01-01): the member clusters of a fleet instance, for discovery. */
import { CloudError } from '../errors.js';
import type { AckClusterListing } from './cs.js';
import type { OpenApiCaller } from './openapi.js';

const CLUSTER_ID = /^c[a-z0-9]{1,63}$/;

export class AdcpApi {
  constructor(private readonly api: OpenApiCaller) {}

  /**
   * Members of the fleet instance whose hub cluster is `hubClusterId` (`DescribeManagedClusters`). Members
   * carry no tags here; their own region comes from the answer.
   */
  async members(region: string, hubClusterId: string): Promise<AckClusterListing[]> {
    const action = 'DescribeManagedClusters';
    const body = await this.api.rpc({
      product: 'adcp',
      region,
      action,
      version: '2022-01-01',
      query: { ClusterId: hubClusterId },
    });
    if (!Array.isArray(body.Clusters))
      throw new CloudError(`${action}: unexpected response (no Clusters)`, { code: 'UnexpectedResponse' });
    const text = (v: unknown, max: number) => (typeof v === 'string' ? v.replace(/\p{Cc}/gu, '').slice(0, max) : '');
    return (body.Clusters as unknown[]).flatMap((raw) => {
      const c = ((raw ?? {}) as { Cluster?: Record<string, unknown> }).Cluster ?? {};
      const id = typeof c.ClusterID === 'string' ? c.ClusterID : '';
      if (!CLUSTER_ID.test(id)) return [];
      return [
        { clusterId: id, name: text(c.Name, 253), regionId: text(c.Region, 64), state: text(c.State, 32), tags: {} },
      ];
    });
  }
}
