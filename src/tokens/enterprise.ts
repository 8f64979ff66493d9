/** Enterprise Edition: CR 2018-12-01 GetAuthorizationToken; domains from ListInstanceEndpoint unless configured. */
import type { Registry } from '../config/resolve.js';
import type { CrApi } from '../cloud/cr.js';
import { registryDomains } from './domains.js';
import type { RegistryToken, TokenSource } from './source.js';

export class EnterpriseTokenSource implements TokenSource {
  /** `crFor` gives the CR API as the registry's identity. */
  constructor(
    private readonly crFor: (registry: Registry) => Promise<Pick<CrApi, 'enterpriseToken' | 'instanceDomains'>>,
  ) {}

  async fetch(registry: Registry): Promise<RegistryToken> {
    const instanceId = registry.instanceId ?? '';
    const cr = await this.crFor(registry);
    const [login, domains] = await Promise.all([
      cr.enterpriseToken(registry.regionId, instanceId),
      registry.domains ?? cr.instanceDomains(registry.regionId, instanceId),
    ]);
    // fleet.yaml's list was checked when loaded; the instance's answer is checked here.
    const { domains: kept, dropped } = registryDomains(domains);
    return { registry: registry.name, domains: kept, ...(dropped.length ? { droppedDomains: dropped } : {}), ...login };
  }
}
