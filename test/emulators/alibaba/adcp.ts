/**
 * ACK One (Distributed Cloud Container Platform, ADCP) API 2022-01-01: `DescribeManagedClusters`, RPC POST `/`
 * with `ClusterId` (the fleet instance, i.e. the hub cluster) in the query, answering `{Clusters: [{Cluster:
 * {ClusterID, Name, Region, VpcID, State, ...}, MeshStatus: {InMesh}, Status: {State, Message}}], RequestId}`
 * (aliyun/alibabacloud-csharp-sdk adcp-20220101 DescribeManagedClustersResponseBody.cs; the TS/PHP/Go clients'
 * describeManagedClustersWithOptions: RPC, formData, json). Endpoint `adcp.<region>.aliyuncs.com`.
 */
import { ApiError, missingApiParameter } from './errors.js';
import { isoSeconds } from './identity.js';
import type { Operation, ProductModule } from './server.js';

/** A member cluster of a fleet instance, as DescribeManagedClusters reports it. */
export interface FleetMember {
  clusterId: string;
  name?: string;
  region: string;
  vpcId?: string;
  vswitchId?: string;
  clusterType?: string;
  clusterSpec?: string;
  profile?: string;
  state?: string;
  currentVersion?: string;
  /** Association state with the fleet (Status.State); default `Running`. */
  memberState?: string;
}

interface Fleet {
  accountId: string;
  region: string;
  hubClusterId: string;
  members: FleetMember[];
}

/** ACK One fleet instances (hub clusters) and their members. */
export class Adcp implements ProductModule {
  readonly product = 'adcp' as const;
  private readonly fleets = new Map<string, Fleet>();

  /** Registers a fleet instance (hub cluster id) with its member clusters; replaces an earlier one. */
  add(o: { accountId: string; region: string; hubClusterId: string; members: FleetMember[] }): void {
    this.fleets.set(o.hubClusterId, { ...o, members: o.members.map((m) => ({ ...m })) });
  }

  /** ADCP's RAM denial: the gateway's (code assumed, as for CR). */
  denied(_caller: unknown, ramAction: string, resource: string): ApiError {
    return new ApiError(403, 'Forbidden.RAM', `You are not authorized to perform ${ramAction} on ${resource}.`);
  }

  readonly operations: Operation[] = [
    {
      action: 'DescribeManagedClusters',
      version: '2022-01-01',
      handle: (ctx) => {
        const hub = ctx.params.ClusterId;
        if (!hub) throw missingApiParameter('ClusterId');
        const caller = ctx.requireCaller();
        ctx.authorize('adcp:DescribeManagedClusters', `acs:adcp:${ctx.region}:${caller.accountId}:hubcluster/${hub}`);
        const fleet = this.fleets.get(hub);
        if (!fleet || fleet.accountId !== caller.accountId || fleet.region !== ctx.region)
          throw new ApiError(404, 'NotFound.Cluster', `cluster ${hub} not found`);
        const created = isoSeconds(Date.now());
        return {
          RequestId: ctx.requestId,
          Clusters: fleet.members.map((m) => ({
            Cluster: {
              ClusterID: m.clusterId,
              Name: m.name ?? m.clusterId,
              Region: m.region,
              VpcID: m.vpcId ?? `vpc-${m.region}-default`,
              VSwitchID: m.vswitchId ?? '',
              ClusterType: m.clusterType ?? 'ManagedKubernetes',
              ClusterSpec: m.clusterSpec ?? 'ack.pro.small',
              Profile: m.profile ?? 'Default',
              State: m.state ?? 'running',
              CurrentVersion: m.currentVersion ?? '1.34.1-aliyun.1',
              InitVersion: m.currentVersion ?? '1.34.1-aliyun.1',
              ResourceGroupId: `rg-${fleet.accountId}`,
              Created: created,
              Updated: created,
            },
            MeshStatus: { InMesh: false },
            Status: { State: m.memberState ?? 'Running', Message: '' },
          })),
        };
      },
    },
  ];
}
