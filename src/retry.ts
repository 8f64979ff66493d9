/**
 * The one retry loop, shared by every protocol: the Kubernetes transport (kube/retry.ts), the OpenAPI
 * caller (cloud/openapi.ts) and a write that lost a race (a 409 re-read and re-applied). What is worth
 * retrying is each protocol's rule ({@link RetryRules.classify}); how often, how long to wait and how much
 * time may be lost in all are decided here, the same way for all of them.
 */
import { setTimeout as timerSleep } from 'node:timers/promises';

/** How many tries and how long the waits between them (capped exponential backoff). */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** First wait; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A server's own wait (`Retry-After`) is honoured up to this much; protocols without one leave it out. */
  maxRetryAfterMs?: number;
}

/**
 * The wait after failed attempt `attempt` (counting from 1): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that many clients that failed together do not come back together.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** A protocol's verdict on one failure: final, worth another try, or worth another try after this long. */
export type RetryVerdict = 'stop' | 'retry' | { retryAfterMs: number };

/** The time a caller may lose to faults, charged by {@link retry}; see {@link RetryBudget}. */
export interface RetryAllowance {
  /** Charges a failed attempt's duration and the planned wait; false when that would overspend. */
  take(failedMs: number, waitMs: number): boolean;
}

export interface RetryRules {
  /** How many tries, and the backoff between them when neither the verdict nor `delayMs` names a wait. */
  policy: RetryPolicy;
  /** Whether a failure is worth another try (and after how long, when the failure says so). */
  classify(err: unknown, attempt: number): RetryVerdict;
  /** The wait after failed attempt `attempt`, replacing the policy's backoff (e.g. a short linear one). */
  delayMs?(attempt: number, random: () => number): number;
  /** Shared by several loops (all the requests to one cluster): when spent, the next failure is final. */
  budget?: RetryAllowance;
  /** Told before each wait: for counting retries. */
  onRetry?(err: unknown, attempt: number, waitMs: number): void;
  /** Injectable for tests; default: timers. */
  sleep?(ms: number): Promise<unknown>;
  /** Injectable for tests; default: Math.random. */
  random?(): number;
}

/**
 * Runs `attempt(1)`, `attempt(2)`, … until one succeeds or a failure is final (its verdict is `'stop'`, the
 * attempts are used up, or the budget is spent); the final failure is thrown as `attempt` threw it.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, rules: RetryRules): Promise<T> {
  const sleep = rules.sleep ?? timerSleep;
  const random = rules.random ?? Math.random;
  for (let n = 1; ; n++) {
    const started = Date.now();
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= rules.policy.maxAttempts) throw err;
      const verdict = rules.classify(err, n);
      if (verdict === 'stop') throw err;
      const wait =
        verdict !== 'retry'
          ? verdict.retryAfterMs
          : rules.delayMs
            ? rules.delayMs(n, random)
            : backoffDelay(rules.policy, n, random);
      if (rules.budget && !rules.budget.take(Date.now() - started, wait)) throw err;
      rules.onRetry?.(err, n, wait);
      await sleep(wait);
    }
  }
}

/**
 * The time one caller may lose to faults: failed attempts and the waits after them, summed over all of
 * its requests. When it is spent, the next failure is final, so one sick server cannot hold a run.
 */
export class RetryBudget implements RetryAllowance {
  private spentMs = 0;
  constructor(private readonly totalMs: number) {}

  take(failedMs: number, waitMs: number): boolean {
    this.spentMs += failedMs;
    if (this.spentMs + waitMs > this.totalMs) return false;
    this.spentMs += waitMs;
    return true;
  }
}
