/**
 * `discovery:` in fleet.yaml: cluster sources next to `clusters:`. ACK clusters selected by regions and tags
 * (CS DescribeClustersV1), or the member clusters of an ACK One fleet instance (ADCP DescribeManagedClusters).
 * Each source may override the defaults for the clusters it finds (`settings`); the first source that finds a
 * cluster gives its settings. This module holds the schema part, the checks the schema cannot express, and
 * the resolved form; listing and merging happen in src/fleet/discover.ts.
 */
import * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { REGION, REGION_MESSAGE } from './rules.js';

const region = z.string().regex(REGION, REGION_MESSAGE);
const hubClusterId = z
  .string()
  .regex(/^c[a-z0-9]+$/, 'expected the ACK One fleet instance (hub cluster) id, such as c4f2a1b9e8d7c6b5a');
/** ACK tag keys and values: what the console accepts (keys 1..128, values 0..128, no control characters). */
const tagKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]+$/u, 'expected a tag key without control characters');
const tagValue = z
  .string()
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, 'expected a tag value without control characters');

/** The schema of `discovery:`; `settings` is the shape of the settings a cluster may override. */
export function discoverySchema(settings: z.ZodRawShape, registryName: z.ZodType) {
  const sourceSettings = z
    .strictObject({
      ...settings,
      registries: z
        .array(registryName)
        .min(1)
        .optional()
        .describe('Registries whose credentials the discovered clusters get. Default: all.'),
    })
    .optional()
    .describe('Overrides of defaults for the clusters this source finds (first matching source wins).');
  const privateIpAddress = z
    .boolean()
    .optional()
    .describe("Use the API servers' internal (VPC) addresses. Default: false.");
  const allowPrivateAddress = z
    .boolean()
    .optional()
    .describe(
      'Allow API servers at a loopback address (kubeconfig allowPrivateAddress); metadata and link-local stay refused. Default: false.',
    );
  const ack = z.strictObject({
    regions: z.array(region).min(1).describe('Regions to list ACK clusters in (one DescribeClustersV1 listing each).'),
    tags: z
      .record(tagKey, tagValue)
      .refine((t) => Object.keys(t).length > 0, { error: 'expected at least one tag (key: value)' })
      .describe('Tags a cluster must carry, every one of them, to be found (ACK tags, e.g. acr-fleet: enabled).'),
    privateIpAddress,
    allowPrivateAddress,
    settings: sourceSettings,
  });
  const ackOne = z.strictObject({
    hubClusterId: hubClusterId.describe('The ACK One fleet instance (its hub cluster id) whose members are found.'),
    region: region.optional().describe('Region of the fleet instance. Default: the top-level regionId.'),
    privateIpAddress,
    allowPrivateAddress,
    settings: sourceSettings,
  });
  return z
    .array(
      z.union(
        [
          z.strictObject({ ack: ack.describe('ACK clusters selected by regions and tags.') }),
          z.strictObject({ ackOne: ackOne.describe('Member clusters of an ACK One fleet instance.') }),
        ],
        { error: 'expected { ack: { regions, tags } } or { ackOne: { hubClusterId } }' },
      ),
    )
    .min(1)
    .describe(
      'Cluster sources: each found cluster joins the fleet with { ackClusterId } credentials and a name derived from its ACK name. Explicit clusters: entries win over discovered ones of the same cluster id.',
    );
}

/**
 * One source, resolved. `template` is a cluster with the source's settings (a resolved `Cluster`, generic here
 * so that resolve.ts can import this module); discovery (discover.ts) fills its name and kubeconfig.
 */
export interface DiscoverySource<C = unknown> {
  /** Where it is in fleet.yaml: `discovery[0]`. */
  path: string;
  kind: 'ack' | 'ackOne';
  /** `discovery[0] (ack cn-hangzhou, cn-beijing; acr-fleet=enabled)`: how reports and errors name it. */
  label: string;
  /** Regions listed (ack), or the fleet instance's region (ackOne). */
  regions: string[];
  hubClusterId?: string;
  tags: Record<string, string>;
  privateIpAddress: boolean;
  allowPrivateAddress: boolean;
  template: C;
}

/** A discovery entry as the schema accepted it. */
export type DiscoveryEntry =
  | {
      ack: {
        regions: string[];
        tags: Record<string, string>;
        privateIpAddress?: boolean;
        allowPrivateAddress?: boolean;
        settings?: object;
      };
    }
  | {
      ackOne: {
        hubClusterId: string;
        region?: string;
        privateIpAddress?: boolean;
        allowPrivateAddress?: boolean;
        settings?: object;
      };
    };

/**
 * Resolves the sources. `resolve` turns a cluster entry (the source's settings, a placeholder name and an
 * `ackClusterId` kubeconfig) into a resolved cluster, with the defaults merged as for any `clusters:` entry.
 */
export function resolveDiscovery<C>(
  entries: readonly DiscoveryEntry[],
  regionId: string | undefined,
  resolve: (entry: Record<string, unknown>) => C,
): { sources: DiscoverySource<C>[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const sources = entries.map((e, i): DiscoverySource<C> => {
    const path = `discovery[${i}]`;
    const spec = 'ack' in e ? e.ack : e.ackOne;
    const regions = 'ack' in e ? [...new Set(e.ack.regions)] : [e.ackOne.region ?? regionId ?? ''];
    if ('ackOne' in e && !regions[0])
      problems.push({
        path: `${path}.ackOne.region`,
        message: 'required: no top-level regionId, and neither FC_REGION nor ALIBABA_CLOUD_REGION_ID is set',
      });
    const tags = 'ack' in e ? e.ack.tags : {};
    const label =
      'ack' in e
        ? `${path} (ack ${regions.join(', ')}; ${Object.entries(tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : `${path} (ackOne ${e.ackOne.hubClusterId} in ${regions[0] ?? ''})`;
    const template = resolve({
      ...(spec.settings ?? {}),
      name: 'discovered',
      kubeconfig: { ackClusterId: 'c0', regionId: regions[0] || 'cn-hangzhou' },
    });
    return {
      path,
      kind: 'ack' in e ? 'ack' : 'ackOne',
      label,
      regions,
      ...('ackOne' in e ? { hubClusterId: e.ackOne.hubClusterId } : {}),
      tags,
      privateIpAddress: spec.privateIpAddress ?? false,
      allowPrivateAddress: spec.allowPrivateAddress ?? false,
      template,
    };
  });
  return { sources, problems };
}

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the schema cannot say about `discovery:` and `clusters:` together: a fleet needs one of them; a
 * source's registries must exist (`reference` reports unknown names with a suggestion).
 */
export function discoveryProblems(doc: Raw, reference: (path: string, value: unknown) => void): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const discovery = Array.isArray(doc.discovery) ? doc.discovery : undefined;
  if (!discovery) {
    if (doc.clusters === undefined) problems.push({ path: 'clusters', message: 'required (or discovery:)' });
    else if (Array.isArray(doc.clusters) && doc.clusters.length === 0)
      problems.push({ path: 'clusters', message: 'expected at least 1 item(s)' });
    return problems;
  }
  discovery.forEach((entry, i) => {
    if (!isMap(entry)) return;
    for (const kind of ['ack', 'ackOne'] as const) {
      const spec = entry[kind];
      if (!isMap(spec) || !isMap(spec.settings)) continue;
      const registries = spec.settings.registries;
      if (Array.isArray(registries))
        registries.forEach((r, j) => reference(`discovery[${i}].${kind}.settings.registries[${j}]`, r));
    }
  });
  return problems;
}
