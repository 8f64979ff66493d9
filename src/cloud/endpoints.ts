/**
 * Endpoint resolution per product and region. Defaults are the public regional hosts; `endpoints:` in
 * fleet.yaml overrides them with a URL (`{region}` is substituted) or a region → URL map.
 */
import { AcrFleetError } from '../errors.js';
import type { Endpoints } from '../config/resolve.js';

/** The Alibaba Cloud products acr-fleet calls. */
export type Product = 'cr' | 'sts' | 'kms' | 'cs' | 'fc' | 'adcp' | 'ram';

/** Where the SDK should send a request: `host` may include a port. */
export interface Endpoint {
  protocol: 'http' | 'https';
  host: string;
}

const DEFAULT_HOST: Record<Product, string> = {
  cr: 'cr.{region}.aliyuncs.com',
  sts: 'sts.{region}.aliyuncs.com',
  kms: 'kms.{region}.aliyuncs.com',
  cs: 'cs.{region}.aliyuncs.com',
  // FC 3.0 invocations go to the account's own endpoint (the SDK has no endpoint rule for it).
  fc: '{accountId}.{region}.fc.aliyuncs.com',
  // ACK One (discovery of a fleet instance's members) and RAM (GetRole for register), whose endpoint is global.
  adcp: 'adcp.{region}.aliyuncs.com',
  ram: 'ram.aliyuncs.com',
};

/** The endpoint of `product` in `region` (`{accountId}`: FC's per-account host). Throws when a region map lacks the region. */
export function resolveEndpoint(endpoints: Endpoints, product: Product, region: string, accountId = ''): Endpoint {
  const configured = endpoints[product];
  if (configured === undefined)
    return {
      protocol: 'https',
      host: DEFAULT_HOST[product].replace('{region}', region).replace('{accountId}', accountId),
    };
  const url = typeof configured === 'string' ? configured : configured[region];
  if (url === undefined) {
    throw new AcrFleetError(
      `endpoints.${product}: no URL for region ${region} (configured: ${Object.keys(configured).join(', ')})`,
    );
  }
  const parsed = new URL(url.replaceAll('{region}', region));
  return { protocol: parsed.protocol === 'http:' ? 'http' : 'https', host: parsed.host };
}
