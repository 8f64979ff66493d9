/**
 * Container Registry Enterprise Edition, API 2018-12-01: RPC, POST `/`, parameters in the query
 * (aliyun/alibabacloud-typescript-sdk cr-20181201 client.ts; reference §2).
 */
import { ApiError, missingApiParameter } from './errors.js';
import type { Principal } from './identity.js';
import { ramDenied, type Context, type Operation, type ProductModule } from './server.js';
import { newRegistryPassword, TEMP_USERNAME, tokenExpiry, type IssuedToken } from './tokens.js';

const VERSION = '2018-12-01';

/** An EE instance. */
export interface EnterpriseInstance {
  accountId: string;
  instanceId: string;
  name: string;
  region: string;
  domains: { internet: string[]; vpc: string[] };
  tokenTtlSeconds: number;
  createTime: number;
}

/**
 * The instance is unknown to the caller's account in this region. Code from terraform-provider-alicloud
 * service_alicloud_cr_ee.go (its not-found check for GetInstance/ListInstanceEndpoint); HTTP status assumed.
 */
const instanceNotExist = (): ApiError => new ApiError(404, 'INSTANCE_NOT_EXIST', 'instance not exist.');

const required = (ctx: Context, name: string): string => {
  const v = ctx.params[name];
  if (v === undefined || v === '') throw missingApiParameter(name);
  return v;
};

/** CR EE instances and their operations. */
export class CrEnterprise implements ProductModule {
  readonly product = 'cr' as const;
  readonly instances = new Map<string, EnterpriseInstance>();

  constructor(private readonly tokens: IssuedToken[]) {}

  /** Adds an instance; domains default to `<name>-registry[-vpc].<region>.cr.aliyuncs.com`. */
  add(o: {
    accountId: string;
    instanceId: string;
    name: string;
    region: string;
    domains?: { internet?: string[]; vpc?: string[] };
    tokenTtlSeconds?: number;
  }): void {
    this.instances.set(o.instanceId, {
      accountId: o.accountId,
      instanceId: o.instanceId,
      name: o.name,
      region: o.region,
      domains: {
        internet: o.domains?.internet ?? [`${o.name}-registry.${o.region}.cr.aliyuncs.com`],
        vpc: o.domains?.vpc ?? [`${o.name}-registry-vpc.${o.region}.cr.aliyuncs.com`],
      },
      tokenTtlSeconds: o.tokenTtlSeconds ?? 3600,
      createTime: Date.now(),
    });
  }

  /** RAM denial (assumed to be the gateway's NoPermission: CR's own code for it is not documented). */
  denied(caller: Principal, ramAction: string): ApiError {
    return ramDenied(caller, ramAction);
  }

  /** The instance as the caller sees it: it must be in the caller's account and in this endpoint's region. */
  private find(ctx: Context, instanceId: string): EnterpriseInstance {
    const inst = this.instances.get(instanceId);
    if (!inst || inst.region !== ctx.region || inst.accountId !== ctx.requireCaller().accountId)
      throw instanceNotExist();
    return inst;
  }

  private arn(ctx: Context, kind: 'instance' | 'repository', id: string): string {
    return `acs:cr:${ctx.region}:${ctx.requireCaller().accountId}:${kind}/${id}`;
  }

  private endpoint(inst: EnterpriseInstance, type: 'internet' | 'vpc', module: string): Record<string, unknown> {
    const domains =
      module === 'Chart' ? inst.domains[type].map((d) => d.replace('-registry', '-chart')) : inst.domains[type];
    return {
      EndpointType: type,
      Enable: true,
      Status: 'RUNNING',
      AclEnable: false,
      AclEntries: [],
      LinkedVpcs:
        type === 'vpc'
          ? [
              {
                VpcId: `vpc-${inst.instanceId.replace(/^cri-/, '')}`,
                VswitchId: `vsw-${inst.instanceId.replace(/^cri-/, '')}`,
                Ip: '192.168.0.10',
                DefaultAccess: false,
                Status: 'RUNNING',
              },
            ]
          : [],
      Domains: domains.map((Domain) => ({ Domain, Type: 'SYSTEM' })),
    };
  }

  readonly operations: Operation[] = [
    {
      action: 'GetAuthorizationToken',
      version: VERSION,
      handle: (ctx) => {
        const instanceId = required(ctx, 'InstanceId');
        // RAM resource per the API's authorization table: acs:cr:{regionId}:{accountId}:repository/{InstanceId}.
        ctx.authorize('cr:GetAuthorizationToken', this.arn(ctx, 'repository', instanceId));
        const inst = this.find(ctx, instanceId);
        const caller = ctx.requireCaller();
        const token: IssuedToken = {
          registry: inst.instanceId,
          region: inst.region,
          username: TEMP_USERNAME,
          password: newRegistryPassword(),
          expiresAt: tokenExpiry(ctx.now, inst.tokenTtlSeconds, caller.expiresAt),
          principal: caller.callerArn,
        };
        this.tokens.push(token);
        return {
          AuthorizationToken: token.password,
          TempUsername: token.username,
          ExpireTime: token.expiresAt,
          IsSuccess: true,
          Code: 'success',
          RequestId: ctx.requestId,
        };
      },
    },
    {
      action: 'ListInstanceEndpoint',
      version: VERSION,
      handle: (ctx) => {
        const instanceId = required(ctx, 'InstanceId');
        ctx.authorize('cr:ListInstanceEndpoint', this.arn(ctx, 'instance', instanceId));
        const inst = this.find(ctx, instanceId);
        const module = ctx.params.ModuleName ?? 'Registry';
        return {
          Code: 'success',
          IsSuccess: true,
          RequestId: ctx.requestId,
          Endpoints: [this.endpoint(inst, 'internet', module), this.endpoint(inst, 'vpc', module)],
        };
      },
    },
    {
      action: 'GetInstanceEndpoint',
      version: VERSION,
      handle: (ctx) => {
        const instanceId = required(ctx, 'InstanceId');
        const type = required(ctx, 'EndpointType');
        ctx.authorize('cr:GetInstanceEndpoint', this.arn(ctx, 'instance', instanceId));
        const inst = this.find(ctx, instanceId);
        if (type !== 'internet' && type !== 'vpc') throw new ApiError(400, 'PARAM_INVALID', 'parameter invalid.');
        const { EndpointType: _type, ...rest } = this.endpoint(inst, type, ctx.params.ModuleName ?? 'Registry');
        return { ...rest, Code: 'success', IsSuccess: true, RequestId: ctx.requestId };
      },
    },
    {
      action: 'ListInstance',
      version: VERSION,
      handle: (ctx) => {
        ctx.authorize('cr:ListInstance', this.arn(ctx, 'instance', '*'));
        const caller = ctx.requireCaller();
        const pageNo = Number(ctx.params.PageNo ?? '1') || 1;
        const pageSize = Number(ctx.params.PageSize ?? '30') || 30;
        const all = [...this.instances.values()].filter(
          (i) =>
            i.accountId === caller.accountId &&
            i.region === ctx.region &&
            (ctx.params.InstanceName === undefined || i.name === ctx.params.InstanceName),
        );
        return {
          Code: 'success',
          IsSuccess: true,
          RequestId: ctx.requestId,
          PageNo: pageNo,
          PageSize: pageSize,
          TotalCount: all.length,
          Instances: all.slice((pageNo - 1) * pageSize, pageNo * pageSize).map((i) => ({
            InstanceId: i.instanceId,
            InstanceName: i.name,
            InstanceSpecification: 'Enterprise_Basic',
            InstanceStatus: 'RUNNING',
            RegionId: i.region,
            CreateTime: String(i.createTime),
            ModifiedTime: String(i.createTime),
            ResourceGroupId: `rg-${i.accountId}`,
            Tags: [],
          })),
        };
      },
    },
  ];
}
