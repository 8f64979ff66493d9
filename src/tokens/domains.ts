/**
 * Which registry domains a token is written for (issue 15: tokens go only where they belong): the domains
 * fleet.yaml lists for the registry, else those the cloud gave for it (Enterprise Edition: the instance's
 * `ListInstanceEndpoint`; Personal Edition: the region's hosts). Each must be a plain hostname, compared whole
 * and lowercased (docker matches `auths` keys exactly); anything else is dropped and named, never written.
 */
import { isRegistryDomain } from '../config/rules.js';

/** The domains kept (deduplicated, in order) and those dropped, quoted for a log line. */
export function registryDomains(candidates: readonly string[]): { domains: string[]; dropped: string[] } {
  const domains: string[] = [];
  const dropped: string[] = [];
  for (const raw of candidates) {
    const domain = raw.toLowerCase();
    if (!isRegistryDomain(domain)) dropped.push(JSON.stringify(raw.slice(0, 253).replace(/\p{Cc}/gu, '')));
    else if (!domains.includes(domain)) domains.push(domain);
  }
  return { domains, dropped };
}
