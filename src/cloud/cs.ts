/**
 * Container Service for Kubernetes (CS 2015-12-15): a temporary kubeconfig for an ACK cluster, the cluster
 * listing discovery reads (DescribeClustersV1, paged), and the RBAC grants of a RAM identity
 * (GrantPermissions, which replaces every grant of the uid, and DescribeUserPermission).
 */
import { CloudError } from '../errors.js';
import type { OpenApiCaller } from './openapi.js';

/** Minutes a per-run kubeconfig stays valid: the API's minimum, as a run is far shorter. */
export const TEMPORARY_MINUTES = 15;

/** An ACK cluster as DescribeClustersV1 lists it: only what discovery uses, checked. */
export interface AckClusterListing {
  clusterId: string;
  name: string;
  regionId: string;
  state: string;
  tags: Record<string, string>;
}

/** One RBAC grant, as GrantPermissions takes it. */
export interface AckGrant {
  cluster: string;
  role_name: string;
  role_type: 'cluster' | 'namespace' | 'all-clusters';
  namespace: string;
  is_custom: boolean;
  is_ram_role: boolean;
}

/** The most the listing answers per page (larger sizes are cut to it), and a bound on the pages read. */
const PAGE_SIZE = 100;
const MAX_PAGES = 500;
const CLUSTER_ID = /^c[a-z0-9]{1,63}$/;

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

  /**
   * Every cluster of `region` (DescribeClustersV1 with `region_id`, `page_size` 100, paged by
   * `page_info.total_count`). Entries without a valid cluster id are skipped; names and tags are bounded.
   */
  async listClusters(region: string): Promise<AckClusterListing[]> {
    const action = 'DescribeClustersV1';
    const out: AckClusterListing[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const body = await this.api.roa({
        product: 'cs',
        region,
        action,
        version: '2015-12-15',
        method: 'GET',
        pathname: '/api/v1/clusters',
        query: { region_id: region, page_number: page, page_size: PAGE_SIZE },
      });
      const clusters = body.clusters;
      const info = body.page_info as { total_count?: unknown; page_size?: unknown } | undefined;
      if (!Array.isArray(clusters) || typeof info?.total_count !== 'number')
        throw new CloudError(`${action}: unexpected response (no clusters or page_info)`, {
          code: 'UnexpectedResponse',
        });
      for (const raw of clusters as unknown[]) {
        const c = listing(raw);
        if (c && c.regionId === region) out.push(c);
      }
      const size = typeof info.page_size === 'number' && info.page_size > 0 ? info.page_size : PAGE_SIZE;
      if (!clusters.length || page * size >= info.total_count) return out;
    }
    throw new CloudError(`${action}: more than ${MAX_PAGES} pages in ${region}`, { code: 'UnexpectedResponse' });
  }

  /** The grants a RAM user or role id holds on the clusters the caller administers (DescribeUserPermission). */
  async userPermissions(region: string, uid: string): Promise<AckGrant[]> {
    const body: unknown = await this.api.roa({
      product: 'cs',
      region,
      action: 'DescribeUserPermission',
      version: '2015-12-15',
      method: 'GET',
      pathname: `/permissions/users/${encodeURIComponent(uid)}`,
      bodyType: 'array',
    });
    if (!Array.isArray(body))
      throw new CloudError('DescribeUserPermission: unexpected response (not a list)', { code: 'UnexpectedResponse' });
    return body.flatMap((raw: unknown) => {
      const p = (raw ?? {}) as Record<string, unknown>;
      const id = typeof p.resource_id === 'string' ? p.resource_id : '';
      const roleName = typeof p.role_name === 'string' ? p.role_name : '';
      if (!id || !roleName) return [];
      const [cluster = '', namespace = ''] = id === 'all-clusters' ? [] : id.split('/');
      const grant: AckGrant = {
        cluster,
        role_name: roleName,
        role_type: id === 'all-clusters' ? 'all-clusters' : namespace ? 'namespace' : 'cluster',
        namespace,
        is_custom: p.role_type === 'custom',
        is_ram_role: p.is_ram_role === 1 || p.is_ram_role === true,
      };
      return [grant];
    });
  }

  /** Sets the complete list of grants of a RAM user or role id (GrantPermissions replaces them all). */
  async grantPermissions(region: string, uid: string, grants: readonly AckGrant[]): Promise<void> {
    await this.api.roa({
      product: 'cs',
      region,
      action: 'GrantPermissions',
      version: '2015-12-15',
      method: 'POST',
      pathname: `/permissions/users/${encodeURIComponent(uid)}`,
      body: grants,
      idempotent: true,
    });
  }
}

/** A listing entry, or undefined when it has no usable cluster id. Remote text is bounded and stripped. */
function listing(raw: unknown): AckClusterListing | undefined {
  const c = (raw ?? {}) as Record<string, unknown>;
  const id = typeof c.cluster_id === 'string' ? c.cluster_id : '';
  if (!CLUSTER_ID.test(id)) return undefined;
  const text = (v: unknown, max: number) => (typeof v === 'string' ? v.replace(/\p{Cc}/gu, '').slice(0, max) : '');
  const tags: Record<string, string> = {};
  if (Array.isArray(c.tags))
    for (const t of (c.tags as unknown[]).slice(0, 64)) {
      const tag = (t ?? {}) as { key?: unknown; value?: unknown };
      if (typeof tag.key === 'string') tags[text(tag.key, 128)] = text(tag.value, 256);
    }
  return { clusterId: id, name: text(c.name, 253), regionId: text(c.region_id, 64), state: text(c.state, 32), tags };
}
