/** Enterprise Edition: CR 2018-12-01 GetAuthorizationToken; domains from ListInstanceEndpoint unless configured. */
import type { Registry } from '../config/resolve.js';
import type { CrApi } from '../cloud/cr.js';
import type { RegistryToken, TokenSource } from './source.js';

export class EnterpriseTokenSource implements TokenSource {
  constructor(private readonly cr: Pick<CrApi, 'enterpriseToken' | 'instanceDomains'>) {}

  async fetch(registry: Registry): Promise<RegistryToken> {
    const instanceId = registry.instanceId ?? '';
    const [login, domains] = await Promise.all([
      this.cr.enterpriseToken(registry.regionId, instanceId),
      registry.domains ?? this.cr.instanceDomains(registry.regionId, instanceId).then((ds) => ds.map((d) => d.domain)),
    ]);
    return { registry: registry.name, domains: [...new Set(domains)], ...login };
  }
}
