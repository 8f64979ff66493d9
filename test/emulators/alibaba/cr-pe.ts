/**
 * Container Registry Personal Edition, API 2016-06-07: ROA `GET /tokens` on `cr.<region>.aliyuncs.com`
 * (devsapp/fc3 src/resources/acr/login.ts; mozillazg/docker-credential-acr-helper pkg/acr/person.go).
 */
import { ApiError } from './errors.js';
import type { Principal } from './identity.js';
import { ramDenied, type Operation, type ProductModule } from './server.js';
import { newRegistryPassword, TEMP_USERNAME, tokenExpiry, type IssuedToken } from './tokens.js';

/**
 * A RAM identity without a CR login password, or an account without Personal Edition in the region:
 * HTTP 404 with lower-case keys (aliyun/aliyun-cli#232, aliyun/acr-login#19).
 */
const userNotExist = (): ApiError => new ApiError(404, 'USER_NOT_EXIST', 'user is not exist.', {}, true);

/** Personal Edition per (account, region) and its token operation. */
export class CrPersonal implements ProductModule {
  readonly product = 'cr' as const;
  private readonly enabled = new Map<string, { tokenTtlSeconds: number; userExists: boolean }>();

  constructor(private readonly tokens: IssuedToken[]) {}

  /** Enables PE for an account in a region; `userExists: false` means no CR password was ever set. */
  enable(o: { accountId: string; region: string; tokenTtlSeconds?: number; userExists?: boolean }): void {
    this.enabled.set(`${o.accountId}/${o.region}`, {
      tokenTtlSeconds: o.tokenTtlSeconds ?? 3600,
      userExists: o.userExists ?? true,
    });
  }

  /** RAM denial, as for Enterprise Edition (assumed). */
  denied(caller: Principal, ramAction: string): ApiError {
    return ramDenied(caller, ramAction);
  }

  readonly operations: Operation[] = [
    {
      action: 'GetAuthorizationToken',
      version: '2016-06-07',
      roa: { method: 'GET', path: /^\/tokens$/ },
      handle: (ctx) => {
        const caller = ctx.requireCaller();
        // PE has no instance: the permission is on the account's registry in the region (assumed ARN).
        ctx.authorize('cr:GetAuthorizationToken', `acs:cr:${ctx.region}:${caller.accountId}:repository/*`);
        const pe = this.enabled.get(`${caller.accountId}/${ctx.region}`);
        if (!pe?.userExists) throw userNotExist();
        const token: IssuedToken = {
          registry: `personal:${ctx.region}`,
          region: ctx.region,
          username: TEMP_USERNAME,
          password: newRegistryPassword(),
          expiresAt: tokenExpiry(ctx.now, pe.tokenTtlSeconds, caller.expiresAt),
          principal: caller.callerArn,
        };
        this.tokens.push(token);
        // Field names and nesting from mozillazg person.go (getPersonAuthorizationTokenData).
        return {
          data: {
            authorizationToken: token.password,
            tempUserName: token.username,
            expireDate: token.expiresAt,
            requestId: ctx.requestId,
          },
        };
      },
    },
  ];
}
