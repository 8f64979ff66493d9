/** STS 2015-04-01: AssumeRole (signed) and AssumeRoleWithOIDC (anonymous, the OIDC token is the proof). */
import { CloudError } from '../errors.js';
import type { FcCredentials } from './credentials.js';
import type { OpenApiCaller } from './openapi.js';

/** An STS session. */
export interface StsSession extends Required<FcCredentials> {
  /** Epoch ms. */
  expiresAt: number;
}

const SESSION_NAME = 'acr-fleet';

export class StsApi {
  constructor(private readonly api: OpenApiCaller) {}

  async assumeRole(region: string, o: { roleArn: string; externalId?: string; durationSeconds: number }): Promise<StsSession> {
    const body = await this.api.rpc({
      product: 'sts',
      region,
      action: 'AssumeRole',
      version: '2015-04-01',
      query: { RoleArn: o.roleArn, RoleSessionName: SESSION_NAME, DurationSeconds: o.durationSeconds, ExternalId: o.externalId },
    });
    return session('AssumeRole', body);
  }

  async assumeRoleWithOidc(region: string, o: { roleArn: string; providerArn: string; oidcToken: string }): Promise<StsSession> {
    const body = await this.api.rpc({
      product: 'sts',
      region,
      action: 'AssumeRoleWithOIDC',
      version: '2015-04-01',
      anonymous: true,
      query: { RoleArn: o.roleArn, OIDCProviderArn: o.providerArn, OIDCToken: o.oidcToken, RoleSessionName: SESSION_NAME },
    });
    return session('AssumeRoleWithOIDC', body);
  }
}

function session(action: string, body: Record<string, unknown>): StsSession {
  const c = body.Credentials as Record<string, unknown> | undefined;
  const expiresAt = typeof c?.Expiration === 'string' ? Date.parse(c.Expiration) : NaN;
  if (!c || typeof c.AccessKeyId !== 'string' || typeof c.AccessKeySecret !== 'string' || typeof c.SecurityToken !== 'string' || Number.isNaN(expiresAt)) {
    throw new CloudError(`${action}: unexpected response (no Credentials)`, 'UnexpectedResponse', undefined, undefined);
  }
  return { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken, expiresAt };
}
