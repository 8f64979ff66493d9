/**
 * Container Service for Kubernetes (ACK), API 2015-12-15, all ROA with JSON bodies:
 * - `GET /k8s/{ClusterId}/user_config?PrivateIpAddress=&TemporaryDurationMinutes=` → `{config, expiration}`
 *   (DescribeClusterUserKubeconfig; cs-20151215 models; CS API doc "获取集群kubeconfig接口").
 * - `GET /api/v1/clusters` → `{clusters, page_info}` (DescribeClustersV1; cs-20151215
 *   DescribeClustersV1Request: cluster_id, cluster_spec, cluster_type, name, page_number, page_size, profile,
 *   region_id; no tag filter; RAM `cs:GetClusters`).
 * - `POST /permissions/users/{uid}` with a JSON list of grants (GrantPermissions; replaces every grant of the
 *   uid) and `GET /permissions/users/{uid}` → JSON list (DescribeUserPermission).
 * See README.md for sources and what is assumed.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from './errors.js';
import { isoSeconds, type Iam, type Principal } from './identity.js';
import type { Context, Operation, ProductModule } from './server.js';

/** Who a temporary kubeconfig authenticates as inside the cluster. */
export interface AckKubeIdentity {
  /**
   * Kubernetes user name ACK maps the caller to: the RAM user's UserId, the RAM role's RoleId (shared by all
   * its sessions) or the account UID for the root account (ACK authorization FAQ; ack-ram-tool matches
   * subjects with `^(\d+)(-\d+)?$`).
   */
  user: string;
  groups: string[];
  /** ARN of the caller that asked for the kubeconfig. */
  callerArn: string;
  /** Epoch ms at which the credential stops being valid. */
  expiresAt: number;
  /** A fresh random bearer credential for this kubeconfig (use it, or ignore it and render your own). */
  token: string;
}

/**
 * The Kubernetes side of a cluster, as the kube emulator already provides it: a static token store and a
 * kubeconfig renderer. Structural, so a `KubeEmulator` instance can be passed as it is.
 */
export interface AckKubeBackend {
  addToken(token: string, user: { name: string; groups?: string[] }): void;
  kubeconfig(opts: { token?: string; contextName?: string }): string;
}

/** One RBAC binding ACK maintains in a cluster for a granted RAM identity. */
export interface AckBinding {
  kind: 'ClusterRoleBinding' | 'RoleBinding';
  /** ACK's name: `<uid>-<role>-clusterrolebinding` / `<uid>-<role>-rolebinding`. */
  name: string;
  namespace?: string;
  /** ClusterRole referenced: `cluster-admin` for admin, `cs:<role>` for the other predefined roles, else the custom name. */
  clusterRole: string;
  /** The subject: `{kind: 'User', name: uid}`. */
  user: string;
}

/** Called after GrantPermissions with the complete set of bindings `user` now has in `clusterId`. */
export type AckRbacHook = (change: { clusterId: string; user: string; bindings: AckBinding[] }) => void | Promise<void>;

/** An ACK cluster. */
export interface AckCluster {
  accountId: string;
  region: string;
  clusterId: string;
  name: string;
  clusterType: string;
  clusterSpec: string;
  profile: string;
  state: string;
  currentVersion: string;
  vpcId: string;
  vswitchIds: string[];
  tags: { key: string; value: string }[];
  created: string;
  /** RAM ids that are RBAC administrators of the cluster besides the account root (its creator). */
  rbacAdmins: string[];
  kubeconfig?: (temporaryDurationMinutes: number, identity: AckKubeIdentity) => string;
  kube?: AckKubeBackend;
  onRbac?: AckRbacHook;
}

/** What a test passes to seed a cluster; everything but ids is optional. */
export interface AckClusterSeed {
  accountId: string;
  region: string;
  clusterId: string;
  name?: string;
  /** Default `ManagedKubernetes`. */
  clusterType?: string;
  /** Default `ack.pro.small`. */
  clusterSpec?: string;
  /** Default `Default`. */
  profile?: string;
  /** Default `running`. */
  state?: string;
  currentVersion?: string;
  vpcId?: string;
  vswitchIds?: string[];
  tags?: Record<string, string> | { key: string; value: string }[];
  rbacAdmins?: string[];
  /** Renders the kubeconfig for a request (takes precedence over `kube`). */
  kubeconfig?: (temporaryDurationMinutes: number, identity: AckKubeIdentity) => string;
  /** The kube emulator serving this cluster: each kubeconfig gets a fresh token mapped to the caller's user. */
  kube?: AckKubeBackend;
  /** Called with the bindings ACK would create after each GrantPermissions touching this cluster. */
  onRbac?: AckRbacHook;
}

/** A kubeconfig the emulator handed out. */
export interface IssuedKubeconfig {
  clusterId: string;
  region: string;
  user: string;
  callerArn: string;
  minutes: number;
  expiresAt: number;
  privateIpAddress: boolean;
}

/** One grant as GrantPermissions receives it. */
export interface AckGrant {
  cluster: string;
  role_name: string;
  role_type: 'cluster' | 'namespace' | 'all-clusters';
  namespace: string;
  is_custom: boolean;
  is_ram_role: boolean;
}

/**
 * Without TemporaryDurationMinutes the service picks "a longer validity period" (API doc); three years here,
 * which matches the lifetime of the client certificate in a non-temporary ACK kubeconfig (assumed).
 */
const DEFAULT_MINUTES = 3 * 365 * 24 * 60;

/** Paging of DescribeClustersV1: defaults and cap are UNCONFIRMED (the docs give none); see README. */
const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

const PREDEFINED_ROLES = ['admin', 'admin-view', 'ops', 'dev', 'restricted'];

const notFound = (clusterId: string): ApiError =>
  new ApiError(404, 'ErrorClusterNotFound', `The specified cluster ${clusterId} not found.`);

const badRequest = (message: string): ApiError => new ApiError(400, 'ErrorParamInvalid', message);

/** ACK clusters per account and region, their RBAC grants, and the kubeconfigs issued. */
export class Cs implements ProductModule {
  readonly product = 'cs' as const;
  private readonly clusters = new Map<string, AckCluster>();
  /** Grants per `<accountId>/<uid>`, as last set by GrantPermissions. */
  private readonly grants = new Map<string, AckGrant[]>();
  readonly issuedKubeconfigs: IssuedKubeconfig[] = [];

  constructor(private readonly iam: Iam) {}

  /** Registers (or replaces) a cluster. */
  add(o: AckClusterSeed): void {
    const tags = Array.isArray(o.tags)
      ? o.tags.map((t) => ({ ...t }))
      : Object.entries(o.tags ?? {}).map(([key, value]) => ({ key, value }));
    this.clusters.set(o.clusterId, {
      accountId: o.accountId,
      region: o.region,
      clusterId: o.clusterId,
      name: o.name ?? o.clusterId,
      clusterType: o.clusterType ?? 'ManagedKubernetes',
      clusterSpec: o.clusterSpec ?? 'ack.pro.small',
      profile: o.profile ?? 'Default',
      state: o.state ?? 'running',
      currentVersion: o.currentVersion ?? '1.34.1-aliyun.1',
      vpcId: o.vpcId ?? `vpc-${o.region}-default`,
      vswitchIds: o.vswitchIds ?? [],
      tags,
      created: isoSeconds(Date.now()),
      rbacAdmins: o.rbacAdmins ?? [],
      ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      ...(o.kube ? { kube: o.kube } : {}),
      ...(o.onRbac ? { onRbac: o.onRbac } : {}),
    });
  }

  /** The grants a uid holds now (what DescribeUserPermission would list, unfiltered). */
  grantsOf(accountId: string, uid: string): AckGrant[] {
    return (this.grants.get(`${accountId}/${uid}`) ?? []).map((g) => ({ ...g }));
  }

  /** ACK's RAM denial: 403 ErrorCheckAcl (common ACK API error codes). */
  denied(_caller: unknown, ramAction: string, resource: string): ApiError {
    return new ApiError(
      403,
      'ErrorCheckAcl',
      `Access denied: you are not authorized to perform ${ramAction} on ${resource}.`,
    );
  }

  private find(ctx: Context, clusterId: string): AckCluster {
    const cluster = this.clusters.get(clusterId);
    if (!cluster || cluster.accountId !== ctx.requireCaller().accountId) throw notFound(clusterId);
    return cluster;
  }

  /** Whether `who` is an RBAC administrator of the cluster: root, a seeded admin, or granted `admin` on it. */
  private isRbacAdmin(who: Principal, cluster: AckCluster): boolean {
    if (who.kind === 'root' || cluster.rbacAdmins.includes(who.ramId)) return true;
    return (this.grants.get(`${who.accountId}/${who.ramId}`) ?? []).some(
      (g) =>
        g.role_name === 'admin' &&
        (g.role_type === 'all-clusters' || (g.role_type === 'cluster' && g.cluster === cluster.clusterId)),
    );
  }

  /** The bindings ACK keeps in `cluster` for a uid's grants (name pattern per the ACK authorization FAQ). */
  private bindings(uid: string, grants: AckGrant[], cluster: AckCluster): AckBinding[] {
    return grants
      .filter((g) => g.role_type === 'all-clusters' || g.cluster === cluster.clusterId)
      .map((g) => {
        const clusterRole = g.is_custom ? g.role_name : g.role_name === 'admin' ? 'cluster-admin' : `cs:${g.role_name}`;
        const ns = g.role_type === 'namespace';
        return {
          kind: ns ? 'RoleBinding' : 'ClusterRoleBinding',
          name: `${uid}-${clusterRole.replace(/[^a-z0-9.-]/g, '-')}-${ns ? 'rolebinding' : 'clusterrolebinding'}`,
          ...(ns ? { namespace: g.namespace } : {}),
          clusterRole,
          user: uid,
        };
      });
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
        if (!cluster || cluster.accountId !== caller.accountId || cluster.region !== ctx.region)
          throw notFound(clusterId);
        const expiresAt = ctx.now + minutes * 60_000;
        const identity: AckKubeIdentity = {
          user: caller.ramId,
          groups: [],
          callerArn: caller.callerArn,
          expiresAt,
          token: randomBytes(32).toString('base64url'),
        };
        let config: string;
        if (cluster.kubeconfig) config = cluster.kubeconfig(minutes, identity);
        else if (cluster.kube) {
          cluster.kube.addToken(identity.token, { name: identity.user, groups: identity.groups });
          config = cluster.kube.kubeconfig({ token: identity.token, contextName: clusterId });
        } else throw new Error(`ACK cluster ${clusterId} has neither kubeconfig nor kube`);
        this.issuedKubeconfigs.push({
          clusterId,
          region: ctx.region,
          user: identity.user,
          callerArn: caller.callerArn,
          minutes,
          expiresAt,
          privateIpAddress: ctx.params.PrivateIpAddress === 'true',
        });
        return { config, expiration: isoSeconds(expiresAt) };
      },
    },
    {
      action: 'DescribeClustersV1',
      version: '2015-12-15',
      roa: { method: 'GET', path: /^\/api\/v1\/clusters$/ },
      handle: (ctx) => {
        const caller = ctx.requireCaller();
        ctx.authorize('cs:GetClusters', `acs:cs:*:${caller.accountId}:cluster/*`);
        const p = ctx.params;
        const int = (name: string, dflt: number): number => {
          const v = p[name];
          if (v === undefined || v === '') return dflt;
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) throw badRequest(`${name} must be a positive integer.`);
          return n;
        };
        const pageNumber = int('page_number', 1);
        const pageSize = Math.min(int('page_size', DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
        const all = [...this.clusters.values()]
          .filter(
            (c) =>
              c.accountId === caller.accountId &&
              (!p.region_id || c.region === p.region_id) &&
              (!p.cluster_id || c.clusterId === p.cluster_id) &&
              // The docs call the name filter a fuzzy search (DescribeClustersForRegion): a substring here.
              (!p.name || c.name.includes(p.name)) &&
              (!p.cluster_type || c.clusterType === p.cluster_type) &&
              (!p.cluster_spec || c.clusterSpec === p.cluster_spec) &&
              (!p.profile || c.profile === p.profile),
          )
          .sort((a, b) => a.clusterId.localeCompare(b.clusterId));
        return {
          clusters: all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize).map((c) => ({
            cluster_id: c.clusterId,
            name: c.name,
            region_id: c.region,
            state: c.state,
            cluster_type: c.clusterType,
            cluster_spec: c.clusterSpec,
            profile: c.profile,
            current_version: c.currentVersion,
            init_version: c.currentVersion,
            vpc_id: c.vpcId,
            vswitch_ids: c.vswitchIds,
            tags: c.tags.map((t) => ({ ...t })),
            created: c.created,
            updated: c.created,
            resource_group_id: `rg-${c.accountId}`,
            deletion_protection: false,
            master_url: JSON.stringify({
              api_server_endpoint: `https://${c.clusterId}.${c.region}.cs.aliyuncs.com:6443`,
              intranet_api_server_endpoint: `https://192.168.0.1:6443`,
            }),
          })),
          page_info: { page_number: pageNumber, page_size: pageSize, total_count: all.length },
        };
      },
    },
    {
      action: 'GrantPermissions',
      version: '2015-12-15',
      roa: { method: 'POST', path: /^\/permissions\/users\/([^/]+)$/ },
      handle: async (ctx) => {
        const uid = ctx.pathParams[0] ?? '';
        const caller = ctx.requireCaller();
        ctx.authorize('cs:GrantPermission', `acs:cs:*:${caller.accountId}:cluster/*`);
        let body: unknown;
        try {
          body = JSON.parse(ctx.body.toString('utf8') || '[]');
        } catch {
          throw badRequest('The request body is not valid JSON.');
        }
        if (!Array.isArray(body)) throw badRequest('The request body must be a list of permissions.');
        const grantee = this.iam.findByRamId(caller.accountId, uid);
        if (!grantee) throw new ApiError(404, 'ErrorUserNotFound', `RAM user or role ${uid} not found.`);
        const grants: AckGrant[] = body.map((raw: unknown, i) => {
          const g = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
          const str = (k: string): string => (typeof g[k] === 'string' ? (g[k] as string) : '');
          const grant: AckGrant = {
            cluster: str('cluster'),
            role_name: str('role_name'),
            role_type: str('role_type') as AckGrant['role_type'],
            namespace: str('namespace'),
            is_custom: g.is_custom === true,
            is_ram_role: g.is_ram_role === true,
          };
          if (!['cluster', 'namespace', 'all-clusters'].includes(grant.role_type))
            throw badRequest(`permissions[${i}].role_type must be cluster, namespace or all-clusters.`);
          if (!grant.role_name) throw badRequest(`permissions[${i}].role_name is required.`);
          if (!grant.is_custom && !PREDEFINED_ROLES.includes(grant.role_name))
            throw badRequest(`permissions[${i}].role_name ${grant.role_name} is not a predefined role.`);
          if (grant.role_type === 'namespace' && !grant.namespace)
            throw badRequest(`permissions[${i}].namespace is required for role_type namespace.`);
          if (grant.role_type !== 'all-clusters') this.find(ctx, grant.cluster);
          if (grant.is_ram_role !== (grantee.kind === 'role'))
            throw badRequest(`permissions[${i}].is_ram_role does not match uid ${uid}.`);
          return grant;
        });
        // Replace-all: the caller must administer every cluster it grants on and every one it takes away from.
        const previous = this.grants.get(`${caller.accountId}/${uid}`) ?? [];
        const touched = new Set<string>();
        for (const g of [...grants, ...previous]) {
          if (g.role_type !== 'all-clusters') {
            touched.add(g.cluster);
            continue;
          }
          for (const c of this.clusters.values()) if (c.accountId === caller.accountId) touched.add(c.clusterId);
        }
        for (const id of touched) {
          const cluster = this.clusters.get(id);
          if (cluster && !this.isRbacAdmin(caller, cluster))
            throw new ApiError(
              403,
              'ForbiddenGrantPermissions',
              `The caller is not an RBAC administrator of cluster ${id}.`,
            );
        }
        this.grants.set(`${caller.accountId}/${uid}`, grants);
        for (const id of touched) {
          const cluster = this.clusters.get(id);
          if (cluster?.onRbac)
            await cluster.onRbac({ clusterId: id, user: uid, bindings: this.bindings(uid, grants, cluster) });
        }
        return {};
      },
    },
    {
      action: 'DescribeUserPermission',
      version: '2015-12-15',
      roa: { method: 'GET', path: /^\/permissions\/users\/([^/]+)$/ },
      handle: (ctx) => {
        const uid = ctx.pathParams[0] ?? '';
        const caller = ctx.requireCaller();
        ctx.authorize('cs:GetUserPermissions', `acs:cs:*:${caller.accountId}:cluster/*`);
        const grants = this.grants.get(`${caller.accountId}/${uid}`) ?? [];
        // A RAM caller sees only the clusters it administers (DescribeUserPermission precautions).
        return grants
          .filter((g) => {
            if (g.role_type === 'all-clusters') return caller.kind === 'root';
            const cluster = this.clusters.get(g.cluster);
            return !!cluster && this.isRbacAdmin(caller, cluster);
          })
          .map((g) => ({
            resource_id:
              g.role_type === 'all-clusters'
                ? 'all-clusters'
                : g.role_type === 'namespace'
                  ? `${g.cluster}/${g.namespace}`
                  : g.cluster,
            resource_type: g.role_type === 'all-clusters' ? 'console' : g.role_type,
            role_name: g.role_name,
            role_type: g.is_custom ? 'custom' : g.role_name,
            is_owner: 0,
            is_ram_role: g.is_ram_role ? 1 : 0,
          }));
      },
    },
  ];
}
