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
import { KubeError } from '../errors.js';
import { type RetryAllowance, type RetryPolicy, type RetryRules } from '../retry.js';

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

/** Whether this failure is transient: by its status, or by its errno (`Timeout` for ours) when there was no answer. */
export function isRetryable(err: KubeError): boolean {
  return err.status ? RETRYABLE_STATUS.has(err.status) : RETRYABLE_ERRNO.has(err.reason ?? '');
}

/**
 * The Kubernetes rules for {@link retry}: a transient KubeError is tried again after the server's
 * `Retry-After` when it gave one (capped), else after backoff; anything else is final.
 */
export function kubeRetryRules(policy: RetryPolicy, budget: RetryAllowance): RetryRules {
  return {
    policy,
    classify: (err) =>
      !(err instanceof KubeError && isRetryable(err))
        ? 'stop'
        : err.retryAfterMs === undefined
          ? 'retry'
          : { retryAfterMs: Math.min(err.retryAfterMs, policy.maxRetryAfterMs ?? KUBE_RETRY.maxRetryAfterMs) },
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
