/**
 * Applying a plan: the writes in the order that never leaves a reference to a missing Secret, each
 * returning what it did (controller-runtime's CreateOrUpdate result, per object). Nothing is counted or
 * reported here: a report is a tally of these results (`fleet/report.ts`), and `deregister` reads them too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { describeError, isConflict } from '../errors.js';
import { backoffDelay, type Backoff } from '../retry.js';
import { desiredPullSecrets, type Plan, type SecretAction, type ServiceAccountPatch } from './plan.js';
import type { DesiredSecret, ObservedServiceAccount } from './state.js';

/** The writes an apply makes (a cluster client provides them; see kube/port.ts). */
export interface ClusterWriter {
  /** `'exists'`: a Secret of that name is there and is not this very one. */
  createSecret(secret: DesiredSecret): Promise<'created' | 'exists'>;
  replaceSecret(secret: DesiredSecret, resourceVersion: string): Promise<void>;
  deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void>;
  readServiceAccount(namespace: string, name: string): Promise<ObservedServiceAccount>;
  setImagePullSecrets(namespace: string, name: string, resourceVersion: string, names: string[]): Promise<void>;
}

/**
 * What happened to one Secret: `conflict` when a create met someone else's Secret of that name; `skipped`
 * when a delete waited for its namespace's references, which could not be moved off it this time.
 */
export type SecretOutcome = 'created' | 'updated' | 'deleted' | 'conflict' | 'failed' | 'skipped';
/**
 * What happened to one ServiceAccount: `unchanged` when someone else's change meanwhile left nothing to do;
 * `skipped` when its namespace's Secret is not in place (no reference to a missing Secret is added).
 */
export type ServiceAccountOutcome = 'patched' | 'unchanged' | 'failed' | 'skipped';

/** What applying one change did. `error` (for `failed`) names the request and its cause. */
export type ApplyResult =
  | { kind: 'Secret'; namespace: string; name: string; outcome: SecretOutcome; error?: string }
  | { kind: 'ServiceAccount'; namespace: string; name: string; outcome: ServiceAccountOutcome; error?: string };

/** The changes an apply takes: a refresh's plan, or a removal (`planRemoval`). */
export type Changes = Pick<Plan, 'secrets' | 'serviceAccounts'>;

/** Waits between ServiceAccount patches that meet 409 (someone else writing it), as client-go's RetryOnConflict. */
const ON_CONFLICT: Backoff = { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 80 };

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
  const run = <T, R extends ApplyResult>(items: readonly T[], write: (item: T) => Promise<R>) =>
    Promise.all(
      items.map((item) =>
        limit(async () => {
          const result = await write(item);
          if (result.outcome === 'failed' || result.outcome === 'conflict') blocked.add(result.namespace);
          return result;
        }),
      ),
    );
  const writes = changes.secrets.filter((a) => a.op !== 'delete');
  const deletes = changes.secrets.filter((a) => a.op === 'delete');
  // A Secret that turned out to be someone else's blocks its namespace too: no reference is added to it.
  const written = await run(writes, (a) => applySecret(a, writer));
  const patched = await run(changes.serviceAccounts, (p) =>
    blocked.has(p.namespace) ? Promise.resolve(skipped(p)) : applyServiceAccount(p, writer),
  );
  const deleted = await run(deletes, (a) =>
    blocked.has(namespaceOf(a)) ? Promise.resolve(skipped(a)) : applySecret(a, writer),
  );
  return [...written, ...patched, ...deleted];
}

/** How many objects came to each outcome, per kind. */
export interface ResultCounts {
  Secret: Record<SecretOutcome, number>;
  ServiceAccount: Record<ServiceAccountOutcome, number>;
}

/** Counts results by kind and outcome. */
export function countResults(results: readonly ApplyResult[]): ResultCounts {
  const counts: ResultCounts = {
    Secret: { created: 0, updated: 0, deleted: 0, conflict: 0, failed: 0, skipped: 0 },
    ServiceAccount: { patched: 0, unchanged: 0, failed: 0, skipped: 0 },
  };
  for (const r of results) {
    if (r.kind === 'Secret') counts.Secret[r.outcome]++;
    else counts.ServiceAccount[r.outcome]++;
  }
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

async function applySecret(action: SecretAction, writer: ClusterWriter): Promise<ApplyResult> {
  const ref = secretRef(action);
  try {
    switch (action.op) {
      case 'create':
        return { ...ref, outcome: (await writer.createSecret(action.secret)) === 'exists' ? 'conflict' : 'created' };
      case 'update':
        await writer.replaceSecret(action.secret, action.resourceVersion);
        return { ...ref, outcome: 'updated' };
      case 'delete':
        await writer.deleteSecret(action.namespace, action.name, action.resourceVersion);
        return { ...ref, outcome: 'deleted' };
    }
  } catch (err) {
    return { ...ref, outcome: 'failed', error: describeError(err) };
  }
}

/**
 * Patches a ServiceAccount. On a 409 (someone changed it since it was read) re-reads it and re-applies the
 * same intent to the entries read again, a few times, as client-go's RetryOnConflict does.
 */
async function applyServiceAccount(patch: ServiceAccountPatch, writer: ClusterWriter): Promise<ApplyResult> {
  const ref = accountRef(patch);
  try {
    return { ...ref, outcome: (await patchOnConflict(patch, writer)) ? 'patched' : 'unchanged' };
  } catch (err) {
    return { ...ref, outcome: 'failed', error: describeError(err) };
  }
}

/** True when patched; false when someone else's change left nothing to do. */
async function patchOnConflict(patch: ServiceAccountPatch, writer: ClusterWriter): Promise<boolean> {
  let target = { resourceVersion: patch.resourceVersion, imagePullSecrets: patch.imagePullSecrets };
  for (let attempt = 1; ; attempt++) {
    try {
      await writer.setImagePullSecrets(patch.namespace, patch.name, target.resourceVersion, target.imagePullSecrets);
      return true;
    } catch (err) {
      if (!isConflict(err) || attempt >= ON_CONFLICT.maxAttempts) throw err;
    }
    await sleep(backoffDelay(ON_CONFLICT, attempt));
    const reread = await writer.readServiceAccount(patch.namespace, patch.name);
    const next = desiredPullSecrets(reread, patch.add, new Set(patch.remove));
    // Nothing left to do: if the list is exactly the one sent, that was most likely this patch itself, whose
    // answer was lost and whose repeat met its own resourceVersion bump.
    if (!next) return reread.imagePullSecrets.join('\n') === target.imagePullSecrets.join('\n');
    target = { resourceVersion: reread.resourceVersion, imagePullSecrets: next };
  }
}

function skipped(change: SecretAction | ServiceAccountPatch): ApplyResult {
  return 'op' in change ? { ...secretRef(change), outcome: 'skipped' } : { ...accountRef(change), outcome: 'skipped' };
}

function secretRef(a: SecretAction) {
  return a.op === 'delete'
    ? { kind: 'Secret' as const, namespace: a.namespace, name: a.name }
    : { kind: 'Secret' as const, namespace: a.secret.namespace, name: a.secret.name };
}

function accountRef(p: ServiceAccountPatch) {
  return { kind: 'ServiceAccount' as const, namespace: p.namespace, name: p.name };
}

function namespaceOf(a: SecretAction): string {
  return secretRef(a).namespace;
}
