/** Personal Edition: CR 2016-06-07 `GET /tokens`; domains are the region's public, VPC and classic hosts. */
import type { Registry } from '../config/resolve.js';
import type { CrApi } from '../cloud/cr.js';
import type { RegistryToken, TokenSource } from './source.js';

/** The hosts a Personal Edition registry answers on in a region, as the add-on defaults them. */
export function personalDomains(region: string): string[] {
  return [
    `registry.${region}.aliyuncs.com`,
    `registry-vpc.${region}.aliyuncs.com`,
    `registry-internal.${region}.aliyuncs.com`,
  ];
}

export class PersonalTokenSource implements TokenSource {
  /** `crFor` gives the CR API as the registry's identity. */
  constructor(private readonly crFor: (registry: Registry) => Promise<Pick<CrApi, 'personalToken'>>) {}

  async fetch(registry: Registry): Promise<RegistryToken> {
    const login = await (await this.crFor(registry)).personalToken(registry.regionId);
    return { registry: registry.name, domains: registry.domains ?? personalDomains(registry.regionId), ...login };
  }
}
