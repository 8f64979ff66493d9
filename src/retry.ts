/**
 * Capped exponential backoff with jitter, shared by the Kubernetes transport and the OpenAPI caller: what
 * each retries is theirs to decide (kube/retry.ts, cloud/openapi.ts); how long to wait is decided here.
 */

export interface Backoff {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** First wait; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The wait after failed attempt `attempt` (counting from 1): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that many clients that failed together do not come back together.
 */
export function backoffDelay(b: Backoff, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(b.maxDelayMs, b.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
