/**
 * Applying a plan: the writes in the order that never leaves a reference to a missing Secret, each
 * returning what it did (controller-runtime's CreateOrUpdate result, per object). Nothing is counted or
 * reported here: a report is a tally of these results (`fleet/report.ts`), and `deregister` reads them too.
 */
import pLimit from 'p-limit';
import { describeError, isConflict } from '../errors.js';
import { retry, type RetryPolicy } from '../retry.js';
import { desiredPullSecrets, type Plan, type SecretAction, type ServiceAccountPatch } from './plan.js';
import type { DesiredSecret, ObservedServiceAccount } from './state.js';

/** The writes an apply makes (a cluster client provides them; see kube/cluster-client.ts). */
export interface ClusterWriter {
  /** `'exists'`: a Secret of that name is there and is not this very one. */
  createSecret(secret: DesiredSecret): Promise<'created' | 'exists'>;
  replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void>;
  deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void>;
  readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount>;
  setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void>;
}

/**
 * What applying one change did, one vocabulary for both kinds: a Secret is `created`, `updated`, `deleted`, or
 * a `conflict` (a create met someone else's Secret of that name); a ServiceAccount is `patched`, or
 * `unchanged` (someone else's change meanwhile left nothing to do). `skipped`: not attempted, because its
 * namespace's Secret is not in place (no reference to it is added, and no Secret still referenced is deleted).
 */
export type Outcome = 'created' | 'updated' | 'deleted' | 'patched' | 'unchanged' | 'conflict' | 'failed' | 'skipped';

/** What applying one change did. `error` (for `failed`) names the request and its cause. */
export interface ApplyResult {
  kind: 'Secret' | 'ServiceAccount';
  namespace: string;
  name: string;
  outcome: Outcome;
  error?: string;
}

/** The changes an apply takes: a refresh's plan, or a removal (`planRemoval`). */
export type Changes = Pick<Plan, 'secrets' | 'serviceAccounts'>;

/** Waits between ServiceAccount patches that meet 409 (someone else writing it), as client-go's RetryOnConflict. */
const ON_CONFLICT: RetryPolicy = { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 80 };

/**
 * Applies changes in the order that never leaves a reference to a missing Secret: creates and updates,
 * then the ServiceAccount patches of namespaces whose Secret is in place, then the deletes of Secrets no
 * longer referenced. A namespace whose Secret write or patch failed keeps its old Secret for the next run.
 * Never throws: each failure is a `failed` result. Results come in that order, each step in plan order.
 */
export async function applyChanges(
  changes: Changes,
  writer: ClusterWriter,
  writeConcurrency: number,
): Promise<ApplyResult[]> {
  /** Namespaces where something did not go through: nothing that depends on it happens there this run. */
  const blocked = new Set<string>();
  const limit = pLimit(writeConcurrency);
  const run = <T>(items: readonly T[], ref: (item: T) => Ref, write: (item: T) => Outcome | Promise<Outcome>) =>
    Promise.all(
      items.map((item) =>
        limit(async () => {
          const result: ApplyResult = { ...ref(item), outcome: 'failed' };
          try {
            result.outcome = await write(item);
          } catch (err) {
            result.error = describeError(err);
          }
          if (result.outcome === 'failed' || result.outcome === 'conflict') blocked.add(result.namespace);
          return result;
        }),
      ),
    );
  const writes = changes.secrets.filter((a) => a.op !== 'delete');
  const deletes = changes.secrets.filter((a) => a.op === 'delete');
  // A Secret that turned out to be someone else's blocks its namespace too: no reference is added to it.
  const written = await run(writes, secretRef, (a) => writeSecret(a, writer));
  const patched = await run(changes.serviceAccounts, accountRef, async (p) =>
    blocked.has(p.namespace) ? 'skipped' : (await patchOnConflict(p, writer)) ? 'patched' : 'unchanged',
  );
  const deleted = await run(deletes, secretRef, (a) =>
    blocked.has(secretRef(a).namespace) ? 'skipped' : writeSecret(a, writer),
  );
  return [...written, ...patched, ...deleted];
}

/** How many objects came to each outcome, per kind. */
export type ResultCounts = Record<ApplyResult['kind'], Record<Outcome, number>>;

/** Counts results by kind and outcome. */
export function countResults(results: readonly ApplyResult[]): ResultCounts {
  const zero = (): Record<Outcome, number> => ({
    created: 0,
    updated: 0,
    deleted: 0,
    patched: 0,
    unchanged: 0,
    conflict: 0,
    failed: 0,
    skipped: 0,
  });
  const counts: ResultCounts = { Secret: zero(), ServiceAccount: zero() };
  for (const r of results) counts[r.kind][r.outcome]++;
  return counts;
}

/** What applying `changes` would return if every write went through: a dry run's results. */
export function predictedResults(changes: Changes): ApplyResult[] {
  const outcome = { create: 'created', update: 'updated', delete: 'deleted' } as const;
  return [
    ...changes.secrets.map((a): ApplyResult => ({ ...secretRef(a), outcome: outcome[a.op] })),
    ...changes.serviceAccounts.map((p): ApplyResult => ({ ...accountRef(p), outcome: 'patched' })),
  ];
}

async function writeSecret(action: SecretAction, writer: ClusterWriter): Promise<Outcome> {
  switch (action.op) {
    case 'create':
      return (await writer.createSecret(action.secret)) === 'exists' ? 'conflict' : 'created';
    case 'update':
      await writer.replaceSecret(action.secret, action.resourceVersion);
      return 'updated';
    case 'delete':
      await writer.deleteSecret(action.namespace, action.name, action.resourceVersion);
      return 'deleted';
  }
}

/**
 * Patches a ServiceAccount; true when patched, false when someone else's change left nothing to do. On a 409
 * (someone changed it since it was read) re-reads it and re-applies the same intent to the entries read
 * again, a few times, as client-go's RetryOnConflict does.
 */
async function patchOnConflict(patch: ServiceAccountPatch, writer: ClusterWriter): Promise<boolean> {
  let target = { resourceVersion: patch.resourceVersion, imagePullSecrets: patch.imagePullSecrets };
  return retry(
    async (attempt) => {
      if (attempt > 1) {
        const reread = await writer.readServiceAccount(patch.namespace, patch.name);
        const next = desiredPullSecrets(reread, patch.add, new Set(patch.remove));
        // Nothing left to do: if the list is exactly the one sent, that was most likely this patch itself, whose
        // answer was lost and whose repeat met its own resourceVersion bump.
        if (!next) return reread.imagePullSecrets.join('\n') === target.imagePullSecrets.join('\n');
        target = { resourceVersion: reread.resourceVersion, imagePullSecrets: next };
      }
      await writer.setImagePullSecrets(patch.namespace, patch.name, target.resourceVersion, target.imagePullSecrets);
      return true;
    },
    { policy: ON_CONFLICT, classify: (err) => (isConflict(err) ? 'retry' : 'stop') },
  );
}

type Ref = Pick<ApplyResult, 'kind' | 'namespace' | 'name'>;

function secretRef(a: SecretAction): Ref {
  const { namespace, name } = a.op === 'delete' ? a : a.secret;
  return { kind: 'Secret', namespace, name };
}

function accountRef(p: ServiceAccountPatch): Ref {
  return { kind: 'ServiceAccount', namespace: p.namespace, name: p.name };
}
