/**
 * When a Kubernetes request is worth sending again, and after how long: a pure policy, like client-go's
 * (`rest.Request` retries on `Retry-After`; `wait.Backoff` with jitter), with a budget per cluster.
 *
 * Retried: 429 (API Priority and Fairness sheds load with it and a `Retry-After`), 500/502/503/504
 * (etcd leader changes, an apiserver restarting behind a load balancer), connection resets and refusals,
 * and timeouts. Never retried: every other status (401, 403, 404, 409, 422 are answers, not faults),
 * certificate errors and unknown hosts. Every write acr-fleet sends is safe to repeat (see client.ts).
 * The loop itself is the shared one of src/retry.ts.
 */
import type { KubeError } from '../errors.js';
import { backoffDelay, type RetryAllowance, type RetryPolicy, type RetryRules, type RetryVerdict } from '../retry.js';

/** The values used in production. */
export const KUBE_RETRY: Required<RetryPolicy> = {
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

/** The verdict on one failure: the server's `Retry-After` when it gave one (capped), else backoff. */
export function verdictOn(policy: RetryPolicy, f: AttemptFailure): RetryVerdict {
  if (!isRetryable(f)) return 'stop';
  if ('status' in f && f.retryAfterMs !== undefined)
    return { retryAfterMs: Math.min(f.retryAfterMs, policy.maxRetryAfterMs ?? KUBE_RETRY.maxRetryAfterMs) };
  return 'retry';
}

/**
 * A failed attempt as the transport's loop sees it: the error the caller gets if it is final, and what
 * the policy needs to know to judge it (the status or errno, the server's `Retry-After`).
 */
export class FailedAttempt extends Error {
  constructor(
    readonly error: KubeError,
    readonly failure: AttemptFailure,
  ) {
    super(error.message);
  }
}

/** The Kubernetes rules for {@link retry}: only {@link FailedAttempt}s are judged, anything else is final. */
export function kubeRetryRules(policy: RetryPolicy, budget: RetryAllowance): RetryRules {
  return {
    maxAttempts: policy.maxAttempts,
    classify: (err) => (err instanceof FailedAttempt ? verdictOn(policy, err.failure) : 'stop'),
    delayMs: (attempt, random) => backoffDelay(policy, attempt, random),
    budget,
  };
}

/** `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
