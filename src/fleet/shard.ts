/**
 * Splitting a fleet into shards, one Function Compute invocation each. Pure.
 *
 * A cluster's shard is Lamping and Veach's jump consistent hash of its name ("A Fast, Minimal Memory,
 * Consistent Hash Algorithm", 2014) over `ceil(clusters / shardSize)` buckets. Why not sorted name chunks:
 * inserting one name shifts every later chunk boundary, so about half the fleet changes shard; with the
 * jump hash, adding or removing a cluster moves no other cluster while the shard count stays, and when the
 * count grows from n to n+1 only about 1/(n+1) of the clusters move (all into the new shard). A cluster thus
 * keeps its shard, and its log lines their shard, from tick to tick. The price: shard sizes vary
 * binomially around the mean (≤ shardSize), a few per cent over shardSize at worst for large shards.
 */
import { createHash } from 'node:crypto';
import type { Payload } from '../config/payload.js';

/** One shard: its bucket index (0-based), the bucket count (empty buckets are not dispatched), and its cluster names, sorted. */
export interface Shard {
  index: number;
  count: number;
  clusters: string[];
}

/** The shards of `names` (each name in exactly one; empty shards dropped), or one shard when they fit. */
export function shardClusters(names: readonly string[], shardSize: number): Shard[] {
  const count = Math.max(1, Math.ceil(names.length / Math.max(1, shardSize)));
  const buckets: string[][] = Array.from({ length: count }, () => []);
  for (const name of names) buckets[jumpHash(nameKey(name), count)]?.push(name);
  return buckets
    .map((clusters, index) => ({ index, count, clusters: clusters.sort() }))
    .filter((s) => s.clusters.length > 0);
}

/**
 * A shard's invocation event: its place and its cluster names only — never a token or any other credential.
 * Typed as the payload schema's output, so the shard invocation parses it like any other payload.
 */
export function shardPayload(shard: Shard, dryRun: boolean): string {
  const payload: Payload = {
    shard: { index: shard.index, count: shard.count },
    clusters: shard.clusters,
    ...(dryRun ? { dryRun } : {}),
  };
  return JSON.stringify(payload);
}

/** A 64-bit key from the name: the first 8 bytes of its SHA-256 (stable across runs and Node versions). */
function nameKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigUInt64BE(0);
}

const MASK = (1n << 64n) - 1n;

/** Jump consistent hash: the bucket in [0, buckets) of a 64-bit key. */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}
