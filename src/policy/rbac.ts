/**
 * The Kubernetes RBAC a target cluster grants acr-fleet, rendered from the cluster's resolved settings:
 * Secrets only by name, ServiceAccounts only by name when the selection is an explicit list, and the
 * add-on ConfigMap only for `settings: configmap`. Pure: used by `register` (to apply), by
 * `acr-fleet policy` (to show), by the sandbox and by tests. Every rule carries its reason.
 */
import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import type { Cluster } from '../config/resolve.js';
import { ACR_CONFIGURATION } from '../config/configmap.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../reconcile/state.js';

/** The ServiceAccount acr-fleet authenticates as in every cluster. */
export const IDENTITY = { namespace: 'kube-system', name: 'acr-fleet' } as const;
/** Role and RoleBinding that let a `settings: configmap` cluster's identity read the add-on ConfigMap. */
const CONFIGMAP_ROLE = 'acr-fleet-configmap';

/** What a cluster's RBAC depends on. */
export interface RbacSettings {
  /** Secret names the identity may list, read, replace and delete: the current one, then names being retired. */
  secretNames: string[];
  /** ServiceAccounts it may read and patch; `'*'` for any. With a list: the selected ones, then those retiring. */
  serviceAccounts: '*' | string[];
  /**
   * Unselected ServiceAccounts that still reference one of acr-fleet's Secrets (the selection narrowed, or a
   * namespace stopped being watched): patchable until the refresh has removed those references.
   */
  retiringServiceAccounts: string[];
  /** `settings: configmap`: also read kube-system/acr-configuration. */
  configmap: boolean;
}

/** A PolicyRule as the API takes it. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** A rule and why acr-fleet needs it. */
export interface ExplainedRule {
  rule: PolicyRule;
  reason: string;
}

interface Meta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
}
type RoleRef = { apiGroup: string; kind: 'ClusterRole' | 'Role'; name: string };
type Subject = { kind: 'ServiceAccount'; name: string; namespace: string };

/** The objects acr-fleet installs in a cluster, in the order they are applied. */
export type RbacObject =
  | { apiVersion: 'v1'; kind: 'ServiceAccount'; metadata: Meta }
  | { apiVersion: string; kind: 'ClusterRole' | 'Role'; metadata: Meta; rules: PolicyRule[] }
  | {
      apiVersion: string;
      kind: 'ClusterRoleBinding' | 'RoleBinding';
      metadata: Meta;
      roleRef: RoleRef;
      subjects: Subject[];
    };

const RBAC_API = 'rbac.authorization.k8s.io';
const labels = () => ({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });

/**
 * The RBAC settings of a resolved cluster, with the Secret names still being retired and the names of
 * unselected ServiceAccounts that still reference acr-fleet's Secrets (`referencing`), if any.
 */
export function rbacSettingsOf(
  cluster: Pick<Cluster, 'secretName' | 'previousSecretNames' | 'serviceAccounts' | 'settingsSource'>,
  referencing: readonly string[] = [],
): RbacSettings {
  const configmap = cluster.settingsSource === 'configmap';
  // A ConfigMap's service-account selection is read at run time and may change without a new register.
  const selection = configmap ? '*' : cluster.serviceAccounts;
  const retiring = selection === '*' ? [] : [...new Set(referencing)].filter((n) => !selection.includes(n)).sort();
  return {
    secretNames: [...new Set([cluster.secretName, ...(cluster.previousSecretNames ?? [])])],
    serviceAccounts: selection === '*' ? '*' : [...selection, ...retiring],
    retiringServiceAccounts: retiring,
    configmap,
  };
}

/** The ClusterRole's rules, each with its reason. */
function clusterRoleRules(s: RbacSettings): ExplainedRule[] {
  const [current = '', ...retiring] = s.secretNames;
  const names = s.secretNames.join(', ');
  const saNamed = s.serviceAccounts !== '*';
  return [
    {
      rule: { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
      reason:
        'Find the watched namespaces and skip those being deleted: one cluster-wide list per run. Namespaces hold no credentials.',
    },
    {
      rule: {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: [...s.secretNames],
        verbs: ['list', 'get', 'update', 'delete'],
      },
      reason:
        `Only Secrets named ${names}, in any namespace: one cluster-wide list per name and run ` +
        `(GET /api/v1/secrets?fieldSelector=metadata.name=${current}: the API server authorizes a list against ` +
        'resourceNames only through that selector), get to read one back, update to replace an expiring or changed ' +
        'one, delete when its namespace is no longer watched. A list of all Secrets, a list by label, or any other ' +
        'Secret is refused.' +
        (retiring.length
          ? ` ${retiring.join(', ')}: the former secretName; its Secrets are deleted by the next refresh, then re-running register drops it.`
          : ''),
    },
    {
      rule: { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      reason:
        'Create the Secret where it is missing. RBAC cannot limit create by name (a create request carries none), so ' +
        'this is the one unnamed Secret right: it adds Secrets, and cannot read, change or delete any.',
    },
    {
      rule: { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['list'] },
      reason:
        "Read every ServiceAccount's imagePullSecrets (names only, no credentials): one cluster-wide list per run.",
    },
    {
      rule: {
        apiGroups: [''],
        resources: ['serviceaccounts'],
        ...(saNamed ? { resourceNames: [...s.serviceAccounts] } : {}),
        verbs: ['get', 'patch'],
      },
      reason:
        'Add the Secret to imagePullSecrets (patch), re-reading one that changed meanwhile (get), ' +
        (s.configmap
          ? 'of any ServiceAccount: the selection comes from kube-system/acr-configuration at run time and may change without a new register.'
          : s.serviceAccounts !== '*'
            ? `of the selected ServiceAccounts only (${s.serviceAccounts.filter((n) => !s.retiringServiceAccounts.includes(n)).join(', ')}).` +
              (s.retiringServiceAccounts.length
                ? ` ${s.retiringServiceAccounts.join(', ')}: no longer selected but still referencing acr-fleet's Secret; the next refresh removes the reference, then re-running register drops them.`
                : '')
            : 'of any ServiceAccount: serviceAccount is "*".'),
    },
  ];
}

/** The kube-system Role's rules of a `settings: configmap` cluster. */
function configMapRules(): ExplainedRule[] {
  return [
    {
      rule: { apiGroups: [''], resources: ['configmaps'], resourceNames: [ACR_CONFIGURATION.name], verbs: ['get'] },
      reason: `Read the add-on's settings each run (settings: configmap): that one ConfigMap, nothing else in ${ACR_CONFIGURATION.namespace}.`,
    },
  ];
}

/** Every object acr-fleet installs for these settings. */
export function rbacObjects(s: RbacSettings): RbacObject[] {
  const subjects: Subject[] = [{ kind: 'ServiceAccount', name: IDENTITY.name, namespace: IDENTITY.namespace }];
  const objects: RbacObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: IDENTITY.name, namespace: IDENTITY.namespace, labels: labels() },
    },
    {
      apiVersion: `${RBAC_API}/v1`,
      kind: 'ClusterRole',
      metadata: { name: IDENTITY.name, labels: labels() },
      rules: clusterRoleRules(s).map((r) => r.rule),
    },
    {
      apiVersion: `${RBAC_API}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: IDENTITY.name, labels: labels() },
      roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: IDENTITY.name },
      subjects,
    },
  ];
  if (s.configmap) objects.push(...configMapObjects(subjects));
  return objects;
}

/** The Role and RoleBinding of a `settings: configmap` cluster (removed again when a cluster stops being one). */
export function configMapObjects(
  subjects: Subject[] = [{ kind: 'ServiceAccount', name: IDENTITY.name, namespace: IDENTITY.namespace }],
): RbacObject[] {
  const ns = ACR_CONFIGURATION.namespace;
  return [
    {
      apiVersion: `${RBAC_API}/v1`,
      kind: 'Role',
      metadata: { name: CONFIGMAP_ROLE, namespace: ns, labels: labels() },
      rules: configMapRules().map((r) => r.rule),
    },
    {
      apiVersion: `${RBAC_API}/v1`,
      kind: 'RoleBinding',
      metadata: { name: CONFIGMAP_ROLE, namespace: ns, labels: labels() },
      roleRef: { apiGroup: RBAC_API, kind: 'Role', name: CONFIGMAP_ROLE },
      subjects,
    },
  ];
}

/** The objects as a multi-document YAML manifest, each rule preceded by its reason, for `kubectl apply -f`. */
export function rbacManifest(s: RbacSettings, header: readonly string[]): string {
  const reasons = new Map<string, string[]>([
    ['ClusterRole', clusterRoleRules(s).map((r) => r.reason)],
    ['Role', configMapRules().map((r) => r.reason)],
  ]);
  const docs = rbacObjects(s).map((obj, i) => {
    const doc = new Document(obj);
    if (i === 0) doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
    const rules = doc.get('rules');
    if (isSeq(rules)) {
      rules.items.forEach((item, j) => {
        if (!isMap(item)) return;
        item.commentBefore = wrap(reasons.get(obj.kind)?.[j] ?? '', 110)
          .map((l) => ` ${l}`)
          .join('\n');
        for (const pair of (item as YAMLMap).items) if (isSeq(pair.value)) pair.value.flow = true;
      });
    }
    return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  });
  return docs.join('---\n');
}

/** One line per rule: what it allows and why (for `acr-fleet policy` and register). */
export function explainRbac(s: RbacSettings): string[] {
  const line = ({ rule, reason }: ExplainedRule, where: string) =>
    `${rule.verbs.join(', ')} ${rule.resources.join(', ')}${rule.resourceNames ? ` named ${rule.resourceNames.join(', ')}` : ''} ${where}: ${reason}`;
  return [
    ...clusterRoleRules(s).map((r) => line(r, r.rule.resources[0] === 'namespaces' ? '(cluster)' : '(all namespaces)')),
    ...(s.configmap ? configMapRules().map((r) => line(r, `(in ${ACR_CONFIGURATION.namespace})`)) : []),
  ];
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
