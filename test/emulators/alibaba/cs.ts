/**
 * Container Service for Kubernetes (ACK), API 2015-12-15: ROA
 * `GET /k8s/{ClusterId}/user_config?PrivateIpAddress=&TemporaryDurationMinutes=` → `{config, expiration}`
 * (aliyun/alibabacloud-typescript-sdk cs-20151215 models DescribeClusterUserKubeconfigRequest/ResponseBody;
 * CS API doc "获取集群kubeconfig接口").
 */
import { ApiError } from './errors.js';
import { isoSeconds } from './identity.js';
import type { Operation, ProductModule } from './server.js';

/** An ACK cluster whose kubeconfig is produced on demand. */
interface Cluster {
  accountId: string;
  region: string;
  clusterId: string;
  kubeconfig: (temporaryDurationMinutes: number) => string;
}

/**
 * Without TemporaryDurationMinutes the service picks "a longer validity period" (API doc); three years here,
 * which matches the lifetime of the client certificate in a non-temporary ACK kubeconfig (assumed).
 */
const DEFAULT_MINUTES = 3 * 365 * 24 * 60;

/** ACK clusters per account and region. */
export class Cs implements ProductModule {
  readonly product = 'cs' as const;
  private readonly clusters = new Map<string, Cluster>();

  /** Registers a cluster. */
  add(o: Cluster): void {
    this.clusters.set(o.clusterId, { ...o });
  }

  /** ACK's RAM denial: 403 ErrorCheckAcl (common ACK API error codes). */
  denied(_caller: unknown, ramAction: string, resource: string): ApiError {
    return new ApiError(
      403,
      'ErrorCheckAcl',
      `Access denied: you are not authorized to perform ${ramAction} on ${resource}.`,
    );
  }

  readonly operations: Operation[] = [
    {
      action: 'DescribeClusterUserKubeconfig',
      version: '2015-12-15',
      roa: { method: 'GET', path: /^\/k8s\/([^/]+)\/user_config$/ },
      handle: (ctx) => {
        const clusterId = ctx.pathParams[0] ?? '';
        const caller = ctx.requireCaller();
        ctx.authorize(
          'cs:DescribeClusterUserKubeconfig',
          `acs:cs:${ctx.region}:${caller.accountId}:cluster/${clusterId}`,
        );
        const raw = ctx.params.TemporaryDurationMinutes;
        const minutes = raw === undefined || raw === '' ? DEFAULT_MINUTES : Number(raw);
        if (raw !== undefined && raw !== '' && (!Number.isInteger(minutes) || minutes < 15 || minutes > 4320)) {
          throw new ApiError(400, 'InvalidParameter', 'TemporaryDurationMinutes must be between 15 and 4320.');
        }
        const cluster = this.clusters.get(clusterId);
        if (!cluster || cluster.accountId !== caller.accountId || cluster.region !== ctx.region) {
          throw new ApiError(404, 'ErrorClusterNotFound', `The specified cluster ${clusterId} not found.`);
        }
        return { config: cluster.kubeconfig(minutes), expiration: isoSeconds(ctx.now + minutes * 60_000) };
      },
    },
  ];
}
