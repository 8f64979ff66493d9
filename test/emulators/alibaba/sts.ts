/**
 * Security Token Service, API 2015-04-01: AssumeRole (signed), AssumeRoleWithOIDC (anonymous) and
 * GetCallerIdentity. Shapes from @alicloud/sts20150401 models; errors from the STS FAQ (doc-detail/42775) and
 * the ACK RRSA troubleshooting table.
 */
import { ApiError, missingApiParameter } from './errors.js';
import {
  isoSeconds,
  parsePolicy,
  globMatch,
  type Iam,
  type Principal,
  type Role,
  type Session,
  type Statement,
} from './identity.js';
import type { Context, Operation, ProductModule } from './server.js';

const VERSION = '2015-04-01';

/** Caller's own policy lacks sts:AssumeRole (help doc-detail/39744). */
const notAuthorizedByRam = (): ApiError =>
  new ApiError(403, 'NoPermission', 'You are not authorized to do this action. You should be authorized by RAM.');

/** The role's trust policy (or its ExternalId condition) does not admit the caller (doc-detail/42775 item 8). */
const notTrusted = (): ApiError =>
  new ApiError(
    403,
    'NoPermission',
    'No permission perform sts:AssumeRole on this Role. Maybe you are not authorized to perform sts:AssumeRole or the specified role does not trust you',
  );

const roleNotExist = (arn: string): ApiError =>
  new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${arn}.`);

const oidcFail = (code: string, message: string, status = 400): ApiError =>
  new ApiError(status, `AuthenticationFail.${code}`, message);

const required = (ctx: Context, name: string): string => {
  const v = ctx.params[name];
  if (v === undefined || v === '') throw missingApiParameter(name);
  return v;
};

/** RoleSessionName: 2–64 characters of `[A-Za-z0-9.@_-]`. */
function sessionName(ctx: Context): string {
  const name = required(ctx, 'RoleSessionName');
  if (!/^[A-Za-z0-9.@_-]{2,64}$/.test(name)) {
    throw new ApiError(400, 'InvalidParameter.RoleSessionName', 'The parameter RoleSessionName is wrongly formed.');
  }
  return name;
}

/** DurationSeconds: default 3600, from 900 to the role's MaxSessionDuration. */
function duration(ctx: Context, role: Role): number {
  const raw = ctx.params.DurationSeconds;
  const value = raw === undefined || raw === '' ? 3600 : Number(raw);
  if (!Number.isInteger(value) || value < 900 || value > role.maxSessionDuration) {
    const max =
      role.maxSessionDuration % 3600 === 0 ? `${role.maxSessionDuration / 3600}hr` : `${role.maxSessionDuration}s`;
    throw new ApiError(
      400,
      'InvalidParameter.DurationSeconds',
      `The Min/Max value of DurationSeconds is 15min/${max}.`,
    );
  }
  return value;
}

/** Optional session Policy, which must pass the grammar check. */
function sessionPolicy(ctx: Context): Statement[] | undefined {
  const text = ctx.params.Policy;
  if (text === undefined || text === '') return undefined;
  const policy = parsePolicy(text);
  if (!policy)
    throw new ApiError(400, 'InvalidParameter.PolicyGrammar', 'The parameter Policy has not passed grammar check.');
  return policy;
}

/** Response part shared by both AssumeRole flavours. */
function issued(ctx: Context, session: Session): Record<string, unknown> {
  return {
    RequestId: ctx.requestId,
    AssumedRoleUser: {
      Arn: `acs:ram::${session.role.accountId}:role/${session.role.name}/${session.sessionName}`,
      AssumedRoleId: `${session.role.roleId}:${session.sessionName}`,
    },
    Credentials: {
      AccessKeyId: session.credentials.accessKeyId,
      AccessKeySecret: session.credentials.accessKeySecret,
      SecurityToken: session.credentials.securityToken,
      Expiration: isoSeconds(session.expiresAt),
    },
  };
}

/** STS operations over the emulator's RAM. */
export class Sts implements ProductModule {
  readonly product = 'sts' as const;

  constructor(private readonly iam: Iam) {}

  /** RAM denial of an STS action. */
  denied(): ApiError {
    return notAuthorizedByRam();
  }

  readonly operations: Operation[] = [
    {
      action: 'AssumeRole',
      version: VERSION,
      handle: (ctx) => {
        const roleArn = required(ctx, 'RoleArn');
        const name = sessionName(ctx);
        const policy = sessionPolicy(ctx);
        const caller = ctx.requireCaller();
        if (caller.kind === 'root')
          throw new ApiError(403, 'NoPermission', 'Roles may not be assumed by root accounts.');
        ctx.authorize('sts:AssumeRole', roleArn);
        const role = this.iam.findRole(roleArn);
        if (!role) throw roleNotExist(roleArn);
        if (!this.trusts(role, caller)) throw notTrusted();
        if (role.externalId !== undefined && ctx.params.ExternalId !== role.externalId) throw notTrusted();
        const session = this.iam.issueSession(role, name, duration(ctx, role), policy);
        return issued(ctx, session);
      },
    },
    {
      action: 'AssumeRoleWithOIDC',
      version: VERSION,
      anonymous: true,
      handle: (ctx) => {
        const providerArn = required(ctx, 'OIDCProviderArn');
        const roleArn = required(ctx, 'RoleArn');
        const token = required(ctx, 'OIDCToken');
        const name = sessionName(ctx);
        const policy = sessionPolicy(ctx);
        const provider = this.iam.findOidcProvider(providerArn);
        if (!provider) throw oidcFail('NoPermission', 'No such OIDC Provider registered.', 403);
        const role = this.iam.findRole(roleArn);
        if (!role) throw roleNotExist(roleArn);
        const claims = this.iam.verifyOidcToken(provider, token);
        if (!claims) throw oidcFail('OIDCToken.Invalid', 'The OIDCToken is invalid.');
        if (claims.iss !== provider.issuer) {
          throw oidcFail(
            'OIDCToken.IssuerNotMatch',
            "The issuer in the OIDC Token doesn't match the OIDC Provider registered.",
          );
        }
        if (claims.exp * 1000 <= ctx.now) throw oidcFail('OIDCToken.Expired', 'This JsonWebToken is expired.');
        const trust = role.trustedOidcProviders.find((t) => t.arn.toLowerCase() === provider.arn.toLowerCase());
        if (!trust) throw oidcFail('NoPermission', 'There is no permission', 403);
        if (trust.issuer !== claims.iss) {
          throw oidcFail(
            'OIDCToken.IssuerNotMatch',
            "The issuer in the OIDC Token doesn't match the OIDC Provider registered.",
          );
        }
        const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
        if (!audiences.includes(trust.audience ?? 'sts.aliyuncs.com'))
          throw oidcFail('OIDCToken.AudienceNotMatch', 'Invalid audience.');
        if (trust.subject !== undefined && !globMatch(trust.subject, claims.sub))
          throw oidcFail('NoPermission', 'There is no permission', 403);
        const session = this.iam.issueSession(role, name, duration(ctx, role), policy);
        return {
          ...issued(ctx, session),
          OIDCTokenInfo: {
            Subject: claims.sub,
            Issuer: claims.iss,
            ClientIds: audiences.join(','),
            ExpirationTime: isoSeconds(claims.exp * 1000),
            IssuanceTime: isoSeconds(claims.iat * 1000),
            VerificationInfo: 'Success',
          },
        };
      },
    },
    {
      action: 'GetCallerIdentity',
      version: VERSION,
      handle: (ctx) => {
        const caller = ctx.requireCaller();
        const base = { RequestId: ctx.requestId, AccountId: caller.accountId, Arn: caller.callerArn };
        if (caller.kind === 'root') return { ...base, IdentityType: 'Account', PrincipalId: caller.accountId };
        if (caller.kind === 'user')
          return { ...base, IdentityType: 'RAMUser', PrincipalId: caller.ramId, UserId: caller.ramId };
        const role = this.iam.findRole(caller.identityArn);
        const session = caller.displayName.split(':')[1] ?? '';
        return {
          ...base,
          IdentityType: 'AssumedRoleUser',
          PrincipalId: `${role?.roleId ?? ''}:${session}`,
          RoleId: role?.roleId ?? '',
        };
      },
    },
  ];

  /** Trust policy: the caller's user/role ARN, or its account's root ARN, is a trusted principal. */
  private trusts(role: Role, caller: Principal): boolean {
    const names = [caller.identityArn, `acs:ram::${caller.accountId}:root`].map((a) => a.toLowerCase());
    return role.trustedPrincipals.some((p) => names.includes(p.toLowerCase()));
  }
}
