/**
 * The REST operations (get, list, create, update, patch, delete, deletecollection) plus the two
 * "virtual" resources the product needs (TokenRequest, SelfSubjectAccessReview), following the
 * order of steps in k8s.io/apiserver's handlers and generic registry Store:
 *   decode (400) → namespace match (400) → admission NamespaceLifecycle (404/403) →
 *   defaulting/strategy → validation (422) → storage (409 AlreadyExists / Conflict).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import jsyaml from 'js-yaml';
import { DEFAULT_AUDIENCE, type Authenticator } from './auth.js';
import { Base64Error, goBase64Decode, goJsonSyntaxError } from './codec.js';
import { type KubeKind, type ResourceType, RESOURCES, apiVersionOf } from './kinds.js';
import { PATCH_TYPES, applyPatch } from './patch.js';
import { type Attributes, type UserInfo, authorize } from './rbac.js';
import { DecodeError, decode } from './schema.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import {
  type GroupResource,
  KubeStatusError,
  OPTIMISTIC_LOCK_MSG,
  alreadyExists,
  badRequest,
  conflict,
  fe,
  forbidden,
  invalid,
  notFound,
  plainError,
} from './status.js';
import { type Obj, type Store, clone, nowTimestamp } from './store.js';
import { validateCreate, validateUpdate } from './validation.js';
import type { PolicyAdmission } from './vap.js';

/** Who asks, and whether only as a dry run: what the validating admission step needs from a request. */
export interface RequestContext {
  user: UserInfo;
  dryRun: boolean;
}

/** What a handler answers: HTTP status, JSON body, and strict-decoding warnings. */
export interface Reply {
  status: number;
  body: unknown;
  warnings?: string[];
}

type Json = Record<string, unknown>;
type Meta = Record<string, unknown> & { name?: string; namespace?: string; labels?: Record<string, string> };

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const gr = (t: ResourceType): GroupResource => ({ group: t.group, resource: t.resource });
const meta = (o: Json) => o.metadata as Meta;

/** Serialized form of a stored object: kind and apiVersion first, as Go's TypeMeta inlines them. */
export function output(t: ResourceType, o: Obj): Json {
  return { kind: t.kind, apiVersion: apiVersionOf(t), ...clone(o) };
}

/** Go map keys serialize sorted; keep label maps sorted after the server adds one. */
function sortMap(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Parses a create/update body: JSON (default) or YAML, as the negotiated input serializers do. */
function parseObjectBody(t: ResourceType, raw: string, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]?.trim() || 'application/json';
  if (type === 'application/yaml') {
    try {
      return jsyaml.load(raw);
    } catch (e) {
      throw badRequest(`the object provided is unrecognized (must be of type ${t.kind}): ${(e as Error).message}`);
    }
  }
  if (type !== 'application/json') {
    throw new KubeStatusError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (the emulator does not speak ${type})`,
    );
  }
  const err = goJsonSyntaxError(raw);
  if (err) {
    // transformDecodeError without a recognizable kind; summarizeData shows up to 30 bytes.
    const summary = raw.length === 0 ? '<empty>' : raw.length > 30 ? `${raw.slice(0, 30)} ...` : raw;
    throw badRequest(
      `the object provided is unrecognized (must be of type ${t.kind}): couldn't get version/kind; json parse error: ${err} (${summary})`,
    );
  }
  return JSON.parse(raw) as unknown;
}

/** Defaulting and conversion that happen while decoding (SetDefaults_*, Convert_v1_Secret_To_core_Secret). */
function applyDefaults(kind: KubeKind, o: Json): void {
  const m = meta(o);
  switch (kind) {
    case 'secrets': {
      // stringData is write-only: merged over data, never stored.
      if (o.stringData) {
        const data = { ...((o.data ?? {}) as Record<string, string>) };
        for (const [k, v] of Object.entries(o.stringData as Record<string, string>))
          data[k] = Buffer.from(v).toString('base64');
        o.data = sortMap(data);
      }
      delete o.stringData;
      if (o.data) {
        // Bytes re-encode canonically (padding, no newlines).
        for (const [k, v] of Object.entries(o.data as Record<string, string>)) {
          (o.data as Record<string, string>)[k] = Buffer.from(v, 'base64').toString('base64');
        }
      }
      o.type ??= 'Opaque';
      break;
    }
    case 'namespaces':
      if (m.name) m.labels = sortMap({ ...(m.labels ?? {}), 'kubernetes.io/metadata.name': m.name });
      break;
    case 'mutatingwebhookconfigurations':
      // admissionregistration/v1 defaults.go: SetDefaults_MutatingWebhook and SetDefaults_Rule.
      for (const w of (o.webhooks ?? []) as Json[]) {
        w.failurePolicy ??= 'Fail';
        w.matchPolicy ??= 'Equivalent';
        w.namespaceSelector ??= {};
        w.objectSelector ??= {};
        w.timeoutSeconds ??= 10;
        w.reinvocationPolicy ??= 'Never';
        for (const r of (w.rules ?? []) as Json[]) r.scope ??= '*';
      }
      break;
    case 'validatingadmissionpolicies':
    case 'validatingadmissionpolicybindings': {
      // admissionregistration/v1 defaults.go: SetDefaults_ValidatingAdmissionPolicySpec, SetDefaults_MatchResources,
      // SetDefaults_NamedRuleWithOperations (scope "*").
      const spec = (o.spec ?? {}) as Json;
      if (kind === 'validatingadmissionpolicies') spec.failurePolicy ??= 'Fail';
      const mr = (kind === 'validatingadmissionpolicies' ? spec.matchConstraints : spec.matchResources) as
        Json | undefined;
      if (mr) {
        mr.matchPolicy ??= 'Equivalent';
        mr.namespaceSelector ??= {};
        mr.objectSelector ??= {};
        for (const r of [...((mr.resourceRules ?? []) as Json[]), ...((mr.excludeResourceRules ?? []) as Json[])])
          r.scope ??= '*';
      }
      break;
    }
    case 'rolebindings':
    case 'clusterrolebindings': {
      for (const s of (o.subjects ?? []) as Json[]) {
        if (s.apiGroup === undefined && (s.kind === 'User' || s.kind === 'Group')) s.apiGroup = RBAC_GROUP;
      }
      const ref = o.roleRef as Json;
      if (!ref.apiGroup) ref.apiGroup = RBAC_GROUP;
      break;
    }
  }
}

/** Decodes a JSON value into a normalized object of type `t` (throws DecodeError / Base64Error). */
function decodeObject(t: ResourceType, value: unknown): { obj: Obj; warnings: string[] } {
  const { obj, warnings } = decode(t.schema, value, t.kind, (s) => void goBase64Decode(s));
  applyDefaults(t.resource, obj);
  return { obj: obj as Obj, warnings };
}

/** Re-lays an object out in Go struct order (fields the server set late move into place). */
function canonical(t: ResourceType, o: Obj): Obj {
  return decode(t.schema, o, t.kind, () => undefined).obj as Obj;
}

/** Body → object, with the decoder's 400s (`Secret in version "v1" cannot be handled as a Secret: …`). */
function decodeBody(t: ResourceType, raw: string, contentType: string | undefined): { obj: Obj; warnings: string[] } {
  const input = parseObjectBody(t, raw, contentType);
  const version = apiVersionOf(t);
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const { apiVersion, kind } = input as Json;
    if (apiVersion !== undefined && apiVersion !== version) {
      throw badRequest(
        `the API version in the data (${String(apiVersion)}) does not match the expected API version (${version})`,
      );
    }
    if (kind !== undefined && kind !== t.kind) {
      throw badRequest(
        `${String(kind)} in version "${t.version}" cannot be handled as a ${t.kind}: converting (v1.${String(kind)}) to (core.${t.kind}): unknown conversion`,
      );
    }
  }
  try {
    return decodeObject(t, input);
  } catch (e) {
    if (e instanceof DecodeError || e instanceof Base64Error) {
      throw badRequest(`${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: ${e.message}`);
    }
    throw e;
  }
}

/** rest.EnsureObjectNamespaceMatchesRequestNamespace */
function ensureNamespace(t: ResourceType, o: Obj, ns: string | undefined): void {
  const m = meta(o);
  if (!t.namespaced) {
    delete m.namespace;
    return;
  }
  if (m.namespace && m.namespace !== ns) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  m.namespace = ns;
}

/** checkName in the update and patch handlers. */
function checkName(o: Obj, name: string): void {
  const objName = meta(o).name ?? '';
  if (objName !== name)
    throw badRequest(`the name of the object (${objName}) does not match the name on the URL (${name})`);
}

/** Parsed list options. */
export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: string;
  continue?: string;
}

/** Implements the resource operations against a Store. */
export class Api {
  constructor(
    private readonly store: Store,
    private readonly auth: Authenticator,
    /** The ValidatingAdmissionPolicy plugin, when the server serves the policy kinds. */
    private readonly policies?: () => PolicyAdmission | undefined,
  ) {}

  /** ValidatingAdmissionPolicy admission (after validation, before storage, as createValidation/updateValidation). */
  private admitPolicies(
    req: RequestContext | undefined,
    t: ResourceType,
    operation: 'CREATE' | 'UPDATE' | 'DELETE',
    object: Obj | null,
    oldObject: Obj | null,
  ): string[] {
    const plugin = this.policies?.();
    if (!req || !plugin) return [];
    const m = (object ?? oldObject)?.metadata ?? {};
    return plugin.validate({
      operation,
      t,
      name: (m.name as string | undefined) ?? '',
      // requestinfo: `/api/v1/namespaces/x` is in namespace x, so a Namespace's request.namespace is its name.
      ...(t.namespaced && m.namespace
        ? { namespace: m.namespace as string }
        : t.resource === 'namespaces' && m.name
          ? { namespace: m.name as string }
          : {}),
      object,
      oldObject,
      user: req.user,
      dryRun: req.dryRun,
    });
  }

  // --- admission ------------------------------------------------------------------------------

  /** The NamespaceLifecycle admission plugin, for creates of namespaced objects. */
  private admitCreate(t: ResourceType, o: Obj): void {
    if (!t.namespaced) return;
    const m = meta(o);
    const ns = this.store.get('namespaces', undefined, m.namespace as string);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, m.namespace as string);
    if ((ns.status as Json | undefined)?.phase === 'Terminating') {
      // Name generation has not happened yet, so a generateName create reports the prefix.
      const name = (m.name ?? m.generateName ?? '') as string;
      const err = forbidden(
        gr(t),
        name,
        `unable to create new content in namespace ${m.namespace} because it is being terminated`,
      );
      err.details!.causes = [
        {
          reason: 'NamespaceTerminating',
          message: `namespace ${m.namespace} is being terminated`,
          field: 'metadata.namespace',
        },
      ];
      throw err;
    }
  }

  // --- create ---------------------------------------------------------------------------------

  /** POST to a collection. */
  create(t: ResourceType, ns: string | undefined, raw: string, contentType: string | undefined): Reply {
    const { obj, warnings } = this.prepareCreate(t, ns, raw, contentType);
    return { ...this.commitCreate(t, obj, false), warnings };
  }

  /**
   * The first half of a create, up to the mutating admission webhooks: decode, namespace match, and the
   * NamespaceLifecycle plugin (which runs before MutatingAdmissionWebhook in the default plugin order).
   */
  prepareCreate(
    t: ResourceType,
    ns: string | undefined,
    raw: string,
    contentType: string | undefined,
  ): { obj: Obj; warnings: string[] } {
    const decoded = decodeBody(t, raw, contentType);
    ensureNamespace(t, decoded.obj, ns);
    this.admitCreate(t, decoded.obj);
    return decoded;
  }

  /** Re-decodes an object a webhook patched (the apiserver decodes the patched JSON into the type again). */
  redecode(t: ResourceType, o: unknown): Obj {
    try {
      return decodeObject(t, o).obj;
    } catch (e) {
      throw plainError(`${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: ${(e as Error).message}`);
    }
  }

  /** The second half of a create: what the registry does. With `dryRun` nothing is stored. */
  commitCreate(t: ResourceType, obj: Obj, dryRun: boolean, req?: RequestContext): Reply {
    return this.createObject(t, obj, dryRun, req);
  }

  private createObject(t: ResourceType, obj: Obj, dryRun = false, req?: RequestContext): Reply {
    this.admitCreate(t, obj);
    const m = meta(obj);
    // rest.BeforeCreate: wipe what clients may not set, generate a name, then validate.
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.generation;
    if (!m.name && m.generateName) m.name = this.generateName(t, m.namespace, m.generateName as string);
    if (t.resource === 'namespaces') {
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      applyDefaults('namespaces', obj);
    }
    const errs = validateCreate(t.resource, obj);
    if (errs.length) throw invalid({ group: t.group, kind: t.kind }, m.name ?? '', errs);
    const warnings = this.admitPolicies(req, t, 'CREATE', obj, null);
    // etcd3 store refuses objects that carry a resourceVersion (a plain error → 500).
    if (m.resourceVersion) throw plainError('resourceVersion should not be set on objects to be created');
    if (this.store.get(t.resource, m.namespace, m.name as string)) throw alreadyExists(gr(t), m.name as string);
    delete m.uid;
    delete m.creationTimestamp;
    if (dryRun) {
      // A dry run goes through every step but storage; the answer has what storage would have filled.
      const preview = canonical(t, obj);
      const pm = preview.metadata;
      pm.uid = randomUUID();
      pm.creationTimestamp = nowTimestamp();
      return { status: 201, body: output(t, canonical(t, preview)), warnings };
    }
    return { status: 201, body: output(t, this.store.put(t.resource, canonical(t, obj))), warnings };
  }

  /** names.SimpleNameGenerator: prefix + 5 random characters from a vowel-free alphabet. */
  private generateName(t: ResourceType, ns: unknown, prefix: string): string {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    for (;;) {
      let name = prefix.slice(0, 58);
      for (let i = 0; i < 5; i++) name += alphabet[Math.floor(Math.random() * alphabet.length)];
      if (!this.store.get(t.resource, ns as string | undefined, name)) return name;
    }
  }

  // --- read -----------------------------------------------------------------------------------

  /** GET of one object. */
  get(t: ResourceType, ns: string | undefined, name: string): Reply {
    const o = this.store.get(t.resource, ns, name);
    if (!o) throw notFound(gr(t), name);
    return { status: 200, body: output(t, o) };
  }

  /** The objects a list/deletecollection selects (selector syntax and field label errors → 400). */
  private select(t: ResourceType, ns: string | undefined, q: ListQuery): Obj[] {
    const labels = parseLabelSelector(q.labelSelector ?? '');
    const fields = parseFieldSelector(q.fieldSelector ?? '');
    for (const term of fields.terms) {
      if (!(term.field in t.fields({ metadata: {} }))) throw badRequest(t.fieldLabelError(term.field));
    }
    return this.store
      .list(t.resource, ns)
      .filter((o) => labels((meta(o).labels ?? {}) as Record<string, string>) && fields.matches(t.fields(o)));
  }

  /** GET of a collection, with selectors and limit/continue paging. */
  list(t: ResourceType, ns: string | undefined, q: ListQuery): Reply {
    let items = this.select(t, ns, q);
    const listMeta: Json = { resourceVersion: this.store.resourceVersion };
    if (q.continue) {
      let after: string;
      try {
        after = (JSON.parse(Buffer.from(q.continue, 'base64url').toString()) as { after: string }).after;
        if (typeof after !== 'string') throw new Error('bad');
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      items = items.filter((o) => keyOf(o) > after);
    }
    const limit = Number(q.limit ?? 0);
    if (limit > 0 && items.length > limit) {
      const rest = items.length - limit;
      items = items.slice(0, limit);
      listMeta.continue = Buffer.from(JSON.stringify({ after: keyOf(items[limit - 1] as Obj) })).toString('base64url');
      if (!q.labelSelector && !q.fieldSelector) listMeta.remainingItemCount = rest;
    }
    return {
      status: 200,
      body: {
        kind: `${t.kind}List`,
        apiVersion: apiVersionOf(t),
        metadata: listMeta,
        items: items.map((o) => clone(o)),
      },
    };
  }

  // --- update ---------------------------------------------------------------------------------

  /** PUT of one object. */
  update(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    raw: string,
    contentType: string | undefined,
    req?: RequestContext,
  ): Reply {
    const { obj, warnings } = decodeBody(t, raw, contentType);
    checkName(obj, name);
    ensureNamespace(t, obj, ns);
    const existing = this.store.get(t.resource, ns, name);
    if (!existing) {
      if (!t.allowCreateOnUpdate) throw notFound(gr(t), name);
      const created = this.createObject(t, obj, req?.dryRun, req);
      return { ...created, warnings: [...warnings, ...(created.warnings ?? [])] };
    }
    const updated = this.commitUpdate(t, existing, obj, req);
    return { ...updated, warnings: [...warnings, ...(updated.warnings ?? [])] };
  }

  /** PATCH of one object. */
  patch(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    raw: string,
    contentType: string | undefined,
    req?: RequestContext,
  ): Reply {
    const type = (contentType ?? '').split(';')[0]?.trim() ?? '';
    if (!PATCH_TYPES.includes(type)) applyPatch(type, raw, {}, t.schema); // throws the 415
    const existing = this.store.get(t.resource, ns, name);
    if (!existing) throw notFound(gr(t), name);
    const patched = applyPatch(type, raw, output(t, existing), t.schema);
    let decoded: { obj: Obj; warnings: string[] };
    try {
      decoded = decodeObject(t, patched);
    } catch (e) {
      if (e instanceof DecodeError || e instanceof Base64Error) {
        // jsonPatcher: NewInvalid(schema.GroupKind{}, "", field.Invalid("patch", patchedJS, err)).
        throw invalid({ group: '', kind: '' }, '', [fe.invalid('patch', JSON.stringify(patched), e.message)]);
      }
      throw e;
    }
    ensureNamespace(t, decoded.obj, ns);
    checkName(decoded.obj, name);
    const updated = this.commitUpdate(t, existing, decoded.obj, req);
    return { ...updated, warnings: [...decoded.warnings, ...(updated.warnings ?? [])] };
  }

  /** The storage half of update/patch: preconditions, strategy, validation, no-op detection. */
  private commitUpdate(t: ResourceType, existing: Obj, next: Obj, req?: RequestContext): Reply {
    const om = existing.metadata;
    const nm = meta(next);
    const name = om.name as string;
    if (nm.uid && nm.uid !== om.uid) {
      throw conflict(
        gr(t),
        name,
        `Precondition failed: UID in precondition: ${String(nm.uid)}, UID in object meta: ${String(om.uid)}`,
      );
    }
    if (nm.resourceVersion && nm.resourceVersion !== om.resourceVersion)
      throw conflict(gr(t), name, OPTIMISTIC_LOCK_MSG);
    // rest.BeforeUpdate: system fields cannot change through an update.
    for (const k of [
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'resourceVersion',
    ]) {
      if (om[k] === undefined) delete nm[k];
      else nm[k] = om[k];
    }
    if (t.resource === 'namespaces') {
      // Namespace PrepareForUpdate keeps spec.finalizers and status (they have their own subresources).
      next.spec = clone(existing.spec);
      next.status = clone(existing.status);
    }
    const errs = validateUpdate(t.resource, next, existing);
    if (errs.length) throw invalid({ group: t.group, kind: t.kind }, name, errs);
    // Admission runs inside the storage update, before the no-op check, so no-op updates are admitted too.
    const warnings = this.admitPolicies(req, t, 'UPDATE', next, existing);
    if (isDeepStrictEqual(next, existing)) return { status: 200, body: output(t, existing), warnings };
    if (req?.dryRun) return { status: 200, body: output(t, canonical(t, next)), warnings };
    delete nm.resourceVersion;
    const stored = this.store.put(t.resource, canonical(t, next));
    if (om.deletionTimestamp && !((nm.finalizers as string[] | undefined) ?? []).length) {
      // The last finalizer of an object being deleted is gone: the object goes away now.
      this.removeObject(t, stored);
    }
    return { status: 200, body: output(t, stored), warnings };
  }

  // --- delete ---------------------------------------------------------------------------------

  /** DELETE of one object; `raw` may carry DeleteOptions with preconditions. */
  delete(t: ResourceType, ns: string | undefined, name: string, raw: string, req?: RequestContext): Reply {
    const existing = this.store.get(t.resource, ns, name);
    if (!existing) throw notFound(gr(t), name);
    const pre = raw.trim() ? (((parseObjectBody(t, raw, 'application/json') as Json).preconditions ?? {}) as Json) : {};
    const m = existing.metadata;
    if (pre.uid !== undefined && pre.uid !== null && pre.uid !== m.uid) {
      throw conflict(
        gr(t),
        name,
        `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${String(m.uid)}`,
      );
    }
    if (
      pre.resourceVersion !== undefined &&
      pre.resourceVersion !== null &&
      pre.resourceVersion !== m.resourceVersion
    ) {
      throw conflict(
        gr(t),
        name,
        `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in meta: ${String(m.resourceVersion)}`,
      );
    }
    return this.deleteObject(t, existing, req);
  }

  private deleteObject(t: ResourceType, existing: Obj, req?: RequestContext): Reply {
    const warnings = this.admitPolicies(req, t, 'DELETE', null, existing);
    if (req?.dryRun) {
      // What the delete would answer, with nothing changed: the object while finalizers hold it, else Success.
      const m = existing.metadata;
      const held = t.resource === 'namespaces' || ((m.finalizers as string[] | undefined) ?? []).length > 0;
      if (held) return { status: 200, body: output(t, existing), warnings };
      return { status: 200, body: successStatus(t, existing), warnings };
    }
    const reply = this.deleteAdmitted(t, existing);
    return { ...reply, warnings };
  }

  private deleteAdmitted(t: ResourceType, existing: Obj): Reply {
    const m = existing.metadata;
    const name = m.name as string;
    if (t.resource === 'namespaces') {
      // namespace REST.Delete: the first DELETE starts termination; later ones conflict until finalized.
      if (!m.deletionTimestamp) return { status: 200, body: output(t, this.markTerminating(existing)) };
      if (((existing.spec as Json | undefined)?.finalizers as string[] | undefined)?.length) {
        throw conflict(
          { group: '', resource: 'namespaces' },
          name,
          'The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
        );
      }
      this.removeObject(t, existing);
      return { status: 200, body: output(t, existing) };
    }
    if (((m.finalizers as string[] | undefined) ?? []).length) {
      // Graceful deletion pending on finalizers: the object stays, marked for deletion.
      if (m.deletionTimestamp) return { status: 200, body: output(t, existing) };
      const next = clone(existing);
      next.metadata.deletionTimestamp = nowTimestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      return { status: 200, body: output(t, this.store.put(t.resource, next)) };
    }
    this.removeObject(t, existing);
    return { status: 200, body: successStatus(t, existing) };
  }

  /** DELETE of a collection: deletes what the selectors match, answers with the deleted objects. */
  deleteCollection(t: ResourceType, ns: string | undefined, q: ListQuery, req?: RequestContext): Reply {
    const warnings: string[] = [];
    const items = this.select(t, ns, q).map((o) => {
      const reply = this.deleteObject(t, o, req);
      warnings.push(...(reply.warnings ?? []));
      const r = reply.body as Json;
      const { kind: _k, apiVersion: _a, ...rest } = r.kind === 'Status' ? output(t, o) : r;
      return rest;
    });
    return {
      status: 200,
      body: {
        kind: `${t.kind}List`,
        apiVersion: apiVersionOf(t),
        metadata: { resourceVersion: this.store.resourceVersion },
        items,
      },
      warnings,
    };
  }

  /** Sets deletionTimestamp and phase Terminating on a namespace (first DELETE of a namespace). */
  markTerminating(ns: Obj): Obj {
    const next = clone(ns);
    next.metadata.deletionTimestamp ??= nowTimestamp();
    next.status = { ...((next.status ?? {}) as Json), phase: 'Terminating' };
    return this.store.put('namespaces', next);
  }

  private removeObject(t: ResourceType, o: Obj): void {
    const m = o.metadata;
    this.store.remove(t.resource, m.namespace as string | undefined, m.name as string);
  }

  /** Removes a namespace and everything in it (what the namespace controller does before finalizing). */
  finalizeNamespace(name: string): void {
    for (const t of Object.values(RESOURCES)) {
      if (!t.namespaced) continue;
      for (const o of this.store.list(t.resource, name)) this.removeObject(t, o);
    }
    this.store.remove('namespaces', undefined, name);
  }

  // --- direct store access ----------------------------------------------------------------------

  /** seed(): normalizes and defaults like a create would, but skips validation and admission. */
  seed(kind: KubeKind, input: object): Json {
    const t = RESOURCES[kind];
    const { obj } = decodeObject(t, clone(input));
    const m = meta(obj);
    if (!m.name) throw new Error(`seed(${kind}): metadata.name is required`);
    if (t.namespaced && !m.namespace) throw new Error(`seed(${kind}): metadata.namespace is required`);
    if (!t.namespaced) delete m.namespace;
    if (kind === 'namespaces') {
      obj.spec = (obj.spec as Json | undefined)?.finalizers ? obj.spec : { finalizers: ['kubernetes'] };
      obj.status = (obj.status as Json | undefined)?.phase ? obj.status : { phase: 'Active' };
    }
    delete m.resourceVersion;
    return output(t, this.store.put(kind, canonical(t, obj)));
  }

  // --- virtual resources ----------------------------------------------------------------------

  /** POST serviceaccounts/{name}/token (authentication.k8s.io/v1 TokenRequest). */
  tokenRequest(ns: string, name: string, raw: string, contentType: string | undefined): Reply {
    const sa = this.store.get('serviceaccounts', ns, name);
    if (!sa) throw notFound({ group: '', resource: 'serviceaccounts' }, name);
    const body = (raw.trim() ? parseObjectBody(RESOURCES.serviceaccounts, raw, contentType) : {}) as Json;
    const spec = ((body?.spec ?? {}) as Json) ?? {};
    const seconds = (spec.expirationSeconds as number | undefined) ?? 3600;
    const tokenKind = { group: 'authentication.k8s.io', kind: 'TokenRequest' };
    if (seconds < 600)
      throw invalid(tokenKind, '', [
        fe.invalid('spec.expirationSeconds', seconds, 'may not specify a duration less than 10 minutes'),
      ]);
    if (seconds > 2 ** 32)
      throw invalid(tokenKind, '', [
        fe.invalid('spec.expirationSeconds', seconds, 'may not specify a duration larger than 2^32 seconds'),
      ]);
    const audiences = ((spec.audiences as string[] | undefined) ?? []).length
      ? (spec.audiences as string[])
      : [DEFAULT_AUDIENCE];
    const { token, expires } = this.auth.mint(ns, name, sa.metadata.uid as string, seconds, audiences);
    return {
      status: 201,
      body: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { name, namespace: ns, creationTimestamp: null },
        spec: { audiences, expirationSeconds: seconds, boundObjectRef: spec.boundObjectRef ?? null },
        status: { token, expirationTimestamp: expires.toISOString().replace(/\.\d{3}Z$/, 'Z') },
      },
    };
  }

  /** POST selfsubjectaccessreviews: the caller's own authorization decision. */
  selfSubjectAccessReview(user: UserInfo, raw: string, contentType: string | undefined): Reply {
    const body = parseObjectBody(RESOURCES.clusterroles, raw, contentType) as Json;
    const spec = ((body?.spec ?? {}) as Json) ?? {};
    const ra = spec.resourceAttributes as Json | undefined;
    const nra = spec.nonResourceAttributes as Json | undefined;
    const kind = { group: 'authorization.k8s.io', kind: 'SelfSubjectAccessReview' };
    if (ra && nra)
      throw invalid(kind, '', [
        fe.invalid('spec.nonResourceAttributes', nra, 'cannot be specified in combination with resourceAttributes'),
      ]);
    if (!ra && !nra)
      throw invalid(kind, '', [
        fe.required(
          'spec.resourceAttributes',
          'exactly one of nonResourceAttributes or resourceAttributes must be specified',
        ),
      ]);
    const s = (k: string, src: Json | undefined) => (src?.[k] as string | undefined) ?? '';
    const attrs: Attributes = {
      user,
      verb: s('verb', ra ?? nra),
      resourceRequest: !!ra,
      path: s('path', nra),
      apiGroup: s('group', ra),
      apiVersion: s('version', ra),
      resource: s('resource', ra),
      subresource: s('subresource', ra),
      namespace: s('namespace', ra),
      name: s('name', ra),
    };
    const d = authorize(this.store, attrs);
    return {
      status: 201,
      body: {
        kind: 'SelfSubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec,
        status: { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) },
      },
    };
  }
}

/** The Status a DELETE answers when the object is gone at once. */
function successStatus(t: ResourceType, o: Obj): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: o.metadata.name, ...(t.group ? { group: t.group } : {}), kind: t.resource, uid: o.metadata.uid },
  };
}

/** The etcd key order (namespace/name) used for paging. */
function keyOf(o: Obj): string {
  const m = o.metadata;
  return m.namespace ? `${String(m.namespace)}/${String(m.name)}` : String(m.name);
}
