/** The planner alone: a pure function of settings, tokens, observed state and time. */
import test from 'ava';
import fc from 'fast-check';
import { duration, planEntries } from '../src/reconcile/explain.js';
import { desiredPullSecrets, planCluster, registriesDiff, type PlanSettings } from '../src/reconcile/plan.js';
import type { Observed } from '../src/reconcile/state.js';
import { predictedResults, type ApplyResult } from '../src/reconcile/apply.js';
import { tallyCluster } from '../src/fleet/report.js';
import type { RegistryToken } from '../src/tokens/source.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const token = (registry: string, domains: string[], expiresInMin = 60): RegistryToken => ({
  registry,
  domains,
  username: 'cr_temp_user',
  password: `pw-${registry}`,
  expiresAt: NOW + expiresInMin * 60_000,
});
const settings: PlanSettings = {
  namespaces: { all: false, names: ['a', 'b'] },
  serviceAccounts: ['default'],
  expiringThresholdMs: 15 * 60_000,
  secretName: 'acr',
};
const empty: Observed = {
  namespaces: [
    { name: 'a', terminating: false },
    { name: 'b', terminating: false },
  ],
  secrets: [],
  serviceAccounts: [],
};

test('two registries that claim the same domain cannot share one Secret', (t) => {
  t.throws(() => planCluster(settings, [token('x', ['d.example.com']), token('y', ['d.example.com'])], empty, NOW), {
    message: 'domain d.example.com is served by both registry x and registry y',
  });
});

const DECISIONS: [string, (hash: string) => Record<string, string>, 'expiring' | 'inputs changed' | undefined][] = [
  [
    'a Secret with the same inputs far from expiry is left alone',
    (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': '2026-11-23T10:30:00.000Z' }),
    undefined,
  ],
  [
    'a Secret expiring within the threshold is rewritten',
    (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': '2026-11-23T10:14:59.000Z' }),
    'expiring',
  ],
  [
    'a Secret with an unreadable expiry is rewritten',
    (h) => ({ 'acr-fleet.io/inputs-hash': h, 'acr-fleet.io/expires-at': 'soon' }),
    'expiring',
  ],
  [
    'a Secret whose inputs changed is rewritten',
    () => ({ 'acr-fleet.io/inputs-hash': 'sha256:old', 'acr-fleet.io/expires-at': '2026-11-23T10:30:00.000Z' }),
    'inputs changed',
  ],
];
for (const [name, annotations, reason] of DECISIONS) {
  test(name, (t) => {
    const tokens = [token('x', ['d.example.com'])];
    const hash =
      planCluster(settings, tokens, empty, NOW).secrets.find((a) => a.op === 'create')?.secret.annotations[
        'acr-fleet.io/inputs-hash'
      ] ?? '';
    const observed: Observed = {
      ...empty,
      secrets: [{ namespace: 'a', name: 'acr', resourceVersion: '7', annotations: annotations(hash), owned: true }],
    };
    const update = planCluster(settings, tokens, observed, NOW).secrets.find(
      (a) => a.op === 'update' || (a.op === 'create' && a.secret.namespace === 'a'),
    );
    t.is(update?.op === 'update' ? update.reason : undefined, reason);
  });
}

test('the Secret expiry is the earliest of its tokens', (t) => {
  const plan = planCluster(
    settings,
    [token('x', ['x.example.com'], 60), token('y', ['y.example.com'], 20)],
    empty,
    NOW,
  );
  t.is(plan.expiresAt, NOW + 20 * 60_000);
});

test('imagePullSecrets keep foreign entries in order, drop pruned ones, and add ours once', (t) => {
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['z', 'old', 'a'] }, 'acr', new Set(['old'])), ['z', 'a', 'acr']);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'acr'] }, 'acr'), undefined);
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['acr', 'z'] }, undefined, new Set(['acr'])), ['z']);
});

// Issue 17 reverses the old "moved to the end, exactly once" assertions: a list that already references the
// Secret (first, in the middle, or twice) is the user's and stays exactly as it is; no write, no reorder.
test("a list that already references acr-fleet's Secret, anywhere or twice, is left exactly as it is (issue 17)", (t) => {
  t.is(desiredPullSecrets({ imagePullSecrets: ['acr', 'acr'] }, 'acr'), undefined);
  t.is(desiredPullSecrets({ imagePullSecrets: ['acr', 'z'] }, 'acr'), undefined);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'acr', 'z', 'acr'] }, 'acr'), undefined);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'acr', 'a'] }, 'acr'), undefined);
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['z', 'z'] }, 'acr'), ['z', 'z', 'acr'], 'appended when missing');
  t.deepEqual(
    desiredPullSecrets({ imagePullSecrets: ['acr', 'old', 'z'] }, 'acr', new Set(['old'])),
    ['acr', 'z'],
    'only references to pruned Secrets are removed; ours stays where it is',
  );
  t.deepEqual(desiredPullSecrets({ imagePullSecrets: ['old'] }, 'acr', new Set(['old'])), ['acr']);
  t.is(desiredPullSecrets({ imagePullSecrets: ['z', 'z', 'acr'] }, 'acr'), undefined);
  t.is(
    desiredPullSecrets({ imagePullSecrets: ['acr', 'acr'] }, undefined),
    undefined,
    'a ServiceAccount acr-fleet does not select keeps its entries',
  );
});

const REASONS: [string, Observed['secrets'][number]['annotations'] | null, string, string][] = [
  [
    'a Secret whose registries changed says which were added and removed',
    { 'acr-fleet.io/inputs-hash': 'sha256:old', 'acr-fleet.io/registries': 'old,x' },
    'acr',
    'update registries changed: +y -old',
  ],
  [
    'a Secret whose domains changed but not its registries says so',
    { 'acr-fleet.io/inputs-hash': 'sha256:old', 'acr-fleet.io/registries': 'x,y' },
    'acr',
    'update registry domains changed',
  ],
  [
    'an expired Secret says how long ago',
    { 'acr-fleet.io/expires-at': '2026-11-23T09:57:00.000Z' },
    'acr',
    'update token expired 3m ago',
  ],
  [
    'an expiring Secret says when',
    { 'acr-fleet.io/expires-at': '2026-11-23T10:14:59.000Z' },
    'acr',
    'update token expires in 14m',
  ],
  [
    'a Secret with an unreadable expiry says so',
    { 'acr-fleet.io/expires-at': 'soon' },
    'acr',
    'update token expiry unreadable',
  ],
  ['a Secret under an old name is deleted because the name changed', {}, 'old-name', 'delete secretName changed'],
  ['a missing Secret is created', null, 'acr', 'create missing'],
];
for (const [name, annotations, secretName, expected] of REASONS) {
  test(`plan entries: ${name}`, (t) => {
    const tokens = [token('x', ['x.example.com']), token('y', ['y.example.com'])];
    const hash =
      planCluster(settings, tokens, empty, NOW).secrets.find((a) => a.op === 'create')?.secret.annotations[
        'acr-fleet.io/inputs-hash'
      ] ?? '';
    const secrets = annotations
      ? [
          {
            namespace: 'a',
            name: secretName,
            resourceVersion: '7',
            annotations: { 'acr-fleet.io/inputs-hash': hash, ...annotations },
            owned: true,
          },
        ]
      : [];
    const entries = planEntries(planCluster(settings, tokens, { ...empty, secrets }, NOW)).filter(
      (e) => e.namespace === 'a' && e.kind === 'Secret',
    );
    t.deepEqual(
      entries.map((e) => `${e.action} ${e.reason}`),
      expected.startsWith('delete') ? [expected, 'create missing'] : [expected],
    );
  });
}

test('registriesDiff reads the comma-separated annotation', (t) => {
  t.deepEqual(registriesDiff('a,b', 'b,c'), { added: ['c'], removed: ['a'] });
  t.deepEqual(registriesDiff(undefined, 'a'), { added: ['a'], removed: [] });
});

const DURATIONS: [number, string][] = [
  [45_000, '45s'],
  [12 * 60_000 + 59_000, '12m'],
  [3 * 3600_000 + 5 * 60_000, '3h5m'],
  [2 * 3600_000, '2h'],
  [50 * 3600_000, '2d2h'],
];
for (const [ms, text] of DURATIONS) test(`${ms} ms reads as ${text}`, (t) => t.is(duration(ms), text));

test('plan entries name every planned action once and never carry a credential or a data value', (t) => {
  const names = ['a', 'b', 'c', 'd'];
  fc.assert(
    fc.property(
      fc.string({ minLength: 8 }),
      fc.subarray(names),
      fc.subarray(names),
      fc.subarray(names),
      fc.subarray(names),
      fc.integer({ min: -30, max: 120 }),
      (password, live, watched, owned, foreign, expiresInMin) => {
        const tokens = [{ ...token('x', ['x.example.com']), password }];
        const observed: Observed = {
          namespaces: live.map((name) => ({ name, terminating: name === 'd' })),
          secrets: [
            ...owned.map((namespace) => ({
              namespace,
              name: 'acr',
              resourceVersion: '1',
              annotations: { 'acr-fleet.io/expires-at': new Date(NOW + expiresInMin * 60_000).toISOString() },
              owned: true,
            })),
            ...foreign
              .filter((n) => !owned.includes(n))
              .map((namespace) => ({ namespace, name: 'acr', resourceVersion: '1', annotations: {}, owned: false })),
          ],
          serviceAccounts: live.map((namespace) => ({
            namespace,
            name: 'default',
            resourceVersion: '1',
            imagePullSecrets: owned.includes(namespace) ? ['acr'] : [],
          })),
        };
        const plan = planCluster({ ...settings, namespaces: { all: false, names: watched } }, tokens, observed, NOW);
        const entries = planEntries(plan);
        const count = (action: string) => entries.filter((e) => e.action === action).length;
        const text = JSON.stringify(entries);
        const data = plan.secrets.flatMap((a) => (a.op === 'delete' ? [] : Object.values(a.secret.data)));
        return (
          count('create') + count('update') + count('delete') === plan.secrets.length &&
          count('patch') === plan.serviceAccounts.length &&
          count('conflict') === plan.conflicts.length &&
          count('skip') === plan.skipped.length &&
          !text.includes(password) &&
          data.every((d) => !text.includes(d))
        );
      },
    ),
  );
  t.pass();
});

test('a cluster report is the tally of its results: counts, unchanged objects from the plan, conflicts, the first failure', (t) => {
  const plan = planCluster(
    settings,
    [token('r', ['r.example'])],
    { ...empty, serviceAccounts: [{ namespace: 'a', name: 'default', resourceVersion: '1', imagePullSecrets: [] }] },
    NOW,
  );
  const results: ApplyResult[] = [
    { kind: 'Secret', namespace: 'a', name: 'acr', outcome: 'created' },
    { kind: 'Secret', namespace: 'b', name: 'acr', outcome: 'conflict' },
    { kind: 'ServiceAccount', namespace: 'a', name: 'default', outcome: 'unchanged' },
    { kind: 'ServiceAccount', namespace: 'b', name: 'x', outcome: 'skipped' },
    { kind: 'Secret', namespace: 'c', name: 'acr', outcome: 'failed', error: 'delete secret c/acr: HTTP 403' },
    {
      kind: 'ServiceAccount',
      namespace: 'c',
      name: 'y',
      outcome: 'failed',
      error: 'patch serviceaccount c/y: HTTP 500',
    },
  ];
  const report = tallyCluster({ name: 'one', dryRun: false, plan, results, durationMs: 5 });
  t.like(report, {
    name: 'one',
    status: 'failed',
    namespaces: 2,
    secrets: { created: 1, updated: 0, unchanged: 0, deleted: 0 },
    serviceAccounts: { patched: 0, unchanged: 1 },
    conflicts: [{ namespace: 'b', name: 'acr' }],
    error: 'cluster one: delete secret c/acr: HTTP 403',
    durationMs: 5,
  });
  t.false('errors' in report, 'one failure field');
  t.false('plan' in report, 'a real run carries no plan');
});

test('a dry run tallies what the plan predicts, and a cluster that failed before planning reports only its failure', (t) => {
  const plan = planCluster(settings, [token('r', ['r.example'])], empty, NOW);
  const dry = tallyCluster({ name: 'one', dryRun: true, plan, results: predictedResults(plan), durationMs: 1 });
  t.like(dry, { status: 'ok', secrets: { created: 2, updated: 0, unchanged: 0, deleted: 0 } });
  t.is(dry.plan?.length, planEntries(plan).length);
  t.false('error' in dry);
  const down = tallyCluster({
    name: 'two',
    dryRun: false,
    results: [],
    failure: 'list namespaces: HTTP 401',
    durationMs: 1,
  });
  t.like(down, { status: 'failed', namespaces: 0, error: 'cluster two: list namespaces: HTTP 401' });
});
