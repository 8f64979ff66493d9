/**
 * Clusters in many networks (issue 18): fleet.yaml's `networks:` (name → the VPC a function is attached to),
 * `network:` per cluster or in `defaults` (absent: the internet, i.e. the main function), and `dispatch:`
 * (how many shard and network invocations may run at once). Schema pieces for schema.ts, the cross-reference
 * check for the one validation pass (load.ts) and the resolved model.
 */
import * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { closest, DNS1123_LABEL, REGION, REGION_MESSAGE } from './rules.js';

/** A network's name becomes part of a function name (`<functionName>-net-<name>`): a short DNS label. */
const networkName = z
  .string()
  .regex(DNS1123_LABEL, 'expected a lowercase name (letters, digits and "-")')
  .max(32, 'expected at most 32 characters (it becomes part of a function name)');

/** VPC resource ids as the VPC API prints them: a prefix and lowercase letters and digits. */
const resourceId = (prefix: string, example: string) =>
  z.string().regex(new RegExp(`^${prefix}-[a-z0-9]{6,32}$`), `expected a ${prefix}- id such as ${example}`);

export const networkSchema = z.strictObject({
  region: z.string().regex(REGION, REGION_MESSAGE).describe("The VPC's region: its function is deployed there."),
  vpcId: resourceId('vpc', 'vpc-bp1aevy8sofi8mh1q0001').describe('VPC the function joins.'),
  vSwitchIds: z
    .array(resourceId('vsw', 'vsw-bp1sxxsodv28ey5dl0001'))
    .min(1)
    .describe('vSwitches (zones) of the VPC the function may use.'),
  securityGroupId: resourceId('sg', 'sg-bp18hj1wtxgy3b0s0001').describe(
    "Security group of the function's network interfaces (it must reach the API servers on 6443).",
  ),
});

export const networksSchema = z
  .record(networkName, networkSchema)
  .describe(
    'Private networks whose API servers the internet function cannot reach: each gets its own function (README, "Clusters in many networks").',
  );

export const dispatchSchema = z
  .strictObject({
    maxConcurrentInvocations: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Shard and network invocations running at once, across all functions. Keep it below the account's FC instance quota minus what the webhook needs. Default: 10.",
      ),
  })
  .describe('How a timer run fans out into invocations.');

/** Per-cluster (and `defaults`) keys. */
export const networkSettingsShape = {
  network: networkName
    .optional()
    .describe('Name of the network (networks:) whose function reaches this cluster. Default: the internet.'),
  acceleration: z
    .boolean()
    .optional()
    .describe(
      'Label the managed Secrets images.alibabacloud.com/accelerated: "true" for ACK on-demand image loading. Default: false.',
    ),
};

export type NetworkConfig = z.infer<typeof networkSchema>;

/** A resolved network: where its function lives. */
export interface Network extends NetworkConfig {
  name: string;
}

/** The function serving a network: `<main>-net-<network>` (s.networks.yaml, fleet/dispatch.ts, policy). */
export function networkFunctionName(main: string, network: string): string {
  return `${main}-net-${network}`;
}

export const DISPATCH_DEFAULTS = { maxConcurrentInvocations: 10 } as const;

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every `network:` names a network of `networks:` (with did-you-mean). */
export function networkReferences(doc: unknown): ConfigProblem[] {
  if (!isMap(doc)) return [];
  const defined = isMap(doc.networks) ? Object.keys(doc.networks) : [];
  const check = (path: string, value: unknown): ConfigProblem[] => {
    if (typeof value !== 'string' || defined.includes(value)) return [];
    const meant = closest(value, defined);
    return [
      {
        path,
        message: `unknown network "${value.slice(0, 80)}" (${defined.length ? `defined: ${defined.join(', ')}` : 'no networks: defined'})${meant ? `; did you mean "${meant}"?` : ''}`,
      },
    ];
  };
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  return [
    ...check('defaults.network', isMap(doc.defaults) ? doc.defaults.network : undefined),
    ...clusters.flatMap((c, i) => (isMap(c) ? check(`clusters[${i}].network`, c.network) : [])),
  ];
}

/** The resolved networks, by name. */
export function resolveNetworks(networks: Record<string, NetworkConfig> | undefined): Record<string, Network> {
  return Object.fromEntries(Object.entries(networks ?? {}).map(([name, n]) => [name, { name, ...n }]));
}
