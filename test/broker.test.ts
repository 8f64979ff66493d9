/** The token broker: once per registry per run; for a long-lived caller, fresh when a token nears expiry. */
import test from 'ava';
import type { Registry } from '../src/config/resolve.js';
import { TokenBroker } from '../src/tokens/broker.js';
import type { RegistryToken, TokenSource } from '../src/tokens/source.js';

const registry: Registry = {
  name: 'prod',
  edition: 'enterprise',
  instanceId: 'cri-x',
  regionId: 'cn-beijing',
  credential: { base: { kind: 'default' } },
};
const MIN = 60_000;

/** A source whose n-th fetch answers `answers[n]`: a lifetime in minutes from `now`, or an error. */
function source(now: number, answers: (number | Error)[]) {
  let fetches = 0;
  const src: TokenSource = {
    fetch: async (r): Promise<RegistryToken> => {
      const a = answers[fetches++];
      if (a instanceof Error || a === undefined) throw a ?? new Error('no more answers');
      return { registry: r.name, domains: ['d'], username: 'u', password: `pw-${fetches}`, expiresAt: now + a * MIN };
    },
  };
  return { src, fetches: () => fetches };
}

test('a run fetches each registry once, whoever asks', async (t) => {
  const s = source(0, [60]);
  const broker = new TokenBroker({ enterprise: s.src, personal: s.src });
  await Promise.all([broker.get(registry), broker.get({ ...registry, name: 'same-identity' }), broker.get(registry)]);
  t.is(s.fetches(), 1);
});

test('a long-lived caller keeps a token while it outlives the threshold, fetches anew when it does not, and retries a failure', async (t) => {
  const now = Date.parse('2026-11-24T00:00:00Z');
  const s = source(now, [60, new Error('throttled'), 60]);
  const broker = new TokenBroker({ enterprise: s.src, personal: s.src });
  t.is((await broker.fresh(registry, 15 * MIN, now)).password, 'pw-1');
  t.is((await broker.fresh(registry, 15 * MIN, now + 30 * MIN)).password, 'pw-1', '30 minutes left: kept');
  await t.throwsAsync(broker.fresh(registry, 15 * MIN, now + 50 * MIN), { message: 'registry prod: Error: throttled' });
  t.is((await broker.fresh(registry, 15 * MIN, now + 50 * MIN)).password, 'pw-3', 'the failure was not kept');
  t.is(s.fetches(), 3);
});
