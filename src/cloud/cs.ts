/** Container Service for Kubernetes (CS 2015-12-15): a temporary kubeconfig for an ACK cluster. */
import { CloudError } from '../errors.js';
import type { OpenApiCaller } from './openapi.js';

/** Minutes a per-run kubeconfig stays valid: the API's minimum, as a run is far shorter. */
export const TEMPORARY_MINUTES = 15;

export class CsApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** `DescribeClusterUserKubeconfig` with a short `TemporaryDurationMinutes`: nothing long-lived is stored. */
  async temporaryKubeconfig(region: string, clusterId: string, privateIpAddress: boolean): Promise<string> {
    const action = 'DescribeClusterUserKubeconfig';
    const body = await this.api.roa({
      product: 'cs',
      region,
      action,
      version: '2015-12-15',
      method: 'GET',
      pathname: `/k8s/${encodeURIComponent(clusterId)}/user_config`,
      query: { PrivateIpAddress: privateIpAddress, TemporaryDurationMinutes: TEMPORARY_MINUTES },
    });
    if (typeof body.config !== 'string' || !body.config)
      throw new CloudError(`${action}: unexpected response (no config)`, { code: 'UnexpectedResponse' });
    return body.config;
  }
}
