/**
 * Container Registry API, both editions: Enterprise (2018-12-01, RPC) and Personal (2016-06-07, ROA).
 * Responses are checked for the fields acr-fleet relies on; anything else is an UnexpectedResponse.
 */
import { CloudError } from '../errors.js';
import { quoteRemote } from '../log/quote.js';
import type { OpenApiCaller } from './openapi.js';

/** A registry login: temporary user, password and expiry (epoch ms) as the API returned them. */
export interface RegistryLogin {
  username: string;
  password: string;
  expiresAt: number;
}

/** The CR calls acr-fleet makes. */
export class CrApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** EE `GetAuthorizationToken`: a token for one instance. */
  async enterpriseToken(region: string, instanceId: string): Promise<RegistryLogin> {
    const action = 'GetAuthorizationToken';
    const body = await this.api.rpc({
      product: 'cr',
      region,
      action,
      version: '2018-12-01',
      query: { InstanceId: instanceId },
    });
    // The API may answer HTTP 200 with IsSuccess false and an error code.
    if (body.IsSuccess === false) throw notSuccessful(action, body);
    return login(action, body.TempUsername, body.AuthorizationToken, body.ExpireTime);
  }

  /** EE `ListInstanceEndpoint`: every registry domain of the instance (internet and VPC). */
  async instanceDomains(region: string, instanceId: string): Promise<string[]> {
    const action = 'ListInstanceEndpoint';
    const body = await this.api.rpc({
      product: 'cr',
      region,
      action,
      version: '2018-12-01',
      query: { InstanceId: instanceId, ModuleName: 'Registry', Summary: false },
    });
    if (body.IsSuccess === false) throw notSuccessful(action, body);
    if (!Array.isArray(body.Endpoints)) throw unexpected(action, 'Endpoints');
    return (body.Endpoints as Record<string, unknown>[]).flatMap((ep) =>
      (Array.isArray(ep.Domains) ? (ep.Domains as Record<string, unknown>[]) : []).flatMap((d) =>
        typeof d.Domain === 'string' ? [d.Domain] : [],
      ),
    );
  }

  /** PE `GET /tokens`: a token for the caller's Personal Edition registry in a region. */
  async personalToken(region: string): Promise<RegistryLogin> {
    const action = 'GetAuthorizationToken';
    const body = await this.api.roa({
      product: 'cr',
      region,
      action,
      version: '2016-06-07',
      method: 'GET',
      pathname: '/tokens',
    });
    const data = body.data as Record<string, unknown> | undefined;
    if (!data) throw unexpected(action, 'data');
    return login(action, data.tempUserName, data.authorizationToken, data.expireDate);
  }
}

function login(action: string, username: unknown, password: unknown, expiresAt: unknown): RegistryLogin {
  if (typeof username !== 'string' || !username) throw unexpected(action, 'user name');
  if (typeof password !== 'string' || !password) throw unexpected(action, 'token');
  const expiry = typeof expiresAt === 'string' ? Number(expiresAt) : expiresAt;
  if (typeof expiry !== 'number' || !Number.isFinite(expiry)) throw unexpected(action, 'expiry');
  return { username, password, expiresAt: expiry };
}

/** An HTTP 200 answer with `IsSuccess: false` and the error code in the body. */
function notSuccessful(action: string, body: Record<string, unknown>): CloudError {
  const code = quoteRemote(str(body.Code), 64);
  return new CloudError(`${action}: ${code || 'IsSuccess false'}`, {
    code: code || 'Failed',
    statusCode: 200,
    requestId: str(body.RequestId),
  });
}

function unexpected(action: string, what: string): CloudError {
  return new CloudError(`${action}: unexpected response (no ${what})`, { code: 'UnexpectedResponse' });
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
