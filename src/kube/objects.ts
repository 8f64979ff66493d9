/**
 * The kinds acr-fleet installs with an admin kubeconfig, as one table (kind → API group, version, resource,
 * scope) instead of a switch per verb, and the one comparison that decides whether an installed object
 * already is as desired. Pure: the requests themselves are sent by client.ts.
 */
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../reconcile/state.js';

/**
 * What one write did, as controller-runtime's `CreateOrUpdate` says it (`created`, `updated`, `unchanged`),
 * plus `deleted`, and `notOurs` for an object of that name without acr-fleet's label, which is left alone.
 */
export type WriteResult = 'created' | 'updated' | 'unchanged' | 'deleted' | 'notOurs';

/** Where a kind lives in the API: `/api/v1/…` for the core group, `/apis/<group>/<version>/…` otherwise. */
export interface KindInfo {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** The plural resource name in the path. */
  resource: string;
  namespaced: boolean;
}

const RBAC = 'rbac.authorization.k8s.io';

/** The kinds acr-fleet creates, updates and deletes. */
export const KINDS = {
  ServiceAccount: { group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true },
  ConfigMap: { group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  ClusterRole: { group: RBAC, version: 'v1', resource: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: RBAC, version: 'v1', resource: 'clusterrolebindings', namespaced: false },
  Role: { group: RBAC, version: 'v1', resource: 'roles', namespaced: true },
  RoleBinding: { group: RBAC, version: 'v1', resource: 'rolebindings', namespaced: true },
  MutatingWebhookConfiguration: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    resource: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
  // Served as v1 from 1.30 and as v1beta1 on 1.28/1.29: an object's own apiVersion picks the path.
  ValidatingAdmissionPolicy: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    resource: 'validatingadmissionpolicies',
    namespaced: false,
  },
  ValidatingAdmissionPolicyBinding: {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    resource: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
} as const satisfies Record<string, KindInfo>;

export type OwnedKind = keyof typeof KINDS;

/** An object of one of {@link KINDS}; the fields beyond metadata are the kind's own and sent as they are. */
export interface OwnedObject {
  kind: OwnedKind;
  apiVersion?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
  };
}

/**
 * `/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles`; with a name, the object's own path.
 * `version` overrides the table's (a kind served under another version of its group).
 */
export function kindPath(kind: OwnedKind, namespace: string | undefined, name?: string, version?: string): string {
  const info: KindInfo = KINDS[kind];
  const v = version ?? info.version;
  const root = info.group ? `/apis/${info.group}/${v}` : `/api/${v}`;
  if (info.namespaced && !namespace) throw new TypeError(`${kind} ${name ?? ''}: a namespaced kind needs a namespace`);
  const scope = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? '')}` : '';
  return `${root}${scope}/${info.resource}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** `v1`, `rbac.authorization.k8s.io/v1`. */
export function apiVersionOf(kind: OwnedKind): string {
  const info: KindInfo = KINDS[kind];
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** The object's version: its own apiVersion's when it names the kind's group, else the table's. */
export function versionOf(o: OwnedObject): string {
  const info: KindInfo = KINDS[o.kind];
  const [group, version] = o.apiVersion?.includes('/') ? o.apiVersion.split('/', 2) : ['', o.apiVersion];
  return version && group === info.group ? version : info.version;
}

/** The path of the object itself. */
export function objectPath(o: OwnedObject): string {
  return kindPath(o.kind, o.metadata?.namespace, o.metadata?.name ?? '', versionOf(o));
}

/** The path of the object's collection (where it is created). */
export function collectionPath(o: OwnedObject): string {
  return kindPath(o.kind, o.metadata?.namespace, undefined, versionOf(o));
}

/** `clusterrole acr-fleet`, `serviceaccount kube-system/acr-fleet`. */
export function describeObject(o: OwnedObject): string {
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind.toLowerCase()} ${ns}${o.metadata?.name ?? ''}`;
}

/** The object carries acr-fleet's label: acr-fleet may change or delete it. */
export function isOurs(o: OwnedObject): boolean {
  return o.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** Compares what acr-fleet sets: labels, rules, roleRef, subjects, webhooks, data, spec. */
export function sameContent(current: object, desired: object): boolean {
  type Shape = {
    metadata?: { labels?: Record<string, string> };
    rules?: unknown;
    roleRef?: unknown;
    subjects?: unknown;
    webhooks?: unknown;
    data?: unknown;
    spec?: unknown;
  };
  const pick = (o: Shape) =>
    canonical({
      labels: o.metadata?.labels ?? {},
      rules: o.rules ?? null,
      roleRef: o.roleRef ?? null,
      subjects: o.subjects ?? null,
      webhooks: o.webhooks ?? null,
      data: o.data ?? null,
      spec: o.spec ?? null,
    });
  return pick(current as Shape) === pick(desired as Shape);
}

/** JSON with object keys sorted and undefined fields dropped: the server and the client order fields their own way. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
