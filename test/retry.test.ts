/** The one retry loop (src/retry.ts): tries, waits and budget, the same for every protocol. */
import test from 'ava';
import { retry, RetryBudget, type RetryRules, type RetryVerdict } from '../src/retry.js';

const POLICY = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 };

/** Runs an attempt that fails `failures` times with the verdicts given, recording the waits. */
async function run(verdicts: RetryVerdict[], rules: Partial<RetryRules> = {}) {
  const waits: number[] = [];
  const attempts: number[] = [];
  const outcome = await retry(
    async (n) => {
      attempts.push(n);
      if (n <= verdicts.length) throw new Error(`failure ${n}`);
      return `ok after ${n}`;
    },
    {
      policy: POLICY,
      classify: (_err, n) => verdicts[n - 1] ?? 'stop',
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
      ...rules,
    },
  ).catch((err: unknown) => (err as Error).message);
  return { outcome, attempts, waits };
}

test('a failure judged transient is tried again after capped exponential backoff with jitter', async (t) => {
  t.deepEqual(await run(['retry', 'retry', 'retry']), {
    outcome: 'ok after 4',
    attempts: [1, 2, 3, 4],
    // 100, 200, 250 (capped), each half fixed and half random (0.5).
    waits: [75, 150, 188],
  });
});

test('a failure judged final is thrown as it was, without a wait', async (t) => {
  t.deepEqual(await run(['retry', 'stop']), { outcome: 'failure 2', attempts: [1, 2], waits: [75] });
});

test('the last attempt failing is final whatever its verdict', async (t) => {
  t.deepEqual(await run(['retry', 'retry', 'retry', 'retry']), {
    outcome: 'failure 4',
    attempts: [1, 2, 3, 4],
    waits: [75, 150, 188],
  });
});

test("a verdict's own wait (a server's Retry-After) replaces the backoff", async (t) => {
  t.deepEqual(await run([{ retryAfterMs: 1_000 }]), { outcome: 'ok after 2', attempts: [1, 2], waits: [1_000] });
});

test('a delay rule of its own replaces the backoff (a short linear one for conflicts)', async (t) => {
  const r = await run(['retry', 'retry'], { delayMs: (n, random) => 10 * n * (0.9 + random() * 0.2) });
  t.deepEqual(r.waits, [10, 20]);
});

test('a spent budget makes the next failure final', async (t) => {
  // 75 ms fits in 100; 75 + 150 does not.
  t.deepEqual(await run(['retry', 'retry'], { budget: new RetryBudget(100) }), {
    outcome: 'failure 2',
    attempts: [1, 2],
    waits: [75],
  });
});

test('each retry is told before its wait, for counting', async (t) => {
  const told: [string, number, number][] = [];
  await run(['retry', { retryAfterMs: 5 }], {
    onRetry: (err, n, ms) => void told.push([(err as Error).message, n, ms]),
  });
  t.deepEqual(told, [
    ['failure 1', 1, 75],
    ['failure 2', 2, 5],
  ]);
});
