/**
 * Endpoint resolution per product and region. Defaults are the public regional hosts; `endpoints:` in
 * fleet.yaml overrides them with a URL (`{region}` is substituted) or a region → URL map.
 *
 * Hosts are built, never pasted (issue 15): a region must be a region id before it becomes a DNS label, the
 * result is a `URL`, and {@link checkEndpoint} accepts only a host under the cloud's domain or one the operator
 * wrote in fleet.yaml's `endpoints`. The OpenAPI caller checks the client's host again right before each request.
 */
import { AcrFleetError } from '../errors.js';
import { REGION } from '../config/rules.js';
import type { Endpoints } from '../config/resolve.js';

/** The Alibaba Cloud products acr-fleet calls. */
export type Product = 'cr' | 'sts' | 'kms' | 'cs' | 'fc' | 'adcp' | 'ram';

/** The domain every public Alibaba Cloud OpenAPI host ends in. */
export const CLOUD_DOMAIN = 'aliyuncs.com';

/** Where the SDK should send a request: `host` may include a port. */
export interface Endpoint {
  url: URL;
  protocol: 'http' | 'https';
  host: string;
}

/** The labels of each product's public host (the domain's own follow). */
const DEFAULT_LABELS: Record<Product, (region: string, accountId: string) => string[]> = {
  cr: (region) => ['cr', region],
  sts: (region) => ['sts', region],
  kms: (region) => ['kms', region],
  cs: (region) => ['cs', region],
  // FC 3.0 invocations go to the account's own endpoint (the SDK has no endpoint rule for it).
  fc: (region, accountId) => [accountId, region, 'fc'],
  // ACK One (discovery of a fleet instance's members) and RAM (GetRole for register), whose endpoint is global.
  adcp: (region) => ['adcp', region],
  ram: () => ['ram'],
};

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Thrown when a region or host may not become a request; nothing was sent. */
export class EndpointRefused extends AcrFleetError {
  readonly code = 'EndpointRefused';
}

/** A value quoted in an error: bounded, control characters removed. */
const quote = (s: string) => JSON.stringify(s.slice(0, 64).replace(/\p{Cc}/gu, ''));

/**
 * The endpoint of `product` in `region` (`{accountId}`: FC's per-account host). Throws {@link EndpointRefused}
 * for a region that is not a region id, a host outside the cloud's domain and fleet.yaml's endpoints, or a region
 * map without the region.
 */
export function resolveEndpoint(endpoints: Endpoints, product: Product, region: string, accountId = ''): Endpoint {
  if (!REGION.test(region))
    throw new EndpointRefused(`endpoints.${product}: region ${quote(region)} is not a region id; no request sent`);
  const configured = endpoints[product];
  let url: URL;
  if (configured === undefined) {
    const labels = [...DEFAULT_LABELS[product](region, accountId), ...CLOUD_DOMAIN.split('.')];
    if (!labels.every((l) => LABEL.test(l)))
      throw new EndpointRefused(`endpoints.${product}: account ${quote(accountId)} is not an account id`);
    url = new URL('https://placeholder.invalid');
    url.hostname = labels.join('.');
  } else {
    const template = typeof configured === 'string' ? configured : configured[region];
    if (template === undefined) {
      throw new EndpointRefused(
        `endpoints.${product}: no URL for region ${region} (configured: ${Object.keys(configured).join(', ')})`,
      );
    }
    url = new URL(template.replaceAll('{region}', region));
  }
  const endpoint: Endpoint = { url, protocol: url.protocol === 'http:' ? 'http' : 'https', host: url.host };
  checkEndpoint(endpoints, product, endpoint.host, endpoint.protocol);
  return endpoint;
}

/**
 * Whether `host` (`name[:port]`) may receive a `product` request: a host under `.aliyuncs.com` over HTTPS, or
 * exactly a host fleet.yaml's `endpoints.<product>` names (a `{region}` in it standing for a region id).
 * Throws {@link EndpointRefused} naming the host otherwise.
 */
export function checkEndpoint(endpoints: Endpoints, product: Product, host: string, protocol: string): void {
  let url: URL;
  try {
    url = new URL(`${protocol}://${host}`);
  } catch {
    throw new EndpointRefused(`endpoints.${product}: ${quote(host)} is not a host; no request sent`);
  }
  // Nothing may hide in the host string: it must read back exactly as the URL parsed it.
  const exact = url.host === host.toLowerCase() && url.pathname === '/' && !url.search && !url.username;
  const configured = endpoints[product];
  const written =
    configured === undefined ? [] : typeof configured === 'string' ? [configured] : Object.values(configured);
  const allowed =
    (exact &&
      protocol === 'https' &&
      url.hostname.endsWith(`.${CLOUD_DOMAIN}`) &&
      url.hostname.split('.').every((l) => LABEL.test(l))) ||
    (exact && written.some((w) => writtenHostMatches(w, url)));
  if (!allowed)
    throw new EndpointRefused(
      `endpoints.${product}: host ${quote(host)} is neither under .${CLOUD_DOMAIN} nor in fleet.yaml's endpoints; no request sent`,
    );
}

/** A URL written in fleet.yaml, `{region}` standing for one region id, against the URL about to be used. */
function writtenHostMatches(written: string, url: URL): boolean {
  const [scheme, rest] = written.split('://', 2);
  if (rest === undefined || `${scheme}:` !== url.protocol) return false;
  const host = rest.replace(/\/$/, '').toLowerCase();
  const pattern = host
    .split('{region}')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join(REGION.source.replace(/^\^|\$$/g, ''));
  return new RegExp(`^${pattern}$`).test(url.host);
}
