/** The planner alone: a pure function of settings, tokens, observed state and time. */
import test from 'ava';
import { desiredPullSecrets, planCluster, type PlanSettings } from '../src/reconcile/plan.js';
import type { Observed } from '../src/reconcile/state.js';
import type { RegistryToken } from '../src/tokens/source.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const token = (registry: string, domains: string[], expiresInMin = 60): RegistryToken => ({
  registry,
  domains,
  username: 'cr_temp_user',
  password: `pw-${registry}`,
  expiresAt: NOW + expiresInMin * 60_000,
});
const settings: PlanSettings = { namespaces: { all: false, names: ['a', 'b'] }, serviceAccounts: ['default'], expiringThresholdMs: 15 * 60_000, secretName: 'acr' };
const empty: Observed = { namespaces: [{ name: 'a', terminating: false }, { name: 'b', terminating: false }], secrets: [], serviceAccounts: [] };

test('two registries that claim the same domain cannot share one Secret', (t) => {
  t.throws(() => planCluster(settings, [token('x', ['d.example.com']), token('y', ['d.example.com'])], empty, NOW), {
    message: 'domain d.example.com is served by both registry x and registry y',
  });
});

const DECISIONS: [string, (hash: string) => Record<string, string>, 'expiring' | 'inputs changed' | undefined][] = [
  ['a Secret with the same inputs far from expiry is left alone', (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': '2026-11-23T10:30:00.000Z' }), undefined],
  ['a Secret expiring within the threshold is rewritten', (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': '2026-11-23T10:14:59.000Z' }), 'expiring'],
  ['a Secret with an unreadable expiry is rewritten', (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': 'soon' }), 'expiring'],
  ['a Secret whose inputs changed is rewritten', () => ({ 'acr-fleet.io/inputs-hash': 'sha256:old', 'acr-fleet.io/expires-at': '2026-11-23T10:30:00.000Z' }), 'inputs changed'],
];
for (const [name, annotations, reason] of DECISIONS) {
  test(name, (t) => {
    const tokens = [token('x', ['d.example.com'])];
    const hash = planCluster(settings, tokens, empty, NOW).secrets.find((a) => a.op === 'create')?.secret.annotations['acr-fleet.io/inputs-hash'] ?? '';
    const observed: Observed = { ...empty, secrets: [{ namespace: 'a', name: 'acr', resourceVersion: '7', annotations: annotations(hash), owned: true }] };
    const update = planCluster(settings, tokens, observed, NOW).secrets.find((a) => a.op === 'update' || (a.op === 'create' && a.secret.namespace === 'a'));
    t.is(update?.op === 'update' ? update.reason : undefined, reason);
  });
}

test('the Secret expiry is the earliest of its tokens', (t) => {
  const plan = planCluster(settings, [token('x', ['x.example.com'], 60), token('y', ['y.example.com'], 20)], empty, NOW);
  t.is(plan.expiresAt, NOW + 20 * 60_000);
});

test('imagePullSecrets keep foreign entries in order, drop pruned ones, and add ours once', (t) => {
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['z', 'old', 'a'] }, 'acr', new Set(['old'])), ['z', 'a', 'acr']);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'acr'] }, 'acr'), undefined);
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['acr', 'z'] }, undefined, new Set(['acr'])), ['z']);
});

test('acr-fleet\'s entry ends up exactly once, after everyone else\'s; others\' duplicates stay', (t) => {
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['acr', 'acr'] }, 'acr'), ['acr']);
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['acr', 'z'] }, 'acr'), ['z', 'acr']);
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['z', 'acr', 'z', 'acr'] }, 'acr'), ['z', 'z', 'acr']);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'z', 'acr'] }, 'acr'), undefined);
  t.is(desiredPullSecrets({ imagePullSecrets: ['acr', 'acr'] }, undefined), undefined, 'a ServiceAccount acr-fleet does not select keeps its entries');
});
