/**
 * STS 2015-04-01 through the vendor's SDK (`@alicloud/sts20150401`): AssumeRole (signed) and
 * AssumeRoleWithOIDC (anonymous, the OIDC token is the proof). The SDK signs with V1 (`v2` algorithm in its
 * terms), as STS documents, and sends AssumeRoleWithOIDC unsigned.
 */
import StsModule from '@alicloud/sts20150401';
import { CloudError } from '../errors.js';
import type { FcCredentials } from './credentials.js';
import type { OpenApiCaller } from './openapi.js';

const { default: StsClient, AssumeRoleRequest, AssumeRoleWithOIDCRequest } = StsModule;

/** An STS session. */
export interface StsSession extends Required<FcCredentials> {
  /** Epoch ms. */
  expiresAt: number;
}

const SESSION_NAME = 'acr-fleet';

export class StsApi {
  constructor(private readonly api: OpenApiCaller) {}

  async assumeRole(
    region: string,
    o: { roleArn: string; externalId?: string; durationSeconds: number },
  ): Promise<StsSession> {
    const request = new AssumeRoleRequest({
      roleArn: o.roleArn,
      roleSessionName: SESSION_NAME,
      durationSeconds: o.durationSeconds,
      externalId: o.externalId,
    });
    const res = await this.api.sdk({
      product: 'sts',
      region,
      action: 'AssumeRole',
      sdk: StsClient,
      send: (c, rt) => c.assumeRoleWithOptions(request, rt),
    });
    return session('AssumeRole', res.body?.credentials);
  }

  async assumeRoleWithOidc(
    region: string,
    o: { roleArn: string; providerArn: string; oidcToken: string },
  ): Promise<StsSession> {
    const request = new AssumeRoleWithOIDCRequest({
      roleArn: o.roleArn,
      OIDCProviderArn: o.providerArn,
      OIDCToken: o.oidcToken,
      roleSessionName: SESSION_NAME,
    });
    const res = await this.api.sdk({
      product: 'sts',
      region,
      action: 'AssumeRoleWithOIDC',
      sdk: StsClient,
      send: (c, rt) => c.assumeRoleWithOIDCWithOptions(request, rt),
    });
    return session('AssumeRoleWithOIDC', res.body?.credentials);
  }
}

function session(
  action: string,
  c: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string; expiration?: string } | undefined,
): StsSession {
  const expiresAt = typeof c?.expiration === 'string' ? Date.parse(c.expiration) : NaN;
  if (!c?.accessKeyId || !c.accessKeySecret || !c.securityToken || Number.isNaN(expiresAt)) {
    throw new CloudError(`${action}: unexpected response (no Credentials)`, { code: 'UnexpectedResponse' });
  }
  return { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken, expiresAt };
}
