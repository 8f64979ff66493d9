/**
 * The wire shape of the emulated kinds, written in Go struct field order so that responses
 * serialize in the same key order as the real server, with the `omitempty` and strategic-merge-patch
 * tags of k8s.io/api (core/v1/types.go, rbac/v1/types.go) and metav1.ObjectMeta:
 *  - ObjectMeta.ownerReferences: patchStrategy=merge, patchMergeKey=uid
 *  - ObjectMeta.finalizers: patchStrategy=merge (primitive list)
 *  - ServiceAccount.secrets: patchStrategy=merge, patchMergeKey=name
 *  - ServiceAccount.imagePullSecrets: NO patch strategy, so it is replaced atomically
 *    (unlike PodSpec.imagePullSecrets, which merges by name).
 * `decode()` plays the part of Go's JSON decoding into these structs: unknown fields are dropped
 * (and reported, like fieldValidation=Warn, the default since 1.25), empty omitempty fields vanish,
 * map keys come out sorted, and wrong JSON types are decode errors.
 */

/** A field's shape. `req` = no `omitempty` (emitted even when empty); `ptr` = pointer (zero kept). */
export type Schema =
  | { t: 'string' | 'bool' | 'int'; req?: boolean; ptr?: boolean }
  | { t: 'time' }
  | { t: 'map'; bytes?: boolean }
  | { t: 'struct'; go: string; fields: Record<string, Schema>; req?: boolean }
  | { t: 'list'; of: Schema; go: string; merge?: string | true; req?: boolean }
  | { t: 'any' };

export type StructSchema = Extract<Schema, { t: 'struct' }>;

const str = (o: { req?: boolean } = {}): Schema => ({ t: 'string', ...o });
const bool = (o: { ptr?: boolean } = {}): Schema => ({ t: 'bool', ...o });
const int = (o: { ptr?: boolean } = {}): Schema => ({ t: 'int', ...o });
const time: Schema = { t: 'time' };
const strMap: Schema = { t: 'map' };
const any: Schema = { t: 'any' };
const struct = (go: string, fields: Record<string, Schema>, req = false): StructSchema => ({
  t: 'struct',
  go,
  fields,
  req,
});
const list = (go: string, of: Schema, o: { merge?: string | true; req?: boolean } = {}): Schema => ({
  t: 'list',
  go,
  of,
  ...o,
});

const ownerReference = struct('v1.OwnerReference', {
  apiVersion: str({ req: true }),
  kind: str({ req: true }),
  name: str({ req: true }),
  uid: str({ req: true }),
  controller: bool({ ptr: true }),
  blockOwnerDeletion: bool({ ptr: true }),
});

/** metav1.ObjectMeta */
export const objectMeta = struct(
  'v1.ObjectMeta',
  {
    name: str(),
    generateName: str(),
    namespace: str(),
    selfLink: str(),
    uid: str(),
    resourceVersion: str(),
    generation: int(),
    creationTimestamp: time,
    deletionTimestamp: time,
    deletionGracePeriodSeconds: int({ ptr: true }),
    labels: strMap,
    annotations: strMap,
    ownerReferences: list('[]v1.OwnerReference', ownerReference, { merge: 'uid' }),
    finalizers: list('[]string', str(), { merge: true }),
    managedFields: any,
  },
  true,
);

const objectReference = struct('v1.ObjectReference', {
  kind: str(),
  namespace: str(),
  name: str(),
  uid: str(),
  apiVersion: str(),
  resourceVersion: str(),
  fieldPath: str(),
});

const policyRule = struct('v1.PolicyRule', {
  verbs: list('[]string', str(), { req: true }),
  apiGroups: list('[]string', str()),
  resources: list('[]string', str()),
  resourceNames: list('[]string', str()),
  nonResourceURLs: list('[]string', str()),
});

const subject = struct('v1.Subject', {
  kind: str({ req: true }),
  apiGroup: str(),
  name: str({ req: true }),
  namespace: str(),
});

const roleRef = struct(
  'v1.RoleRef',
  { apiGroup: str({ req: true }), kind: str({ req: true }), name: str({ req: true }) },
  true,
);

const labelSelector = struct('v1.LabelSelector', {
  matchLabels: strMap,
  matchExpressions: list(
    '[]v1.LabelSelectorRequirement',
    struct('v1.LabelSelectorRequirement', {
      key: str({ req: true }),
      operator: str({ req: true }),
      values: list('[]string', str()),
    }),
  ),
});

/** admissionregistration/v1 MutatingWebhook (k8s.io/api/admissionregistration/v1/types.go). */
const mutatingWebhook = struct('v1.MutatingWebhook', {
  name: str({ req: true }),
  clientConfig: struct('v1.WebhookClientConfig', { url: str(), service: any, caBundle: str() }, true),
  rules: list(
    '[]v1.RuleWithOperations',
    struct('v1.RuleWithOperations', {
      operations: list('[]v1.OperationType', str()),
      apiGroups: list('[]string', str()),
      apiVersions: list('[]string', str()),
      resources: list('[]string', str()),
      scope: str(),
    }),
  ),
  failurePolicy: str(),
  matchPolicy: str(),
  namespaceSelector: labelSelector,
  objectSelector: labelSelector,
  sideEffects: str(),
  timeoutSeconds: int({ ptr: true }),
  admissionReviewVersions: list('[]string', str(), { req: true }),
  reinvocationPolicy: str(),
  matchConditions: any,
});

/** Top-level schemas by resource. */
export const SCHEMAS = {
  secrets: struct('v1.Secret', {
    metadata: objectMeta,
    immutable: bool({ ptr: true }),
    data: { t: 'map', bytes: true },
    stringData: strMap,
    type: str(),
  }),
  configmaps: struct('v1.ConfigMap', {
    metadata: objectMeta,
    immutable: bool({ ptr: true }),
    data: strMap,
    binaryData: { t: 'map', bytes: true },
  }),
  serviceaccounts: struct('v1.ServiceAccount', {
    metadata: objectMeta,
    secrets: list('[]v1.ObjectReference', objectReference, { merge: 'name' }),
    imagePullSecrets: list('[]v1.LocalObjectReference', struct('v1.LocalObjectReference', { name: str() })),
    automountServiceAccountToken: bool({ ptr: true }),
  }),
  namespaces: struct('v1.Namespace', {
    metadata: objectMeta,
    spec: struct('v1.NamespaceSpec', { finalizers: list('[]v1.FinalizerName', str()) }, true),
    status: struct('v1.NamespaceStatus', { phase: str(), conditions: any }, true),
  }),
  roles: struct('v1.Role', { metadata: objectMeta, rules: list('[]v1.PolicyRule', policyRule, { req: true }) }),
  clusterroles: struct('v1.ClusterRole', {
    metadata: objectMeta,
    rules: list('[]v1.PolicyRule', policyRule, { req: true }),
    aggregationRule: any,
  }),
  rolebindings: struct('v1.RoleBinding', {
    metadata: objectMeta,
    subjects: list('[]v1.Subject', subject),
    roleRef,
  }),
  clusterrolebindings: struct('v1.ClusterRoleBinding', {
    metadata: objectMeta,
    subjects: list('[]v1.Subject', subject),
    roleRef,
  }),
  mutatingwebhookconfigurations: struct('v1.MutatingWebhookConfiguration', {
    metadata: objectMeta,
    webhooks: list('[]v1.MutatingWebhook', mutatingWebhook, { merge: 'name' }),
  }),
  // admissionregistration/v1 ValidatingAdmissionPolicy(Binding): the spec is kept as sent (field order of the
  // request, not Go's; unknown spec fields are not reported).
  validatingadmissionpolicies: struct('v1.ValidatingAdmissionPolicy', { metadata: objectMeta, spec: any, status: any }),
  validatingadmissionpolicybindings: struct('v1.ValidatingAdmissionPolicyBinding', { metadata: objectMeta, spec: any }),
} satisfies Record<string, StructSchema>;

// ---------------------------------------------------------------------------------------------
// Decoding

/** A JSON type error during decoding, worded like encoding/json's UnmarshalTypeError. */
export class DecodeError extends Error {}

/** Result of decoding: the normalized object and strict-decoding warnings (unknown fields). */
export interface Decoded {
  obj: Record<string, unknown>;
  warnings: string[];
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string | number | object
}

function goType(s: Schema): string {
  switch (s.t) {
    case 'string':
    case 'time':
      return s.t === 'time' ? 'v1.Time' : 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int64';
    case 'map':
      return s.bytes ? 'map[string][]uint8' : 'map[string]string';
    case 'struct':
    case 'list':
      return s.go;
    case 'any':
      return 'interface {}';
  }
}

/**
 * Decodes `value` (a request body or a patched document, already parsed) against the kind's
 * schema. `goStruct` names the top struct for error messages (e.g. "Secret").
 * Byte maps are validated as base64 by `checkBase64` (which throws the Go message).
 */
export function decode(
  schema: StructSchema,
  value: unknown,
  goStruct: string,
  checkBase64: (s: string) => void,
): Decoded {
  const warnings: string[] = [];
  const walk = (s: Schema, v: unknown, path: string): unknown => {
    if (v === null || v === undefined) return zero(s);
    const fail = (): never => {
      throw new DecodeError(
        `json: cannot unmarshal ${jsonType(v)} into Go struct field ${goStruct}.${path} of type ${goType(s)}`,
      );
    };
    switch (s.t) {
      case 'any':
        return v;
      case 'time':
        if (typeof v !== 'string') fail();
        return v;
      case 'string':
        if (typeof v !== 'string') fail();
        return v === '' && !s.req ? undefined : v;
      case 'bool':
        if (typeof v !== 'boolean') fail();
        return v === false && !s.ptr ? undefined : v;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v)) fail();
        return v === 0 && !s.ptr ? undefined : v;
      case 'map': {
        if (typeof v !== 'object' || Array.isArray(v)) fail();
        const out: Record<string, string> = {};
        for (const k of Object.keys(v as object).sort()) {
          const item = (v as Record<string, unknown>)[k];
          if (item === null) {
            out[k] = '';
            continue;
          }
          if (typeof item !== 'string') fail();
          if (s.bytes) checkBase64(item as string);
          out[k] = item as string;
        }
        return Object.keys(out).length ? out : undefined;
      }
      case 'list': {
        if (!Array.isArray(v)) fail();
        const items = (v as unknown[]).map((item, i) => {
          const d = walk(s.of, item, `${path}[${i}]`);
          return d === undefined ? zero(s.of, true) : d;
        });
        if (items.length === 0) return s.req ? [] : undefined;
        return items;
      }
      case 'struct': {
        if (typeof v !== 'object' || Array.isArray(v)) fail();
        const src = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(src)) {
          if (!(k in s.fields)) warnings.push(`unknown field "${path ? `${path}.` : ''}${k}"`);
        }
        for (const [k, fs] of Object.entries(s.fields)) {
          const d = walk(fs, src[k], path ? `${path}.${k}` : k);
          if (d !== undefined) out[k] = d;
        }
        return out;
      }
    }
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError(`json: cannot unmarshal ${jsonType(value)} into Go value of type ${schema.go}`);
  }
  const { kind: _k, apiVersion: _a, ...rest } = value as Record<string, unknown>;
  const obj = walk(schema, rest, '') as Record<string, unknown>;
  return { obj, warnings };
}

/** The value an absent field takes: omitted, unless the field has no `omitempty`. */
function zero(s: Schema, inList = false): unknown {
  switch (s.t) {
    case 'struct':
      return s.req || inList ? {} : undefined;
    case 'list':
      return s.req ? null : undefined;
    case 'string':
      return s.req || inList ? '' : undefined;
    default:
      return undefined;
  }
}

/** The schema of field `key` inside `s` (unknown fields and map values are `any`). */
export function fieldSchema(s: Schema | undefined, key: string): Schema {
  if (s?.t === 'struct') return s.fields[key] ?? any;
  return any;
}
