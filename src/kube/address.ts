/**
 * Where a kubeconfig from KMS or ACK may point: never at the cloud's metadata service or a link-local
 * address (they hand out the function's own credentials), and at a loopback or unspecified address only
 * when fleet.yaml allows that cluster (`allowPrivateAddress`). Checked on the server's literal address
 * when the kubeconfig is read, and on every address its host name resolves to, at each connection.
 */
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Refused whatever fleet.yaml says. */
const METADATA = blockList([
  ['100.100.100.200', 32, 'ipv4'], // Alibaba Cloud ECS/FC metadata service
  ['169.254.169.254', 32, 'ipv4'],
]);
const LINK_LOCAL = blockList([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
/** Refused unless fleet.yaml allows the cluster a private address. */
const LOOPBACK = blockList([
  ['127.0.0.0', 8, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
  ['::', 128, 'ipv6'],
]);

function blockList(subnets: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix, type] of subnets) {
    list.addSubnet(net, prefix, type);
    // The same IPv4 address written as IPv6 (::ffff:a.b.c.d) reaches the same host.
    if (type === 'ipv4') list.addSubnet(`::ffff:${net}`, 96 + prefix, 'ipv6');
  }
  return list;
}

/** Why an IP address is refused (`127.0.0.1 is a loopback address; …`), or undefined. */
export function addressRefusal(address: string, allowPrivateAddress: boolean): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (!family) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA.check(bare, type)) return `${bare} is the cloud metadata service`;
  if (LINK_LOCAL.check(bare, type)) return `${bare} is a link-local address`;
  if (!allowPrivateAddress && LOOPBACK.check(bare, type))
    return `${bare} is a loopback or unspecified address; allow it with kubeconfig: { allowPrivateAddress: true } in fleet.yaml (register --allow-private-address)`;
  return undefined;
}

/** The error a refused resolution fails a connection with (never retried). */
export const ADDRESS_REFUSED = 'ERR_ADDRESS_REFUSED';

/**
 * A `lookup` for the cluster's connections (https.Agent, http2.connect): resolves as Node would and fails
 * the connection when any address is refused. `describe` makes the one-line message from the host and reason.
 */
export function guardedLookup(
  allowPrivateAddress: boolean,
  describe: (host: string, reason: string) => string,
): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const why = addressRefusal(a.address, allowPrivateAddress);
        if (why)
          return callback(
            Object.assign(new Error(describe(hostname, `resolves to ${why}`)), { code: ADDRESS_REFUSED }),
            '',
            0,
          );
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}

/** Every address `hostname` resolves to now; empty when it does not resolve (the connection will say why). */
export async function resolveAll(hostname: string): Promise<string[]> {
  try {
    return (await dns.promises.lookup(hostname, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}
