/**
 * When a Kubernetes request is worth sending again, and after how long: a pure policy, like client-go's
 * (`rest.Request` retries on `Retry-After`; `wait.Backoff` with jitter), with a budget per cluster.
 *
 * Retried: 429 (API Priority and Fairness sheds load with it and a `Retry-After`), 500/502/503/504
 * (etcd leader changes, an apiserver restarting behind a load balancer), connection resets and refusals,
 * and timeouts. Never retried: every other status (401, 403, 404, 409, 422 are answers, not faults),
 * certificate errors and unknown hosts. Every write acr-fleet sends is safe to repeat (see client.ts).
 */
import { backoffDelay, type Backoff } from '../retry.js';

/** Tunables of the policy; {@link DEFAULT_RETRY} holds the values used in production. */
export interface RetryPolicy extends Backoff {
  /** A server's `Retry-After` is honoured up to this much. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 10_000,
};

/** HTTP statuses that mean "not now" rather than "no". */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Network failures where the server may well answer the next time. */
const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'Timeout',
  // HTTP/2: a stream reset, a connection closed (GOAWAY) or broken under it.
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_INVALID_SESSION',
]);

/** What went wrong with one attempt: an HTTP status, or a network error code (`Timeout` for ours). */
export type AttemptFailure = { status: number; retryAfterMs?: number | undefined } | { errno: string };

/** Whether this failure is transient. */
export function isRetryable(f: AttemptFailure): boolean {
  return 'status' in f ? RETRYABLE_STATUS.has(f.status) : RETRYABLE_ERRNO.has(f.errno);
}

/** The wait before attempt `attempt + 1`: the server's `Retry-After` when it gave one (capped), else backoff. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  f: AttemptFailure,
  random: () => number = Math.random,
): number {
  if ('status' in f && f.retryAfterMs !== undefined) return Math.min(f.retryAfterMs, policy.maxRetryAfterMs);
  return backoffDelay(policy, attempt, random);
}

/** `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The time one cluster may lose to faults: failed attempts and the waits after them, summed over all of
 * its requests. When it is spent, the next failure is final, so one sick API server cannot hold a run.
 */
export class RetryBudget {
  private spentMs = 0;
  constructor(private readonly totalMs: number) {}

  /** Charges a failed attempt's duration and the planned wait; false when that would overspend. */
  take(failedMs: number, waitMs: number): boolean {
    this.spentMs += failedMs;
    if (this.spentMs + waitMs > this.totalMs) return false;
    this.spentMs += waitMs;
    return true;
  }
}
