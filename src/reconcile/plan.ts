/**
 * The planner: a pure function of (cluster settings, tokens, observed state, now) that says which
 * Secrets to create, update or delete and which ServiceAccounts to patch. No I/O: the runner applies.
 *
 * Rules: write a Secret only when it is missing, its inputs changed, or its token expires within the
 * threshold; never touch a terminating namespace; delete owned Secrets that are no longer wanted and
 * drop references to them; keep every imagePullSecrets entry someone else put there, in order. A Secret
 * of acr-fleet's name without its label is a conflict: no create is attempted and no reference to it is
 * added in that namespace, but references to pruned Secrets still go.
 */
import type { Cluster } from '../config/resolve.js';
import type { RegistryToken } from '../tokens/source.js';
import { desiredSecret, secretTemplate, type SecretTemplate } from './dockerconfig.js';
import { selectsServiceAccount, targetNamespaces, type SkippedNamespace } from './selection.js';
import {
  EXPIRES_AT_ANNOTATION,
  INPUTS_HASH_ANNOTATION,
  REGISTRIES_ANNOTATION,
  type DesiredSecret,
  type Observed,
  type ObservedSecret,
  type ObservedServiceAccount,
} from './state.js';

/** Registries a Secret gains and loses, from its `acr-fleet.io/registries` annotation to the new one. */
export interface RegistriesDiff {
  added: string[];
  removed: string[];
}

/**
 * What to do with one Secret, and why. The reasons are plain data (never a credential) so a dry run
 * can show them: an update says which registries changed or when the token it holds expires.
 */
export type SecretAction =
  | { op: 'create'; secret: DesiredSecret; reason: 'missing' }
  | {
      op: 'update';
      secret: DesiredSecret;
      resourceVersion: string;
      reason: 'inputs changed';
      registries: RegistriesDiff;
    }
  | {
      op: 'update';
      secret: DesiredSecret;
      resourceVersion: string;
      reason: 'expiring';
      expiresAt: string | undefined;
      expiresInMs: number;
    }
  | {
      op: 'delete';
      namespace: string;
      name: string;
      resourceVersion: string;
      reason: 'not watched' | 'name changed' | 'removal';
    };

/**
 * A ServiceAccount whose imagePullSecrets must become `imagePullSecrets`; `add` and `remove` are the
 * intent, so the change can be re-derived if the object moved on meanwhile.
 */
export interface ServiceAccountPatch {
  namespace: string;
  name: string;
  resourceVersion: string;
  imagePullSecrets: string[];
  add?: string;
  remove: string[];
}

/** A Secret of acr-fleet's name that someone else owns: left alone. */
export interface Conflict {
  namespace: string;
  name: string;
}

export interface Plan {
  /** Namespaces that get a Secret. */
  namespaces: string[];
  secrets: SecretAction[];
  unchangedSecrets: number;
  serviceAccounts: ServiceAccountPatch[];
  unchangedServiceAccounts: number;
  skipped: SkippedNamespace[];
  /** Target namespaces where an unowned Secret holds acr-fleet's name. */
  conflicts: Conflict[];
  /** Earliest token expiry written by this plan. */
  expiresAt: number;
}

export type { SkippedNamespace };

/** The cluster-level settings planning needs (a cluster's selection, `reconcile/selection.ts`). */
export type PlanSettings = Pick<
  Cluster,
  'namespaces' | 'serviceAccounts' | 'expiringThresholdMs' | 'secretName' | 'acceleration'
>;

/**
 * Computes the plan for one cluster, in three passes: the Secrets found (kept, removed, or someone else's),
 * the Secrets to write in the target namespaces, and the ServiceAccounts' references. Throws only when the
 * tokens cannot form one Secret.
 */
export function planCluster(
  settings: PlanSettings,
  tokens: readonly RegistryToken[],
  observed: Observed,
  now: number,
): Plan {
  const template = secretTemplate(tokens, { accelerated: settings.acceleration === true });
  const { targets, skipped, terminating } = targetNamespaces(settings.namespaces, observed);
  const targetSet = new Set(targets);
  const found = foundSecrets(settings, observed, targetSet, terminating);
  const writes = secretWrites(settings, template, targets, found, now);
  const accounts = serviceAccountChanges(settings, observed, targetSet, found, terminating);
  return {
    namespaces: targets,
    // Removals first, as the planner has always listed them; the apply orders the writes itself.
    secrets: [...found.removals, ...writes.actions],
    unchangedSecrets: writes.unchanged,
    serviceAccounts: accounts.patches,
    unchangedServiceAccounts: accounts.unchanged,
    skipped,
    conflicts: found.conflicts,
    expiresAt: template.expiresAt,
  };
}

/** Pass 1 — the Secrets found under acr-fleet's names: ours to keep, ours to remove, or someone else's. */
interface FoundSecrets {
  /** The owned Secret of each target namespace. */
  current: Map<string, ObservedSecret>;
  removals: SecretAction[];
  /** Owned Secrets being removed, by namespace: references to them go too. */
  pruned: Map<string, Set<string>>;
  conflicts: Conflict[];
  /** Namespaces of the conflicts: no Secret is written and no reference added there. */
  conflicted: Set<string>;
}

function foundSecrets(
  settings: PlanSettings,
  observed: Observed,
  targets: ReadonlySet<string>,
  terminating: ReadonlySet<string>,
): FoundSecrets {
  const current = new Map<string, ObservedSecret>();
  const removals: SecretAction[] = [];
  const pruned = new Map<string, Set<string>>();
  const conflicts: Conflict[] = [];
  for (const s of observed.secrets) {
    if (terminating.has(s.namespace)) continue;
    const wanted = targets.has(s.namespace) && s.name === settings.secretName;
    if (!s.owned) {
      if (wanted) conflicts.push({ namespace: s.namespace, name: s.name });
      continue;
    }
    if (wanted) {
      current.set(s.namespace, s);
    } else {
      const reason = s.name === settings.secretName ? 'not watched' : 'name changed';
      removals.push({ op: 'delete', namespace: s.namespace, name: s.name, resourceVersion: s.resourceVersion, reason });
      pruned.set(s.namespace, (pruned.get(s.namespace) ?? new Set()).add(s.name));
    }
  }
  return { current, removals, pruned, conflicts, conflicted: new Set(conflicts.map((c) => c.namespace)) };
}

/** Pass 2 — the Secret each target namespace should hold: created when missing, updated when stale or expiring. */
function secretWrites(
  settings: PlanSettings,
  template: SecretTemplate,
  targets: readonly string[],
  found: FoundSecrets,
  now: number,
): { actions: SecretAction[]; unchanged: number } {
  const actions: SecretAction[] = [];
  let unchanged = 0;
  for (const ns of targets) {
    if (found.conflicted.has(ns)) continue;
    const secret = desiredSecret(template, ns, settings.secretName);
    const existing = found.current.get(ns);
    if (!existing) {
      actions.push({ op: 'create', secret, reason: 'missing' });
    } else if (existing.annotations[INPUTS_HASH_ANNOTATION] !== template.inputsHash) {
      const registries = registriesDiff(
        existing.annotations[REGISTRIES_ANNOTATION],
        secret.annotations[REGISTRIES_ANNOTATION],
      );
      actions.push({
        op: 'update',
        secret,
        resourceVersion: existing.resourceVersion,
        reason: 'inputs changed',
        registries,
      });
    } else if (expiresWithin(existing.annotations[EXPIRES_AT_ANNOTATION], now, settings.expiringThresholdMs)) {
      const expiresAt = existing.annotations[EXPIRES_AT_ANNOTATION];
      actions.push({
        op: 'update',
        secret,
        resourceVersion: existing.resourceVersion,
        reason: 'expiring',
        expiresAt,
        expiresInMs: (expiresAt ? Date.parse(expiresAt) : NaN) - now,
      });
    } else {
      unchanged++;
    }
  }
  return { actions, unchanged };
}

/** Pass 3 — each ServiceAccount's imagePullSecrets: the Secret added where selected, removed Secrets dropped. */
function serviceAccountChanges(
  settings: PlanSettings,
  observed: Observed,
  targets: ReadonlySet<string>,
  found: FoundSecrets,
  terminating: ReadonlySet<string>,
): { patches: ServiceAccountPatch[]; unchanged: number } {
  const patches: ServiceAccountPatch[] = [];
  let unchanged = 0;
  for (const sa of observed.serviceAccounts) {
    if (terminating.has(sa.namespace)) continue;
    const wanted =
      targets.has(sa.namespace) &&
      !found.conflicted.has(sa.namespace) &&
      selectsServiceAccount(settings.serviceAccounts, sa.name);
    const add = wanted ? settings.secretName : undefined;
    const remove = found.pruned.get(sa.namespace);
    const next = desiredPullSecrets(sa, add, remove);
    if (next) {
      patches.push({
        namespace: sa.namespace,
        name: sa.name,
        resourceVersion: sa.resourceVersion,
        imagePullSecrets: next,
        ...(add !== undefined ? { add } : {}),
        remove: [...(remove ?? [])],
      });
    } else if (wanted) unchanged++;
  }
  return { patches, unchanged };
}

/** Removing acr-fleet from a cluster: every owned Secret deleted, every reference to one dropped. */
export function planRemoval(observed: Observed): Pick<Plan, 'secrets' | 'serviceAccounts'> {
  const mine = observed.secrets.filter((s) => s.owned);
  const owned = new Map<string, Set<string>>();
  for (const s of mine) owned.set(s.namespace, (owned.get(s.namespace) ?? new Set()).add(s.name));
  const secrets: SecretAction[] = mine.map((s) => ({
    op: 'delete',
    namespace: s.namespace,
    name: s.name,
    resourceVersion: s.resourceVersion,
    reason: 'removal',
  }));
  const serviceAccounts: ServiceAccountPatch[] = [];
  for (const sa of observed.serviceAccounts) {
    const remove = owned.get(sa.namespace);
    const next = desiredPullSecrets(sa, undefined, remove);
    if (next)
      serviceAccounts.push({
        namespace: sa.namespace,
        name: sa.name,
        resourceVersion: sa.resourceVersion,
        imagePullSecrets: next,
        remove: [...(remove ?? [])],
      });
  }
  return { secrets, serviceAccounts };
}

/**
 * The imagePullSecrets a ServiceAccount should have: its own list exactly as it is (order and duplicates are the
 * user's), minus references to Secrets acr-fleet pruned, plus `add` appended when no entry names it yet. A list
 * that already references `add` anywhere, even twice, is not rewritten (issue 17: no reorder, no needless write).
 * Undefined when nothing changes.
 */
export function desiredPullSecrets(
  sa: Pick<ObservedServiceAccount, 'imagePullSecrets'>,
  add: string | undefined,
  remove?: ReadonlySet<string>,
): string[] | undefined {
  const kept = sa.imagePullSecrets.filter((n) => n === add || !remove?.has(n));
  if (add !== undefined && !kept.includes(add)) kept.push(add);
  const same = kept.length === sa.imagePullSecrets.length && kept.every((n, i) => n === sa.imagePullSecrets[i]);
  return same ? undefined : kept;
}

/** Registries named in the new annotation and not the old one, and the reverse; comma-separated lists. */
export function registriesDiff(before: string | undefined, after: string | undefined): RegistriesDiff {
  const split = (v: string | undefined) => new Set((v ?? '').split(',').filter(Boolean));
  const was = split(before);
  const now = split(after);
  return { added: [...now].filter((r) => !was.has(r)), removed: [...was].filter((r) => !now.has(r)) };
}

function expiresWithin(expiresAt: string | undefined, now: number, thresholdMs: number): boolean {
  const t = expiresAt ? Date.parse(expiresAt) : NaN;
  // An unreadable expiry is treated as expired: rewriting is always safe.
  return Number.isNaN(t) || t - now <= thresholdMs;
}
