/**
 * The ValidatingAdmissionPolicy admission plugin: which policies and bindings apply to a request, the CEL
 * evaluation of matchConditions, variables and validations, and the decision (Deny → Status error, Warn →
 * `Warning` header, Audit → audit annotation), with failurePolicy on evaluation errors.
 *
 * Sources (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/admission/plugin/):
 *  - policy/validating/dispatcher.go: Dispatch (bindings of a matching policy, validationActions, the Warn
 *    text `Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s`, the first denial
 *    becomes `admission.NewForbidden(a, "ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s")`
 *    with `Reason` = the validation's reason (default Invalid), code by reasonToCode (policy_decision.go:
 *    Forbidden 403, Unauthorized 401, RequestEntityTooLarge 413, Invalid 422) and the message as a cause).
 *  - policy/validating/validator.go: matchConditions first (false → no decision), then validations:
 *    error → failurePolicy (Ignore admits), not true → deny with messageExpression (trimmed, no newline,
 *    ≤ 5 KiB), else message, else `failed expression: <expr>`.
 *  - cel/filter.go: `expression '%v' resulted in error: %v`, `compilation error: %v`; request fields as
 *    CreateAdmissionRequest builds them; webhook/matchconditions/matcher.go: false wins, then errors.
 *  - policy/matching/matching.go + webhook/predicates/{rules,namespace,object}: namespaceSelector,
 *    objectSelector (object or oldObject labels), excludeResourceRules, resourceRules with resourceNames;
 *    rules.go IsExemptAdmissionConfigurationResource exempts the admission configuration kinds.
 */
import { randomUUID } from 'node:crypto';
import { Environment } from '@marcbachmann/cel-js';
import { selectorMatches } from './admission.js';
import type { ResourceType } from './kinds.js';
import type { UserInfo } from './rbac.js';
import { type FieldError, KubeStatusError, fe, forbidden } from './status.js';
import { type Obj, type Store, clone } from './store.js';

type Json = Record<string, unknown>;
type Selector = Parameters<typeof selectorMatches>[0];

/** What admission knows about one request (admission.Attributes). */
export interface AdmissionRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  t: ResourceType;
  /** The name from the URL (or the object's name on create; "" while generateName is pending). */
  name: string;
  namespace?: string;
  object: Obj | null;
  oldObject: Obj | null;
  user: UserInfo;
  dryRun: boolean;
}

/** An audit annotation the Audit action published. */
export interface AuditAnnotation {
  key: string;
  value: string;
}

interface NamedRule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  resourceNames?: string[];
  scope?: string;
}

interface MatchResources {
  namespaceSelector?: Selector;
  objectSelector?: Selector;
  resourceRules?: NamedRule[];
  excludeResourceRules?: NamedRule[];
  matchPolicy?: string;
}

interface Validation {
  expression: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
}

interface PolicySpec {
  paramKind?: unknown;
  matchConstraints?: MatchResources;
  validations?: Validation[];
  failurePolicy?: string;
  matchConditions?: { name: string; expression: string }[];
  variables?: { name: string; expression: string }[];
}

interface BindingSpec {
  policyName?: string;
  paramRef?: unknown;
  matchResources?: MatchResources;
  validationActions?: string[];
}

/** CEL with the Kubernetes environment's options and the library functions a policy for acr-fleet uses. */
const env = new Environment({
  unlistedVariablesAreDyn: true,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
})
  // k8s.io/apiserver/pkg/cel/library/lists.go and regex.go (cel-js has the strings extension and the macros).
  .registerFunction('list.isSorted(): bool', (l: unknown[]) =>
    l.every((v, i) => i === 0 || (l[i - 1] as number) <= (v as number)),
  )
  .registerFunction('list.indexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.indexOf(x)))
  .registerFunction('list.lastIndexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.lastIndexOf(x)))
  .registerFunction('string.find(string): string', (s: string, re: string) => new RegExp(re).exec(s)?.[0] ?? '')
  .registerFunction('string.findAll(string): list<string>', (s: string, re: string) =>
    [...s.matchAll(new RegExp(re, 'g'))].map((m) => m[0]),
  );

type Compiled = ((ctx: Json) => unknown) | { error: string };

const compiled = new Map<string, Compiled>();

/** Parses once per expression text; a parse error is kept as the compilation error. */
function compile(expression: string): Compiled {
  let c = compiled.get(expression);
  if (!c) {
    try {
      c = env.parse(expression) as unknown as (ctx: Json) => unknown;
    } catch (e) {
      c = { error: (e as Error).message.split('\n')[0] ?? '' };
    }
    compiled.set(expression, c);
  }
  return c;
}

/** cel/filter.go ForInput for one expression: the value, or the error text the apiserver reports. */
function evaluate(expression: string, ctx: Json): { value?: unknown; error?: string } {
  const c = compile(expression);
  if (typeof c !== 'function') return { error: `compilation error: ${c.error}` };
  try {
    return { value: c(ctx) };
  } catch (e) {
    return { error: `expression '${expression}' resulted in error: ${(e as Error).message.split('\n')[0] ?? ''}` };
  }
}

/** Unstructured JSON as CEL sees it: integers are int64 (bigint), other numbers double. */
function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

const anyOf = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);

/** predicates/rules/rules.go Matches plus matching.go's resourceNames check. */
function ruleMatches(r: NamedRule, a: AdmissionRequest): boolean {
  const isNamespace = a.t.resource === 'namespaces';
  const scope =
    !r.scope ||
    r.scope === '*' ||
    (r.scope === 'Namespaced' ? !isNamespace && !!a.namespace : isNamespace || !a.namespace);
  const resource = (r.resources ?? []).some((x) => {
    const [res, sub = ''] = x.split('/', 2);
    return (res === '*' || res === a.t.resource) && (sub === '*' || sub === '');
  });
  if (!(scope && anyOf(r.operations, a.operation) && anyOf(r.apiGroups, a.t.group))) return false;
  if (!(anyOf(r.apiVersions, a.t.version) && resource)) return false;
  return !r.resourceNames?.length || r.resourceNames.includes(a.name);
}

/** The policy plugin of one emulator. */
export class PolicyAdmission {
  /** Annotations published by bindings with the Audit action, in order. */
  readonly audit: AuditAnnotation[] = [];

  constructor(private readonly store: Store) {}

  private labelsOf(o: Obj | null): Record<string, string> | undefined {
    return o ? ((o.metadata.labels ?? {}) as Record<string, string>) : undefined;
  }

  /** matching.go Matches: namespaceSelector, objectSelector, excludeResourceRules, resourceRules. */
  private matches(m: MatchResources | undefined, a: AdmissionRequest): boolean {
    if (!m) return true;
    // namespace/matcher.go: cluster-scoped objects always match; a Namespace matches on its own labels.
    const ns =
      a.t.resource === 'namespaces'
        ? (this.labelsOf(a.object) ?? this.labelsOf(a.oldObject))
        : a.namespace
          ? this.labelsOf(this.store.get('namespaces', undefined, a.namespace) ?? null)
          : undefined;
    if (ns && !selectorMatches(m.namespaceSelector, ns)) return false;
    // object/matcher.go: the object's or the old object's labels.
    const objectOk = [a.object, a.oldObject].some(
      (o) => o && selectorMatches(m.objectSelector, this.labelsOf(o) ?? {}),
    );
    if (!objectOk) return false;
    if ((m.excludeResourceRules ?? []).some((r) => ruleMatches(r, a))) return false;
    // No resourceRules: every request (a binding then narrows nothing; a policy must have some).
    if (!m.resourceRules?.length) return true;
    // matchPolicy Equivalent adds equivalent resources of other versions; every served resource has one
    // version here (the policy kinds, the only ones with two, are exempt), so Exact and Equivalent agree.
    return m.resourceRules.some((r) => ruleMatches(r, a));
  }

  /**
   * Runs every policy on a request. Returns the warnings to send; throws the Status error of the first
   * denial. Admission configuration kinds are exempt, as on the real server.
   */
  validate(a: AdmissionRequest): string[] {
    if (a.t.group === 'admissionregistration.k8s.io') return [];
    const policies = [...this.store.list('validatingadmissionpolicies')].sort((x, y) =>
      String(x.metadata.name).localeCompare(String(y.metadata.name)),
    );
    if (!policies.length) return [];
    const bindings = [...this.store.list('validatingadmissionpolicybindings')].sort((x, y) =>
      String(x.metadata.name).localeCompare(String(y.metadata.name)),
    );
    const warnings: string[] = [];
    const denied: { policy: string; binding: string; message: string; reason: string }[] = [];
    let request: Json | undefined;
    for (const policy of policies) {
      const spec = (policy.spec ?? {}) as PolicySpec;
      const policyName = String(policy.metadata.name);
      if (!this.matches(spec.matchConstraints, a)) continue;
      const fail = spec.failurePolicy !== 'Ignore';
      for (const binding of bindings) {
        const bspec = (binding.spec ?? {}) as BindingSpec;
        if (bspec.policyName !== policyName) continue;
        const bindingName = String(binding.metadata.name);
        if (!this.matches(bspec.matchResources, a)) continue;
        if (spec.paramKind || bspec.paramRef) {
          // Not emulated: parameter resources. Reported like a binding configuration error.
          if (fail)
            denied.push({
              policy: policyName,
              binding: bindingName,
              message: 'failed to configure binding: paramKind/paramRef are not supported by the emulator',
              reason: 'Invalid',
            });
          continue;
        }
        request ??= this.request(a);
        for (const d of this.decide(spec, a, request, fail)) {
          for (const action of bspec.validationActions ?? []) {
            if (action === 'Deny') denied.push({ policy: policyName, binding: bindingName, ...d });
            else if (action === 'Warn')
              warnings.push(
                `Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${bindingName}': ${d.message}`,
              );
            else if (action === 'Audit')
              this.audit.push({
                key: 'validation.policy.admission.k8s.io/validation_failure',
                value: JSON.stringify([
                  {
                    message: d.message,
                    policy: policyName,
                    binding: bindingName,
                    expressionIndex: d.index,
                    validationActions: bspec.validationActions,
                  },
                ]),
              });
          }
        }
      }
    }
    const first = denied[0];
    if (first) {
      const message = `ValidatingAdmissionPolicy '${first.policy}' with binding '${first.binding}' denied request: ${first.message}`;
      // admission.NewForbidden: the name from the request, else the object's name or generateName, else "Unknown".
      const m = (a.object ?? a.oldObject)?.metadata;
      const name = a.name || (m?.name as string) || (m?.generateName as string) || 'Unknown';
      const e = forbidden({ group: a.t.group, resource: a.t.resource }, name, message);
      const code = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413 }[first.reason] ?? 422;
      throw new KubeStatusError(code, first.reason, e.message, { ...e.details, causes: [{ message }] });
    }
    return warnings;
  }

  /** validator.go Validate for one binding: the failing decisions (deny), each with message and reason. */
  private decide(
    spec: PolicySpec,
    a: AdmissionRequest,
    request: Json,
    fail: boolean,
  ): { message: string; reason: string; index: number }[] {
    const ctx: Json = {
      object: toCel(a.object && { kind: a.t.kind, apiVersion: apiVersion(a.t), ...a.object }),
      oldObject: toCel(a.oldObject && { kind: a.t.kind, apiVersion: apiVersion(a.t), ...a.oldObject }),
      request,
      params: null,
      namespaceObject: this.namespaceObject(a),
    };
    // Variables are evaluated lazily, on first use, and at most once (cel/composition.go).
    const variables: Json = {};
    for (const v of spec.variables ?? []) {
      let cached: { value?: unknown; error?: string } | undefined;
      Object.defineProperty(variables, v.name, {
        enumerable: true,
        get() {
          cached ??= evaluate(v.expression, ctx);
          if (cached.error) throw new Error(cached.error);
          return cached.value;
        },
      });
    }
    ctx.variables = variables;
    const errors: string[] = [];
    for (const c of spec.matchConditions ?? []) {
      const r = evaluate(c.expression, ctx);
      if (r.error) errors.push(r.error);
      else if (r.value === false) return [];
    }
    if (errors.length) {
      if (!fail) return [];
      return [{ message: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`, reason: 'Invalid', index: 0 }];
    }
    const out: { message: string; reason: string; index: number }[] = [];
    (spec.validations ?? []).forEach((v, index) => {
      const r = evaluate(v.expression, ctx);
      if (r.error) {
        if (fail) out.push({ message: r.error, reason: 'Invalid', index });
        return;
      }
      if (r.value === true) return;
      let message = '';
      if (v.messageExpression) {
        const m = evaluate(v.messageExpression, ctx);
        if (typeof m.value === 'string') {
          message = m.value.trim();
          if (Buffer.byteLength(message) > 5 * 1024 || message.includes('\n')) message = '';
        }
      }
      if (!message && v.message) message = v.message.trim();
      if (!message) message = `failed expression: ${v.expression.trim()}`;
      out.push({ message, reason: v.reason ?? 'Invalid', index });
    });
    return out;
  }

  /** cel.CreateAdmissionRequest as unstructured JSON (omitempty fields dropped). */
  private request(a: AdmissionRequest): Json {
    const gvk = { group: a.t.group, version: a.t.version, kind: a.t.kind };
    const gvr = { group: a.t.group, version: a.t.version, resource: a.t.resource };
    const options =
      a.operation === 'CREATE' ? 'CreateOptions' : a.operation === 'UPDATE' ? 'UpdateOptions' : 'DeleteOptions';
    return toCel({
      uid: randomUUID(),
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      ...(a.name ? { name: a.name } : {}),
      ...(a.namespace ? { namespace: a.namespace } : {}),
      operation: a.operation,
      userInfo: { username: a.user.name, ...(a.user.groups.length ? { groups: a.user.groups } : {}) },
      dryRun: a.dryRun,
      options: { kind: options, apiVersion: 'meta.k8s.io/v1', ...(a.dryRun ? { dryRun: ['All'] } : {}) },
    }) as Json;
  }

  /** cel.CreateNamespaceObject: null for cluster-scoped objects and for Namespaces themselves. */
  private namespaceObject(a: AdmissionRequest): unknown {
    if (!a.namespace || a.t.resource === 'namespaces') return null;
    const ns = this.store.get('namespaces', undefined, a.namespace);
    if (!ns) return null;
    const { managedFields: _m, ownerReferences: _o, ...metadata } = clone(ns.metadata);
    return toCel({ metadata, spec: ns.spec, status: ns.status });
  }
}

const apiVersion = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

const REASONS = ['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge'];

/** The parts of ValidateValidatingAdmissionPolicy(Binding) the emulator relies on, CEL parse errors included. */
export function validatePolicyObject(
  kind: 'validatingadmissionpolicies' | 'validatingadmissionpolicybindings',
  o: Json,
): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (o.spec ?? {}) as PolicySpec & BindingSpec & { auditAnnotations?: unknown[] };
  const expr = (path: string, e: string | undefined) => {
    if (!e) return errs.push(fe.required(path));
    const c = compile(e);
    if (typeof c !== 'function') errs.push(fe.invalid(path, e, `compilation failed: ${c.error}`));
  };
  if (kind === 'validatingadmissionpolicybindings') {
    if (!spec.policyName) errs.push(fe.required('spec.policyName'));
    const actions = spec.validationActions ?? [];
    if (!actions.length) errs.push(fe.required('spec.validationActions', 'at least one validation action is required'));
    actions.forEach((v, i) => {
      if (!['Deny', 'Warn', 'Audit'].includes(v))
        errs.push(fe.notSupported(`spec.validationActions[${i}]`, v, ['Audit', 'Deny', 'Warn']));
    });
    if (actions.includes('Deny') && actions.includes('Warn'))
      errs.push(
        fe.invalid(
          'spec.validationActions',
          actions,
          'must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)',
        ),
      );
    return errs;
  }
  if (!spec.validations?.length && !spec.auditAnnotations?.length)
    errs.push(fe.required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
  if (spec.failurePolicy !== undefined && !['Fail', 'Ignore'].includes(spec.failurePolicy))
    errs.push(fe.notSupported('spec.failurePolicy', spec.failurePolicy, ['Fail', 'Ignore']));
  if (!spec.matchConstraints?.resourceRules?.length) errs.push(fe.required('spec.matchConstraints.resourceRules'));
  (spec.validations ?? []).forEach((v, i) => {
    expr(`spec.validations[${i}].expression`, v.expression);
    if (v.messageExpression) expr(`spec.validations[${i}].messageExpression`, v.messageExpression);
    if (v.reason !== undefined && !REASONS.includes(v.reason))
      errs.push(fe.notSupported(`spec.validations[${i}].reason`, v.reason, REASONS));
  });
  (spec.matchConditions ?? []).forEach((c, i) => expr(`spec.matchConditions[${i}].expression`, c.expression));
  (spec.variables ?? []).forEach((c, i) => expr(`spec.variables[${i}].expression`, c.expression));
  return errs;
}
