/**
 * Authorization: the privileged-group authorizer (system:masters may do anything) followed by
 * RBAC, ported from plugin/pkg/auth/authorizer/rbac/rbac.go, pkg/apis/rbac/v1/evaluation_helpers.go
 * and pkg/registry/rbac/validation/rule.go (VisitRulesFor, appliesTo, describers). The denial
 * message is responsewriters.forbiddenMessage, and RBAC's resolution errors (a binding whose role
 * is missing) are appended as "RBAC: …", exactly like the real 403.
 */
import type { Store, Obj } from './store.js';
import { type KubeStatusError, forbidden } from './status.js';

/** An authenticated (or anonymous) caller. */
export interface UserInfo {
  name: string;
  groups: string[];
}

/** authorizer.Attributes, as the request-info filter derives them. */
export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

/** The decision and the reason text the authorizer chain returns. */
export interface Decision {
  allowed: boolean;
  reason: string;
}

interface Rule {
  verbs?: string[] | null;
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}
interface Binding {
  metadata: { name: string; namespace?: string };
  subjects?: Subject[];
  roleRef: { kind: string; name: string };
}

const has = (list: string[] | null | undefined, v: string) => (list ?? []).includes(v);

/** RuleAllows (VerbMatches, APIGroupMatches, ResourceMatches incl. `*\/sub`, ResourceNameMatches). */
function ruleAllows(a: Attributes, r: Rule): boolean {
  const verbOk = has(r.verbs, '*') || has(r.verbs, a.verb);
  if (!a.resourceRequest) {
    return (
      verbOk &&
      (r.nonResourceURLs ?? []).some(
        (u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.replace(/\*+$/, ''))),
      )
    );
  }
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = (r.resources ?? []).some(
    (res) => res === '*' || res === combined || (a.subresource !== '' && res === `*/${a.subresource}`),
  );
  // An empty resourceNames matches anything; otherwise a request without a name (list, create) never matches.
  const nameOk = !(r.resourceNames ?? []).length || has(r.resourceNames, a.name);
  return verbOk && (has(r.apiGroups, '*') || has(r.apiGroups, a.apiGroup)) && resourceOk && nameOk;
}

/** appliesToUser: ServiceAccount subjects default to the binding's namespace. */
function appliesTo(user: UserInfo, s: Subject, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.name === s.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return ns !== '' && user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} "${s.name}/${s.namespace || bindingNamespace}"`;
  return `${s.kind} "${s.name}"`;
}

/** Evaluates the authorizer chain for `a` against the RBAC objects in `store`. */
export function authorize(store: Store, a: Attributes): Decision {
  if (a.user.groups.includes('system:masters')) return { allowed: true, reason: '' };
  const errors: string[] = [];
  const rolesOf = (ref: Binding['roleRef'], ns: string): Rule[] | undefined => {
    // Lister NotFound errors name the singular resource: `clusterrole.rbac.authorization.k8s.io "x" not found`.
    if (ref.kind === 'ClusterRole') {
      const r = store.get('clusterroles', undefined, ref.name);
      if (!r) errors.push(`clusterrole.rbac.authorization.k8s.io "${ref.name}" not found`);
      return r?.rules as Rule[] | undefined;
    }
    if (ref.kind === 'Role') {
      const r = store.get('roles', ns, ref.name);
      if (!r) errors.push(`role.rbac.authorization.k8s.io "${ref.name}" not found`);
      return r?.rules as Rule[] | undefined;
    }
    errors.push(`unsupported role reference kind: "${ref.kind}"`);
    return undefined;
  };
  const visit = (bindings: Obj[], ns: string): string | undefined => {
    for (const o of bindings) {
      const b = o as unknown as Binding;
      const subject = (b.subjects ?? []).find((s) => appliesTo(a.user, s, ns));
      if (!subject) continue;
      const rules = rolesOf(b.roleRef, ns) ?? [];
      if (rules.some((r) => ruleAllows(a, r))) {
        return ns
          ? `RBAC: allowed by RoleBinding "${b.metadata.name}/${ns}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(subject, ns)}`
          : `RBAC: allowed by ClusterRoleBinding "${b.metadata.name}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(subject, '')}`;
      }
    }
    return undefined;
  };
  const reason =
    visit(store.list('clusterrolebindings'), '') ??
    (a.namespace ? visit(store.list('rolebindings', a.namespace), a.namespace) : undefined);
  if (reason) return { allowed: true, reason };
  // utilerrors.NewAggregate: one error prints bare, several as "[a, b]".
  const agg = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return { allowed: false, reason: errors.length ? `RBAC: ${agg}` : '' };
}

/** responsewriters.Forbidden: the 403 for a denied request. */
export function forbiddenError(a: Attributes, reason: string): KubeStatusError {
  let msg: string;
  if (!a.resourceRequest) msg = `User "${a.user.name}" cannot ${a.verb} path "${a.path}"`;
  else {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = a.namespace
      ? `User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}" in the namespace "${a.namespace}"`
      : `User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}" at the cluster scope`;
  }
  if (reason) msg = `${msg}: ${reason}`;
  const gr = a.resourceRequest ? { group: a.apiGroup, resource: a.resource } : { group: '', resource: '' };
  const err = forbidden(gr, a.name, msg);
  // Non-resource denials carry an empty details object, as NewForbidden with an empty GroupResource does.
  return err;
}

/**
 * The bootstrap policy a fresh cluster has (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, v1.26):
 * cluster-admin bound to system:masters, and the roles that let every authenticated user do
 * discovery, read /version and create SelfSubjectAccessReviews. Labels/annotations as upstream.
 */
export function bootstrapPolicy(): { clusterroles: Obj[]; clusterrolebindings: Obj[] } {
  const meta = (name: string) => ({
    name,
    labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
    annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
  });
  const role = (name: string, rules: Rule[]): Obj => ({ metadata: meta(name), rules });
  const binding = (name: string, groups: string[]): Obj => ({
    metadata: meta(name),
    subjects: groups.map((g) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: g })),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
  });
  const versionUrls = ['/healthz', '/livez', '/readyz', '/version', '/version/'];
  return {
    clusterroles: [
      role('cluster-admin', [
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
        { verbs: ['*'], nonResourceURLs: ['*'] },
      ]),
      role('system:basic-user', [
        {
          verbs: ['create'],
          apiGroups: ['authorization.k8s.io'],
          resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
        },
      ]),
      role('system:discovery', [
        {
          verbs: ['get'],
          nonResourceURLs: [
            '/api',
            '/api/*',
            '/apis',
            '/apis/*',
            '/healthz',
            '/livez',
            '/openapi',
            '/openapi/*',
            '/readyz',
            '/version',
            '/version/',
          ],
        },
      ]),
      role('system:public-info-viewer', [{ verbs: ['get'], nonResourceURLs: versionUrls }]),
    ],
    clusterrolebindings: [
      binding('cluster-admin', ['system:masters']),
      binding('system:basic-user', ['system:authenticated']),
      binding('system:discovery', ['system:authenticated']),
      binding('system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
    ],
  };
}
