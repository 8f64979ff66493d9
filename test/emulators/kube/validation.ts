/**
 * Validation as kube-apiserver does it, with the same field paths and texts:
 * k8s.io/apimachinery/pkg/util/validation (IsDNS1123Subdomain, IsQualifiedName, IsConfigMapKey, …),
 * apimachinery/pkg/api/validation (ValidateObjectMeta), pkg/apis/core/validation (ValidateSecret,
 * ValidateSecretUpdate, ValidateConfigMap, ValidateNamespace) and pkg/apis/rbac/validation.
 */
import { validatePolicyObject } from './vap.js';
import { goJsonUnmarshalMapError } from './codec.js';
import { type FieldError, fe } from './status.js';
import type { KubeKind } from './kinds.js';

type Obj = Record<string, unknown>;
type Meta = {
  name?: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  uid?: string;
};

/** validation.RegexError: `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`. */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}
const maxLenError = (n: number) => `must be no more than ${n} characters`;

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const CONFIG_KEY_FMT = '[-._a-zA-Z0-9]+';
const full = (fmt: string) => new RegExp(`^${fmt}$`);

/** validation.IsDNS1123Label */
export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenError(63));
  if (!full(DNS1123_LABEL_FMT).test(v)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL_FMT,
        'my-name',
        '123-abc',
      ),
    );
  }
  return errs;
}

/** validation.IsDNS1123Subdomain */
export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenError(253));
  if (!full(DNS1123_SUBDOMAIN_FMT).test(v)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        'example.com',
      ),
    );
  }
  return errs;
}

/** path.IsValidPathSegmentName, the name rule of RBAC objects. */
export function isValidPathSegmentName(v: string): string[] {
  if (v === '.') return [`may not be '.'`];
  if (v === '..') return [`may not be '..'`];
  const errs: string[] = [];
  if (v.includes('/')) errs.push(`may not contain '/'`);
  if (v.includes('%')) errs.push(`may not contain '%'`);
  return errs;
}

const QUALIFIED_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** validation.IsQualifiedName (label and annotation keys). */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0] as string;
  else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!full(QUALIFIED_NAME_FMT).test(name)) {
    errs.push(`name part ${regexError(QUALIFIED_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

/** validation.IsValidLabelValue */
export function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenError(63));
  if (!full(LABEL_VALUE_FMT).test(v)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return errs;
}

/** validation.IsConfigMapKey (Secret and ConfigMap data keys). */
export function isConfigMapKey(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenError(253));
  if (!full(CONFIG_KEY_FMT).test(v)) {
    errs.push(
      regexError(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        CONFIG_KEY_FMT,
        'key.name',
        'KEY_NAME',
        'key-name',
      ),
    );
  }
  if (v === '.') errs.push(`must not be '.'`);
  else if (v === '..') errs.push(`must not be '..'`);
  else if (v.startsWith('..')) errs.push(`must not start with '..'`);
  return errs;
}

const NAME_RULES: Record<KubeKind, (v: string) => string[]> = {
  namespaces: isDNS1123Label,
  secrets: isDNS1123Subdomain,
  serviceaccounts: isDNS1123Subdomain,
  configmaps: isDNS1123Subdomain,
  roles: isValidPathSegmentName,
  rolebindings: isValidPathSegmentName,
  clusterroles: isValidPathSegmentName,
  clusterrolebindings: isValidPathSegmentName,
  mutatingwebhookconfigurations: isDNS1123Subdomain,
  validatingadmissionpolicies: isDNS1123Subdomain,
  validatingadmissionpolicybindings: isDNS1123Subdomain,
};

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);
const CORE_KINDS = new Set<KubeKind>(['namespaces', 'secrets', 'serviceaccounts', 'configmaps']);

/** ValidateObjectMeta (plus core's finalizer-name rule). */
function validateMeta(kind: KubeKind, meta: Meta): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.generateName) {
    // Name generation masks one trailing '-' before validating the prefix (NameIsDNSSubdomain(name, true)).
    const masked = meta.generateName.replace(/-$/, 'a');
    for (const m of NAME_RULES[kind](masked)) errs.push(fe.invalid('metadata.generateName', meta.generateName, m));
  }
  if (!meta.name) errs.push(fe.required('metadata.name', 'name or generateName is required'));
  else for (const m of NAME_RULES[kind](meta.name)) errs.push(fe.invalid('metadata.name', meta.name, m));
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(fe.invalid('metadata.labels', k, m));
    for (const m of isValidLabelValue(v)) errs.push(fe.invalid('metadata.labels', v, m));
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(fe.invalid('metadata.annotations', k, m));
    annotationBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (annotationBytes > 256 * 1024) errs.push(fe.tooLong('metadata.annotations', 256 * 1024));
  if (CORE_KINDS.has(kind)) {
    (meta.finalizers ?? []).forEach((f, i) => {
      if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
        errs.push(
          fe.invalid(
            `metadata.finalizers[${i}]`,
            f,
            'name is neither a standard finalizer name nor is it fully qualified',
          ),
        );
      }
    });
  }
  return errs;
}

/** core.MaxSecretSize */
export const MAX_SECRET_SIZE = 1024 * 1024;

function validateDataKeys(path: string, data: Record<string, string> | undefined): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of Object.keys(data ?? {}))
    for (const m of isConfigMapKey(k)) errs.push(fe.invalid(`${path}[${k}]`, k, m));
  return errs;
}

/** ValidateSecret; `data` values are base64 (already checked by the decoder). */
function validateSecret(o: Obj): FieldError[] {
  const data = (o.data ?? {}) as Record<string, string>;
  const errs = validateDataKeys('data', data);
  const bytes = (k: string) => Buffer.from(data[k] ?? '', 'base64');
  const total = Object.keys(data).reduce((n, k) => n + bytes(k).length, 0);
  if (total > MAX_SECRET_SIZE) errs.push(fe.tooLong('data', MAX_SECRET_SIZE));
  const has = (k: string) => Object.hasOwn(data, k);
  const jsonKey = (k: string) => {
    if (!has(k)) return errs.push(fe.required(`data[${k}]`));
    const err = goJsonUnmarshalMapError(bytes(k).toString('utf8'));
    if (err) errs.push(fe.invalid(`data[${k}]`, '<secret contents redacted>', err));
  };
  const annotations = ((o.metadata as Meta).annotations ?? {}) as Record<string, string>;
  switch (o.type) {
    case 'kubernetes.io/service-account-token':
      if (!annotations['kubernetes.io/service-account.name']) {
        errs.push(fe.required('metadata.annotations[kubernetes.io/service-account.name]'));
      }
      break;
    case 'kubernetes.io/dockercfg':
      jsonKey('.dockercfg');
      break;
    case 'kubernetes.io/dockerconfigjson':
      jsonKey('.dockerconfigjson');
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) errs.push(fe.required('data[username]'), fe.required('data[password]'));
      break;
    case 'kubernetes.io/ssh-auth':
      if (bytes('ssh-privatekey').length === 0) errs.push(fe.required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) errs.push(fe.required('data[tls.crt]'));
      if (!has('tls.key')) errs.push(fe.required('data[tls.key]'));
      break;
  }
  return errs;
}

/** ValidateConfigMap (size limit counts data and binaryData together). */
function validateConfigMap(o: Obj): FieldError[] {
  const data = (o.data ?? {}) as Record<string, string>;
  const bin = (o.binaryData ?? {}) as Record<string, string>;
  const errs = [...validateDataKeys('data', data), ...validateDataKeys('binaryData', bin)];
  for (const k of Object.keys(bin)) {
    if (Object.hasOwn(data, k)) errs.push(fe.invalid(`binaryData[${k}]`, k, 'duplicate of key present in data'));
  }
  const total =
    Object.values(data).reduce((n, v) => n + Buffer.byteLength(v), 0) +
    Object.values(bin).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  if (total > MAX_SECRET_SIZE) errs.push(fe.tooLong('', MAX_SECRET_SIZE));
  return errs;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** ValidatePolicyRule for every rule (namespaced Roles may not use nonResourceURLs). */
function validateRules(o: Obj, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  ((o.rules ?? []) as Obj[]).forEach((r, i) => {
    const p = `rules[${i}]`;
    const len = (k: string) => ((r[k] as string[] | null | undefined) ?? []).length;
    if (!len('verbs')) errs.push(fe.required(`${p}.verbs`, 'verbs must contain at least one value'));
    if (len('nonResourceURLs')) {
      if (namespaced) {
        errs.push(
          fe.invalid(`${p}.nonResourceURLs`, r.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'),
        );
      }
      if (len('apiGroups') || len('resources') || len('resourceNames')) {
        errs.push(
          fe.invalid(
            `${p}.nonResourceURLs`,
            r.nonResourceURLs,
            'rules cannot apply to both regular resources and non-resource URLs',
          ),
        );
      }
      return;
    }
    if (!len('apiGroups'))
      errs.push(fe.required(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
    if (!len('resources')) errs.push(fe.required(`${p}.resources`, 'resource rules must supply at least one resource'));
  });
  return errs;
}

function validateBinding(o: Obj, cluster: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ref = (o.roleRef ?? {}) as Obj;
  if (ref.apiGroup !== RBAC_GROUP) errs.push(fe.notSupported('roleRef.apiGroup', ref.apiGroup ?? '', [RBAC_GROUP]));
  const kinds = cluster ? ['ClusterRole'] : ['Role', 'ClusterRole'];
  if (!kinds.includes(ref.kind as string)) errs.push(fe.notSupported('roleRef.kind', ref.kind ?? '', kinds));
  if (!ref.name) errs.push(fe.required('roleRef.name'));
  else for (const m of isValidPathSegmentName(ref.name as string)) errs.push(fe.invalid('roleRef.name', ref.name, m));
  ((o.subjects ?? []) as Obj[]).forEach((s, i) => {
    const p = `subjects[${i}]`;
    if (!s.name) errs.push(fe.required(`${p}.name`));
    switch (s.kind) {
      case 'ServiceAccount':
        if (s.apiGroup) errs.push(fe.notSupported(`${p}.apiGroup`, s.apiGroup, ['']));
        if (cluster && !s.namespace) errs.push(fe.required(`${p}.namespace`));
        break;
      case 'User':
      case 'Group':
        if (s.apiGroup !== RBAC_GROUP) errs.push(fe.notSupported(`${p}.apiGroup`, s.apiGroup ?? '', [RBAC_GROUP]));
        break;
      default:
        errs.push(fe.notSupported(`${p}.kind`, s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    }
  });
  return errs;
}

/**
 * The parts of ValidateMutatingWebhookConfiguration (pkg/apis/admissionregistration/validation) the
 * emulator relies on: unique qualified names, sideEffects None/NoneOnDryRun (v1), admissionReviewVersions
 * with a version the server speaks, and an https clientConfig.url (the emulator calls URLs only).
 */
function validateWebhooks(o: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  ((o.webhooks ?? []) as Record<string, unknown>[]).forEach((w, i) => {
    const p = `webhooks[${i}]`;
    const name = (w.name as string | undefined) ?? '';
    if (!name) errs.push(fe.required(`${p}.name`));
    else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$/.test(name))
      errs.push(fe.invalid(`${p}.name`, name, 'should be a domain with at least three segments separated by dots'));
    else if (seen.has(name)) errs.push(fe.duplicate(`${p}.name`, name));
    seen.add(name);
    const se = w.sideEffects as string | undefined;
    if (se === undefined) errs.push(fe.required(`${p}.sideEffects`, 'must specify one of None, NoneOnDryRun'));
    else if (se !== 'None' && se !== 'NoneOnDryRun')
      errs.push(fe.notSupported(`${p}.sideEffects`, se, ['None', 'NoneOnDryRun']));
    const versions = (w.admissionReviewVersions ?? []) as string[];
    if (!versions.length) errs.push(fe.required(`${p}.admissionReviewVersions`, 'must specify one of v1, v1beta1'));
    else if (!versions.includes('v1'))
      errs.push(fe.invalid(`${p}.admissionReviewVersions`, versions, 'the emulator speaks admission.k8s.io/v1 only'));
    const url = ((w.clientConfig ?? {}) as { url?: string }).url;
    if (!url)
      errs.push(
        fe.required(`${p}.clientConfig`, 'exactly one of url or service is required (the emulator calls URLs only)'),
      );
    else errs.push(...webhookUrlErrors(`${p}.clientConfig.url`, url));
    const fp = w.failurePolicy as string;
    if (fp !== 'Ignore' && fp !== 'Fail') errs.push(fe.notSupported(`${p}.failurePolicy`, fp, ['Fail', 'Ignore']));
    const ts = w.timeoutSeconds as number;
    if (!(ts >= 1 && ts <= 30))
      errs.push(fe.invalid(`${p}.timeoutSeconds`, ts, 'the timeout value must be between 1 and 30 seconds'));
  });
  return errs;
}

/** Validation of a new object (strategy.Validate). */
export function validateCreate(kind: KubeKind, o: Obj): FieldError[] {
  const errs = validateMeta(kind, o.metadata as Meta);
  switch (kind) {
    case 'mutatingwebhookconfigurations':
      return [...errs, ...validateWebhooks(o)];
    case 'validatingadmissionpolicies':
    case 'validatingadmissionpolicybindings':
      return [...errs, ...validatePolicyObject(kind, o)];
    case 'secrets':
      return [...errs, ...validateSecret(o)];
    case 'configmaps':
      return [...errs, ...validateConfigMap(o)];
    case 'roles':
      return [...errs, ...validateRules(o, true)];
    case 'clusterroles':
      return [...errs, ...validateRules(o, false)];
    case 'rolebindings':
      return [...errs, ...validateBinding(o, false)];
    case 'clusterrolebindings':
      return [...errs, ...validateBinding(o, true)];
    default:
      return errs;
  }
}

/** ValidateImmutableField: the error shows the *new* value. */
function immutable(path: string, next: unknown, old: unknown): FieldError[] {
  return JSON.stringify(next) === JSON.stringify(old) ? [] : [fe.invalid(path, next, 'field is immutable')];
}

/** Validation of an update (strategy.ValidateUpdate = ValidateXUpdate, which re-runs ValidateX). */
export function validateUpdate(kind: KubeKind, next: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const nm = next.metadata as Meta;
  const om = old.metadata as Meta;
  errs.push(...immutable('metadata.name', nm.name, om.name));
  if (kind === 'secrets' || kind === 'configmaps') {
    if (kind === 'secrets') errs.push(...immutable('type', next.type, old.type));
    if (old.immutable === true) {
      if (next.immutable !== true) errs.push(fe.forbidden('immutable', 'field is immutable when `immutable` is set'));
      if (JSON.stringify(next.data) !== JSON.stringify(old.data)) {
        errs.push(fe.forbidden('data', 'field is immutable when `immutable` is set'));
      }
      if (kind === 'configmaps' && JSON.stringify(next.binaryData) !== JSON.stringify(old.binaryData)) {
        errs.push(fe.forbidden('binaryData', 'field is immutable when `immutable` is set'));
      }
    }
  }
  if (
    (kind === 'rolebindings' || kind === 'clusterrolebindings') &&
    JSON.stringify(next.roleRef) !== JSON.stringify(old.roleRef)
  ) {
    errs.push(fe.invalid('roleRef', next.roleRef, 'cannot change roleRef'));
  }
  return [...errs, ...validateCreate(kind, next)];
}

/**
 * k8s.io/apiserver/pkg/util/webhook/validation.go `ValidateWebhookURL(fldPath, URL, forceHttps=true)`. Go's
 * url.Parse error is reproduced for a bad port (`parse "URL": invalid port ":x" after host`), the case an
 * https URL can hit; other parse failures get a generic text. Note the real message quotes the whole URL.
 */
function webhookUrlErrors(path: string, raw: string): FieldError[] {
  const form = '; desired format: https://host[/path]';
  const port = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*?(:[^/?#@:]*)(?:[/?#]|$)/i.exec(raw)?.[1];
  if (port !== undefined && !/^:\d*$/.test(port))
    return [fe.required(path, `url must be a valid URL: parse "${raw}": invalid port "${port}" after host${form}`)];
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return [fe.required(path, `url must be a valid URL: parse "${raw}": invalid URL${form}`)];
  }
  const errs: FieldError[] = [];
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'https') errs.push(fe.invalid(path, scheme, `'https' is the only allowed URL scheme${form}`));
  if (!u.host) errs.push(fe.invalid(path, u.host, `host must be specified${form}`));
  if (u.username || u.password)
    errs.push(
      fe.invalid(
        path,
        u.password ? `${u.username}:${u.password}` : u.username,
        'user information is not permitted in the URL',
      ),
    );
  if (u.hash.length > 1) errs.push(fe.invalid(path, u.hash.slice(1), 'fragments are not permitted in the URL'));
  if (u.search.length > 1)
    errs.push(fe.invalid(path, u.search.slice(1), 'query parameters are not permitted in the URL'));
  return errs;
}
