/** RAM 2015-05-01: the id of a role, which is the Kubernetes user ACK maps every session of the role to. */
import { CloudError } from '../errors.js';
import type { OpenApiCaller } from './openapi.js';

export class RamApi {
  constructor(private readonly api: OpenApiCaller) {}

  /** `GetRole` → `Role.RoleId` (numeric). `region` only picks the endpoint: RAM is global. */
  async roleId(region: string, roleName: string): Promise<string> {
    const body = await this.api.rpc({
      product: 'ram',
      region,
      action: 'GetRole',
      version: '2015-05-01',
      query: { RoleName: roleName },
    });
    const id = (body.Role as { RoleId?: unknown } | undefined)?.RoleId;
    if (typeof id !== 'string' || !/^\d{1,32}$/.test(id))
      throw new CloudError('GetRole: unexpected response (no numeric Role.RoleId)', { code: 'UnexpectedResponse' });
    return id;
  }
}
