/**
 * A plan in words: one entry per object a refresh would touch (or leave alone on purpose), with the
 * reason, like `terraform plan`. Pure; never carries a Secret's data, only names and annotations.
 */
import type { Plan, RegistriesDiff } from './plan.js';

/** One line of a dry run. `--json` prints these as they are; the FC handler logs one per line. */
export interface PlanEntry {
  action: 'create' | 'update' | 'delete' | 'patch' | 'conflict' | 'skip';
  kind: 'Secret' | 'ServiceAccount' | 'Namespace';
  namespace: string;
  name: string;
  /** Why, in words: `missing`, `token expires in 12m`, `registries changed: +prod -old`, … */
  reason: string;
  /** update because the registries changed: which ones. */
  registries?: RegistriesDiff;
  /** update because the token expires: the Secret's current `acr-fleet.io/expires-at`, if readable. */
  expiresAt?: string;
  /** patch: the ServiceAccount's `imagePullSecrets` entries added and removed. */
  imagePullSecrets?: { added: string[]; removed: string[] };
}

const ORDER: Record<PlanEntry['action'], number> = { skip: 0, conflict: 1, delete: 2, create: 3, update: 4, patch: 5 };

/** The plan's entries, ordered by namespace, then Secrets before ServiceAccounts. */
export function planEntries(plan: Pick<Plan, 'secrets' | 'serviceAccounts' | 'conflicts' | 'skipped'>): PlanEntry[] {
  const entries: PlanEntry[] = [];
  for (const s of plan.skipped)
    entries.push({ action: 'skip', kind: 'Namespace', namespace: s.namespace, name: s.namespace, reason: s.reason });
  for (const c of plan.conflicts)
    entries.push({
      action: 'conflict',
      kind: 'Secret',
      namespace: c.namespace,
      name: c.name,
      reason: 'a Secret of that name is not managed by acr-fleet; left alone',
    });
  for (const a of plan.secrets) {
    const { namespace, name } = a.op === 'delete' ? a : a.secret;
    const entry = { action: a.op, kind: 'Secret' as const, namespace, name };
    if (a.op === 'create') entries.push({ ...entry, reason: a.reason });
    else if (a.op === 'delete') entries.push({ ...entry, reason: DELETE_REASONS[a.reason] });
    else if (a.reason === 'inputs changed') {
      const { added, removed } = a.registries;
      const diff = [...added.map((r) => `+${r}`), ...removed.map((r) => `-${r}`)].join(' ');
      entries.push({
        ...entry,
        reason: diff ? `registries changed: ${diff}` : 'registry domains changed',
        registries: a.registries,
      });
    } else
      entries.push({
        ...entry,
        reason: expiryReason(a.expiresInMs),
        ...(a.expiresAt !== undefined && !Number.isNaN(a.expiresInMs) ? { expiresAt: a.expiresAt } : {}),
      });
  }
  for (const p of plan.serviceAccounts) {
    const added = p.add !== undefined ? [p.add] : [];
    const removed = p.remove;
    entries.push({
      action: 'patch',
      kind: 'ServiceAccount',
      namespace: p.namespace,
      name: p.name,
      reason: [...added.map((n) => `+${n}`), ...removed.map((n) => `-${n}`)].join(' '),
      imagePullSecrets: { added, removed },
    });
  }
  return entries.sort(
    (a, b) =>
      a.namespace.localeCompare(b.namespace) || ORDER[a.action] - ORDER[b.action] || a.name.localeCompare(b.name),
  );
}

const DELETE_REASONS = {
  'not watched': 'namespace no longer watched',
  'name changed': 'secretName changed',
  removal: 'acr-fleet removed from the cluster',
} as const;

function expiryReason(ms: number): string {
  if (Number.isNaN(ms)) return 'token expiry unreadable';
  return ms > 0 ? `token expires in ${duration(ms)}` : `token expired ${duration(-ms)} ago`;
}

/** `45s`, `12m`, `3h5m`, `2d4h`: rounded down, two units at most. */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
