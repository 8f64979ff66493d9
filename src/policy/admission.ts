/**
 * The ValidatingAdmissionPolicy and binding that fence acr-fleet's identity in by admission, not only by RBAC,
 * rendered from a cluster's resolved settings. RBAC cannot limit `create secrets` by name or type, nor `patch
 * serviceaccounts` to one field; this policy does: the identity may write only its own dockerconfigjson Secrets
 * and only the imagePullSecrets entries of its own names. Pure: used by `register` (to apply and prove), by
 * `npm run rbac` (the example manifests) and by tests.
 *
 * The CEL stays within what every apiserver serving the policy API evaluates (1.28+): `object`/`oldObject` are
 * dynamic there, so maps are compared and iterated (`all`, `in`, `has`) without optional types.
 */
import { Document } from 'yaml';
import type { Cluster } from '../config/resolve.js';
import {
  DOCKERCONFIGJSON_TYPE,
  EXPIRES_AT_ANNOTATION,
  INPUTS_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  REGISTRIES_ANNOTATION,
} from '../reconcile/state.js';
import { IDENTITY } from './rbac.js';

/** The admissionregistration.k8s.io versions that serve the policy kinds: v1 (1.30+), v1beta1 (1.28, 1.29). */
export type AdmissionPolicyVersion = 'v1' | 'v1beta1';

export const ADMISSION_GROUP = 'admissionregistration.k8s.io';
/** Name of the policy and of its binding. */
export const ADMISSION_POLICY_NAME = 'acr-fleet';
/** The Kubernetes user of acr-fleet's ServiceAccount. */
export const IDENTITY_USER = `system:serviceaccount:${IDENTITY.namespace}:${IDENTITY.name}`;

/** What the policy depends on. */
export interface AdmissionSettings {
  /** Secret names acr-fleet writes: the current one, then names being retired. */
  secretNames: string[];
  /** Namespaces where no acr-fleet Secret may be created or updated. */
  excludedNamespaces: string[];
  /**
   * The users the policy fences: the ServiceAccount's, and for an `ackClusterId` cluster the user its RAM
   * identity authenticates as (the numeric RAM role or user id ACK maps it to).
   */
  usernames: string[];
}

/**
 * The policy settings of a resolved cluster. `retiringSecretNames` are former names whose Secrets the next
 * refresh deletes; `ramUser` is the Kubernetes user of the cluster's ACK RAM identity, if it has one.
 * Excluded: the cluster's `excludeNamespaces`, except any namespace fleet.yaml names in `watchNamespace`.
 */
export function admissionSettingsOf(
  cluster: Pick<Cluster, 'secretName' | 'previousSecretNames' | 'namespaces' | 'excludeNamespaces'>,
  opts: { retiringSecretNames?: readonly string[]; ramUser?: string } = {},
): AdmissionSettings {
  const watched = cluster.namespaces.all ? [] : cluster.namespaces.names;
  const excluded = cluster.namespaces.all ? cluster.namespaces.exclude : cluster.excludeNamespaces;
  return {
    secretNames: [
      ...new Set([cluster.secretName, ...(cluster.previousSecretNames ?? []), ...(opts.retiringSecretNames ?? [])]),
    ],
    excludedNamespaces: [...new Set(excluded)].filter((n) => !watched.includes(n)).sort(),
    usernames: [IDENTITY_USER, ...(opts.ramUser ? [opts.ramUser] : [])],
  };
}

interface Meta {
  name: string;
  labels: Record<string, string>;
}

/** A rule of `matchConstraints.resourceRules`, with the defaults the API server stores spelled out. */
interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope: '*';
}

export interface Validation {
  expression: string;
  message: string;
  reason: 'Forbidden';
}

export type AdmissionObject =
  | {
      apiVersion: string;
      kind: 'ValidatingAdmissionPolicy';
      metadata: Meta;
      spec: {
        failurePolicy: 'Fail';
        matchConstraints: {
          matchPolicy: 'Equivalent';
          namespaceSelector: Record<string, never>;
          objectSelector: Record<string, never>;
          resourceRules: ResourceRule[];
        };
        matchConditions: { name: string; expression: string }[];
        variables: { name: string; expression: string }[];
        validations: Validation[];
      };
    }
  | {
      apiVersion: string;
      kind: 'ValidatingAdmissionPolicyBinding';
      metadata: Meta;
      spec: { policyName: string; validationActions: ['Deny'] };
    };

/** A CEL string literal (single-quoted; names and label keys hold no quote, but escape anyway). */
const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const list = (xs: readonly string[]) => `[${xs.map(lit).join(', ')}]`;

const ANNOTATIONS = [EXPIRES_AT_ANNOTATION, INPUTS_HASH_ANNOTATION, REGISTRIES_ANNOTATION];
/** Metadata a write changes by itself: never compared. */
const BOOKKEEPING = ['resourceVersion', 'managedFields'];

/** The validations, each one line of what the identity may not do. */
export function admissionValidations(s: AdmissionSettings): Validation[] {
  const names = s.secretNames.join(', ');
  const v = (expression: string, message: string): Validation => ({ expression, message, reason: 'Forbidden' });
  const secretWrite = (e: string) => `!variables.secret || request.operation == 'DELETE' || (${e})`;
  const saUpdate = (e: string) => `!variables.serviceAccount || request.operation != 'UPDATE' || (${e})`;
  /** `a` and `b` (maps) hold the same keys and values, apart from `skip`. */
  const sameBut = (a: string, b: string, skip: readonly string[]) =>
    `${a}.all(k, k in ${list(skip)} || (k in ${b} && ${a}[k] == ${b}[k])) && ${b}.all(k, k in ${list(skip)} || k in ${a})`;
  return [
    v(
      `!variables.secret || request.name in variables.secretNames`,
      `acr-fleet may write and delete only Secrets named ${names}`,
    ),
    v(
      secretWrite(`object.type == ${lit(DOCKERCONFIGJSON_TYPE)}`),
      `acr-fleet may write only Secrets of type ${DOCKERCONFIGJSON_TYPE}`,
    ),
    v(
      secretWrite(
        `has(object.metadata.labels) && object.metadata.labels == {${lit(MANAGED_BY_LABEL)}: ${lit(MANAGED_BY_VALUE)}}`,
      ),
      `acr-fleet's Secrets carry exactly the label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    ),
    v(
      secretWrite(
        `has(object.metadata.annotations) && object.metadata.annotations.all(k, k in ${list(ANNOTATIONS)}) && ${list(ANNOTATIONS)}.all(k, k in object.metadata.annotations)`,
      ),
      `acr-fleet's Secrets carry exactly the annotations ${ANNOTATIONS.join(', ')}`,
    ),
    v(
      secretWrite(`has(object.data) && object.data.size() == 1 && '.dockerconfigjson' in object.data`),
      "acr-fleet's Secrets hold exactly one key, .dockerconfigjson",
    ),
    v(
      secretWrite(
        `!has(object.metadata.ownerReferences) && !has(object.metadata.finalizers) && (!has(object.immutable) || object.immutable == false)`,
      ),
      "acr-fleet's Secrets carry no ownerReferences or finalizers and are not immutable",
    ),
    v(
      secretWrite(`!(namespaceObject.metadata.name in ${list(s.excludedNamespaces)})`),
      `acr-fleet may not write Secrets in the excluded namespaces (${s.excludedNamespaces.join(', ') || 'none'})`,
    ),
    v(
      `!variables.secret || request.operation == 'CREATE' || (has(oldObject.metadata.labels) && ${lit(MANAGED_BY_LABEL)} in oldObject.metadata.labels && oldObject.metadata.labels[${lit(MANAGED_BY_LABEL)}] == ${lit(MANAGED_BY_VALUE)})`,
      `acr-fleet may replace or delete only Secrets that carry its label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    ),
    v(
      `!variables.serviceAccount || request.operation == 'UPDATE'`,
      'acr-fleet may not create or delete ServiceAccounts',
    ),
    v(
      saUpdate(
        `${sameBut('object', 'oldObject', ['metadata', 'imagePullSecrets'])} && ${sameBut('object.metadata', 'oldObject.metadata', BOOKKEEPING)}`,
      ),
      'acr-fleet may change a ServiceAccount only in imagePullSecrets (not its metadata, ownerReferences, automountServiceAccountToken or secrets)',
    ),
    v(
      saUpdate(
        `variables.pullSecrets.all(n, n in variables.oldPullSecrets || n in variables.secretNames) && variables.oldPullSecrets.all(n, n in variables.pullSecrets || n in variables.secretNames)`,
      ),
      `acr-fleet may add or remove only imagePullSecrets entries named ${names}`,
    ),
  ];
}

/**
 * The policy and its binding, in the order they are applied, under `version` of admissionregistration.k8s.io.
 * Every field the API server would default is spelled out, so a re-run compares equal and writes nothing.
 */
export function admissionPolicyObjects(
  s: AdmissionSettings,
  version: AdmissionPolicyVersion = 'v1',
): AdmissionObject[] {
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
  const pullNames = (o: string) =>
    `has(${o}.imagePullSecrets) ? ${o}.imagePullSecrets.map(e, has(e.name) ? e.name : '') : []`;
  return [
    {
      apiVersion: `${ADMISSION_GROUP}/${version}`,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: ADMISSION_POLICY_NAME, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          matchPolicy: 'Equivalent',
          namespaceSelector: {},
          objectSelector: {},
          resourceRules: [
            {
              apiGroups: [''],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['secrets', 'serviceaccounts'],
              scope: '*',
            },
          ],
        },
        matchConditions: [
          { name: 'acr-fleet-identity', expression: `request.userInfo.username in ${list(s.usernames)}` },
        ],
        variables: [
          { name: 'secret', expression: "request.resource.resource == 'secrets'" },
          { name: 'serviceAccount', expression: "request.resource.resource == 'serviceaccounts'" },
          { name: 'secretNames', expression: list(s.secretNames) },
          { name: 'pullSecrets', expression: pullNames('object') },
          { name: 'oldPullSecrets', expression: pullNames('oldObject') },
        ],
        validations: admissionValidations(s),
      },
    },
    {
      apiVersion: `${ADMISSION_GROUP}/${version}`,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: ADMISSION_POLICY_NAME, labels },
      spec: { policyName: ADMISSION_POLICY_NAME, validationActions: ['Deny'] },
    },
  ];
}

/** One line per validation, for people (`register`, the README). */
export function explainAdmission(s: AdmissionSettings): string[] {
  return admissionValidations(s).map((v) => v.message);
}

/** What stays open on a cluster that serves no policy API, in one line. */
export const OPEN_WITHOUT_POLICY =
  'without the policy only RBAC fences the identity: its unnamed create on Secrets can still mint a ServiceAccount token (a service-account-token Secret) or a bootstrap token, and its patch on ServiceAccounts can change more than imagePullSecrets';

/** The policy and binding as YAML documents for `kubectl apply -f` (`---`-separated), `header` before the first. */
export function admissionManifest(
  s: AdmissionSettings,
  header: readonly string[] = [],
  version: AdmissionPolicyVersion = 'v1',
): string {
  return admissionPolicyObjects(s, version)
    .map((obj, i) => {
      const doc = new Document(obj);
      if (i === 0 && header.length) doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
      return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
    })
    .join('---\n');
}
