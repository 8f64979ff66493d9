/**
 * The resources the emulator serves, with what differs between them on a real server: scope,
 * group/version, create-on-update (true only for RBAC, see pkg/registry/rbac/*\/strategy.go),
 * and the field selectors each kind accepts (pkg/apis/core/v1/conversion.go registers Secret and
 * Namespace; every other kind falls back to runtime.DefaultMetaV1FieldSelectorConversion).
 */
import { SCHEMAS, type StructSchema } from './schema.js';

/** Resource names served (the plural, as in URLs and RBAC rules). */
export type KubeKind =
  | 'namespaces'
  | 'secrets'
  | 'serviceaccounts'
  | 'configmaps'
  | 'roles'
  | 'rolebindings'
  | 'clusterroles'
  | 'clusterrolebindings'
  | 'mutatingwebhookconfigurations'
  | 'validatingadmissionpolicies'
  | 'validatingadmissionpolicybindings';

type Obj = Record<string, unknown>;

/** Static facts about one resource. */
export interface ResourceType {
  resource: KubeKind;
  kind: string;
  singular: string;
  group: string;
  version: string;
  namespaced: boolean;
  allowCreateOnUpdate: boolean;
  schema: StructSchema;
  /** Field values selectable with fieldSelector (GetAttrs of the registry). */
  fields(o: Obj): Record<string, string>;
  /** The conversion func's answer for an unsupported field label. */
  fieldLabelError(label: string): string;
}

const meta = (o: Obj) => (o.metadata ?? {}) as { name?: string; namespace?: string };
const notSupported = (label: string) => `field label not supported: ${label}`;
const notKnown = (label: string) =>
  `"${label}" is not a known field selector: only "metadata.name", "metadata.namespace"`;
const RBAC = 'rbac.authorization.k8s.io';
/** The group of admission webhook configurations. */
export const ADMISSION_REGISTRATION = 'admissionregistration.k8s.io';

function rt(
  resource: KubeKind,
  kind: string,
  group: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType {
  return {
    resource,
    kind,
    singular: kind.toLowerCase(),
    group,
    version: 'v1',
    namespaced,
    allowCreateOnUpdate: group === RBAC,
    schema: SCHEMAS[resource],
    fields: (o): Record<string, string> =>
      namespaced
        ? { 'metadata.name': meta(o).name ?? '', 'metadata.namespace': meta(o).namespace ?? '' }
        : { 'metadata.name': meta(o).name ?? '' },
    fieldLabelError: notKnown,
    ...extra,
  };
}

/** Every served resource by plural name. */
export const RESOURCES: Record<KubeKind, ResourceType> = {
  namespaces: rt('namespaces', 'Namespace', '', false, {
    fields: (o) => ({
      'metadata.name': meta(o).name ?? '',
      'status.phase': ((o.status ?? {}) as { phase?: string }).phase ?? '',
    }),
    fieldLabelError: notSupported,
  }),
  secrets: rt('secrets', 'Secret', '', true, {
    fields: (o) => ({
      'metadata.name': meta(o).name ?? '',
      'metadata.namespace': meta(o).namespace ?? '',
      type: (o.type as string | undefined) ?? '',
    }),
    fieldLabelError: notSupported,
  }),
  serviceaccounts: rt('serviceaccounts', 'ServiceAccount', '', true),
  configmaps: rt('configmaps', 'ConfigMap', '', true),
  roles: rt('roles', 'Role', RBAC, true),
  rolebindings: rt('rolebindings', 'RoleBinding', RBAC, true),
  clusterroles: rt('clusterroles', 'ClusterRole', RBAC, false),
  clusterrolebindings: rt('clusterrolebindings', 'ClusterRoleBinding', RBAC, false),
  mutatingwebhookconfigurations: rt(
    'mutatingwebhookconfigurations',
    'MutatingWebhookConfiguration',
    ADMISSION_REGISTRATION,
    false,
  ),
  validatingadmissionpolicies: rt(
    'validatingadmissionpolicies',
    'ValidatingAdmissionPolicy',
    ADMISSION_REGISTRATION,
    false,
  ),
  validatingadmissionpolicybindings: rt(
    'validatingadmissionpolicybindings',
    'ValidatingAdmissionPolicyBinding',
    ADMISSION_REGISTRATION,
    false,
  ),
};

/** The admission policy kinds, served under admissionregistration.k8s.io v1 (1.30+) and v1beta1 (1.28+). */
export const POLICY_KINDS: readonly KubeKind[] = ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'];

/** Which versions of the policy kinds a server serves: both (default), v1beta1 only (1.28/1.29) or none. */
export type PolicyVersions = readonly ('v1' | 'v1beta1')[];

/** `apiVersion` string of a resource type. */
export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

/** Finds the resource for a URL's group/version/resource, if served. */
export function lookupResource(
  group: string,
  version: string,
  resource: string,
  policyVersions: PolicyVersions = ['v1', 'v1beta1'],
): ResourceType | undefined {
  const t = (RESOURCES as Record<string, ResourceType | undefined>)[resource];
  if (!t || t.group !== group) return undefined;
  if (POLICY_KINDS.includes(t.resource)) {
    // One storage, several served versions (the fields the emulator uses are the same in v1beta1 and v1).
    return (policyVersions as string[]).includes(version) ? { ...t, version } : undefined;
  }
  return t.version === version ? t : undefined;
}
