/**
 * Fanning a timer run out into asynchronous invocations (issue 18): the internet clusters go to the main
 * function (in shards past `shardSize`), each network's clusters to that network's function
 * (`<main>-net-<network>`, attached to its VPC). The plan is a pure function of the fleet, so every function
 * of the deploy computes the same one from the same fleet.yaml.
 *
 * Two limits of Function Compute shape it:
 * - An async event is at most 128 KB: a payload names clusters only, and a shard whose names would not fit
 *   is split into several invocations (MAX_PAYLOAD_BYTES, below the limit whatever "KB" means).
 * - The account's on-demand instances are shared (the webhook function needs them too): at most
 *   `maxConcurrentInvocations` planned invocations run at once. An async invocation cannot be awaited, so
 *   the plan runs as that many chains: the timer run starts positions 0..M-1, and the invocation at position
 *   p, when done, starts p+M. A position that cannot be queued (function missing, denied) is reported and
 *   its chain moves on to the next one at once.
 */
import type { Payload } from '../config/payload.js';
import type { Fleet } from '../config/resolve.js';
import { networkFunctionName } from '../config/networks.js';
import { shardClusters } from './shard.js';

export { networkFunctionName };

/** Below FC's 128 KB async limit, whether it counts KiB (131,072) or kB (128,000) bytes. */
export const MAX_PAYLOAD_BYTES = 128_000;

/** A function to invoke: the main one (network undefined) or a network's. */
export interface Target {
  name: string;
  region: string;
  network?: string;
}

/** One planned async invocation. */
export interface PlannedInvocation {
  target: Target;
  /** The jump-hash shard of the target's clusters (one shard may be split into several invocations). */
  shard: { index: number; count: number };
  clusters: string[];
}

/** The main function's name, seen from a function of the deploy (a network function strips its suffix). */
export function mainFunctionName(own: string, networks: readonly string[]): string {
  const net = networks.find((n) => own.endsWith(`-net-${n}`));
  return net ? own.slice(0, -`-net-${net}`.length) : own;
}

/** Whether a timer run of this fleet fans out (past one shard, or any cluster in a network). */
export function needsDispatch(fleet: Pick<Fleet, 'clusters' | 'shardSize'>): boolean {
  return fleet.clusters.length > fleet.shardSize || fleet.clusters.some((c) => c.network !== undefined);
}

/** Every invocation of a timer run, in order: internet shards first, then each network's (by name). */
export function planDispatch(
  fleet: Pick<Fleet, 'clusters' | 'shardSize' | 'networks'>,
  main: { name: string; region: string },
  dryRun = false,
): PlannedInvocation[] {
  const groups = new Map<string | undefined, string[]>();
  for (const c of fleet.clusters) {
    const names = groups.get(c.network) ?? [];
    if (!names.length) groups.set(c.network, names);
    names.push(c.name);
  }
  // The internet first (sort would put undefined last), then the networks by name.
  const named = [...groups.keys()].filter((k): k is string => k !== undefined).sort();
  const order = [...(groups.has(undefined) ? [undefined] : []), ...named];
  return order.flatMap((network) => {
    const target: Target =
      network === undefined
        ? main
        : {
            name: networkFunctionName(main.name, network),
            region: fleet.networks?.[network]?.region ?? main.region,
            network,
          };
    return shardClusters(groups.get(network) ?? [], fleet.shardSize).flatMap((s) =>
      splitToFit(s.clusters, (part) => payloadOf({ index: s.index, count: s.count }, part, dryRun)).map((clusters) => ({
        target,
        shard: { index: s.index, count: s.count },
        clusters,
      })),
    );
  });
}

/**
 * An invocation's event: its shard and its cluster names only, never a credential. Typed as the payload schema's
 * output, so the invocation parses it like any other payload.
 */
export function payloadOf(shard: { index: number; count: number }, clusters: string[], dryRun: boolean): string {
  const payload: Payload = {
    shard: { index: shard.index, count: shard.count },
    clusters,
    ...(dryRun ? { dryRun } : {}),
  };
  return JSON.stringify(payload);
}

/** Consecutive parts of `names` whose payloads fit MAX_PAYLOAD_BYTES (greedy; a name is at most 63 bytes). */
function splitToFit(names: string[], payload: (part: string[]) => string): string[][] {
  const whole = Buffer.byteLength(payload(names));
  if (whole <= MAX_PAYLOAD_BYTES) return [names];
  const overhead = Buffer.byteLength(payload([]));
  const parts: string[][] = [];
  let part: string[] = [];
  let size = overhead;
  for (const name of names) {
    const add = Buffer.byteLength(JSON.stringify(name)) + (part.length ? 1 : 0);
    if (part.length && size + add > MAX_PAYLOAD_BYTES) {
      parts.push(part);
      part = [];
      size = overhead;
    }
    size += Buffer.byteLength(JSON.stringify(name)) + (part.length ? 1 : 0);
    part.push(name);
  }
  if (part.length) parts.push(part);
  return parts;
}

/** Where an invocation with these clusters sits in the plan (its first cluster is in no other invocation). */
export function positionOf(plan: readonly PlannedInvocation[], clusters: readonly string[]): number {
  return plan.findIndex((p) => p.clusters[0] === clusters[0]);
}

/** The outcome of trying to queue one planned invocation. */
export interface Queued {
  position: number;
  requestId?: string;
  error?: string;
}

/**
 * Queues the invocation at `position`; when it cannot be queued, the chain's next one (position + step), and
 * so on: a missing function never stalls the clusters behind it. Resolves with every attempt.
 */
export async function startChain(
  plan: readonly PlannedInvocation[],
  position: number,
  step: number,
  invoke: (p: PlannedInvocation) => Promise<string | undefined>,
  describe: (err: unknown, p: PlannedInvocation) => string,
): Promise<Queued[]> {
  const out: Queued[] = [];
  for (let p = position; p < plan.length; p += step) {
    const planned = plan[p];
    if (!planned) break;
    try {
      out.push({ position: p, requestId: await invoke(planned) });
      return out;
    } catch (err) {
      out.push({ position: p, error: describe(err, planned) });
    }
  }
  return out;
}
