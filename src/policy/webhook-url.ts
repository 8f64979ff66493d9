/**
 * The per-cluster URL secret: each cluster's webhook URL ends in an HMAC of the cluster's name under a
 * key kept in KMS, so only that cluster's API server (which holds its own URL) can make the function
 * act for that cluster. The key never leaves KMS and the function's memory; the URL is never logged.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Path prefix of admission requests: `/clusters/<cluster>/<secret>`. */
export const PATH_PREFIX = '/clusters/';

/** A new random key (base64, 32 bytes), as stored in KMS by `register --webhook` when none exists. */
export function newWebhookKey(): string {
  return randomBytes(32).toString('base64');
}

/** The URL secret of one cluster: base64url HMAC-SHA256 of a versioned label and the cluster name. */
export function urlSecret(key: string, cluster: string): string {
  return createHmac('sha256', Buffer.from(key, 'base64'))
    .update(`acr-fleet webhook v1\n${cluster}`)
    .digest('base64url');
}

/** The URL a cluster's MutatingWebhookConfiguration calls. */
export function clusterUrl(baseUrl: string, key: string, cluster: string): string {
  return `${baseUrl}${PATH_PREFIX}${encodeURIComponent(cluster)}/${urlSecret(key, cluster)}`;
}

/** Splits a request path into cluster and presented secret; undefined when it is not an admission path. */
export function parsePath(path: string): { cluster: string; secret: string } | undefined {
  if (!path.startsWith(PATH_PREFIX)) return undefined;
  const parts = path.slice(PATH_PREFIX.length).split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  try {
    return { cluster: decodeURIComponent(parts[0]), secret: parts[1] };
  } catch {
    return undefined;
  }
}

/** Constant-time comparison of a presented secret with the expected one. */
export function secretMatches(key: string, cluster: string, presented: string): boolean {
  const expected = Buffer.from(urlSecret(key, cluster));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
