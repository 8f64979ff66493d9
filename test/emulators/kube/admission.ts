/**
 * The MutatingAdmissionWebhook plugin, for creates: which webhooks are called (rules, namespaceSelector,
 * objectSelector), the AdmissionReview v1 round trip over HTTPS (clientConfig.url + caBundle), the
 * response checks, JSONPatch application, failurePolicy on call errors and timeouts, and dry run.
 *
 * Sources (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook):
 *  - mutating/dispatcher.go: Dispatch (order, failurePolicy: Ignore → continue, Fail → InternalError),
 *    callAttrMutatingHook (dry run needs sideEffects None/NoneOnDryRun, else NewDryRunUnsupportedErr → 400;
 *    timeoutSeconds as the call's deadline and `?timeout=Ns`; invalid response / undecodable patch are
 *    call failures; allowed=false → ErrWebhookRejection, never subject to failurePolicy).
 *  - request/admissionreview.go: CreateAdmissionObjects (request fields), VerifyAdmissionResponse
 *    (apiVersion/kind, uid echo, patchType JSONPatch required with a patch).
 *  - generic/webhook.go: ShouldCallHook (rules, then namespaceSelector on the namespace's labels, then
 *    objectSelector); configuration/mutating_webhook_manager.go sorts configurations by name.
 *  - errors/statuserror.go: ToStatusErr (`admission webhook "x" denied the request: msg`, code < 400 → 400).
 */
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { ResourceType } from './kinds.js';
import { applyPatch } from './patch.js';
import type { UserInfo } from './rbac.js';
import { KubeStatusError, badRequest, generic, internalError } from './status.js';
import type { Obj, Store } from './store.js';

type Json = Record<string, unknown>;

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Webhook {
  name: string;
  clientConfig: { url?: string; caBundle?: string };
  rules?: {
    operations?: string[];
    apiGroups?: string[];
    apiVersions?: string[];
    resources?: string[];
    scope?: string;
  }[];
  failurePolicy: 'Ignore' | 'Fail';
  namespaceSelector?: Selector;
  objectSelector?: Selector;
  sideEffects?: string;
  timeoutSeconds: number;
}

/** metav1.LabelSelectorAsSelector semantics: an empty selector matches everything. */
export function selectorMatches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel?.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In'
        ? has && values.includes(value ?? '')
        : e.operator === 'NotIn'
          ? !has || !values.includes(value ?? '')
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

const anyOf = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);

/** The mutating admission step of one create request. */
export class MutatingAdmission {
  constructor(private readonly store: Store) {}

  /** Calls every matching webhook in order and returns the (possibly patched) object. */
  async admitCreate(t: ResourceType, obj: Obj, user: UserInfo, dryRun: boolean): Promise<Obj> {
    const configs = [...this.store.list('mutatingwebhookconfigurations')].sort((a, b) =>
      String(a.metadata.name).localeCompare(String(b.metadata.name)),
    );
    let current: Obj = obj;
    for (const config of configs) {
      for (const hook of ((config as Json).webhooks ?? []) as Webhook[]) {
        if (!this.shouldCall(hook, t, current)) continue;
        if (dryRun && hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') {
          throw badRequest(`admission webhook "${hook.name}" does not support dry run`);
        }
        let patched: Obj | undefined;
        try {
          patched = await this.call(hook, t, current, user, dryRun);
        } catch (e) {
          if (!(e instanceof CallError)) throw e;
          if (hook.failurePolicy === 'Ignore') continue;
          throw internalError(`failed calling webhook "${hook.name}": ${e.message}`);
        }
        if (patched) current = patched;
      }
    }
    return current;
  }

  private shouldCall(hook: Webhook, t: ResourceType, obj: Obj): boolean {
    const ruleMatch = (hook.rules ?? []).some(
      (r) =>
        anyOf(r.operations, 'CREATE') &&
        anyOf(r.apiGroups, t.group) &&
        anyOf(r.apiVersions, t.version) &&
        anyOf(r.resources, t.resource) &&
        (r.scope === undefined || r.scope === '*' || r.scope === (t.namespaced ? 'Namespaced' : 'Cluster')),
    );
    if (!ruleMatch) return false;
    const m = obj.metadata;
    // Namespaced objects match on their namespace's labels; a Namespace on its own; other cluster-scoped objects always.
    const nsLabels =
      t.resource === 'namespaces'
        ? ((m.labels ?? {}) as Record<string, string>)
        : t.namespaced
          ? ((this.store.get('namespaces', undefined, m.namespace as string)?.metadata.labels ?? {}) as Record<
              string,
              string
            >)
          : undefined;
    if (nsLabels && !selectorMatches(hook.namespaceSelector, nsLabels)) return false;
    return selectorMatches(hook.objectSelector, (m.labels ?? {}) as Record<string, string>);
  }

  /** One webhook call: the patched object, or undefined when the webhook left it alone. */
  private async call(
    hook: Webhook,
    t: ResourceType,
    obj: Obj,
    user: UserInfo,
    dryRun: boolean,
  ): Promise<Obj | undefined> {
    const uid = randomUUID();
    const m = obj.metadata;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const gvr = { group: t.group, version: t.version, resource: t.resource };
    const review = {
      kind: 'AdmissionReview',
      apiVersion: 'admission.k8s.io/v1',
      request: {
        uid,
        kind: gvk,
        resource: gvr,
        requestKind: gvk,
        requestResource: gvr,
        ...(m.name ? { name: m.name } : {}),
        ...(m.namespace ? { namespace: m.namespace } : {}),
        operation: 'CREATE',
        userInfo: { username: user.name, ...(user.groups.length ? { groups: user.groups } : {}) },
        object: { kind: t.kind, apiVersion: t.group ? `${t.group}/${t.version}` : t.version, ...obj },
        oldObject: null,
        dryRun,
        options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', ...(dryRun ? { dryRun: ['All'] } : {}) },
      },
    };
    const url = `${hook.clientConfig.url ?? ''}?timeout=${hook.timeoutSeconds}s`;
    const { status, body } = await post(
      url,
      JSON.stringify(review),
      hook.clientConfig.caBundle,
      hook.timeoutSeconds * 1000,
    );
    if (status < 200 || status > 299) {
      const e = generic(status);
      const message =
        status === 500
          ? `an error on the server ("${body.trim()}") has prevented the request from succeeding`
          : e.message;
      throw new CallError(`failed to call webhook: ${message}`);
    }
    let answer: Json;
    try {
      answer = JSON.parse(body) as Json;
    } catch (e) {
      throw new CallError(`failed to call webhook: ${(e as Error).message}`);
    }
    const invalid = (why: string) => new CallError(`received invalid webhook response: ${why}`);
    if (answer.apiVersion !== 'admission.k8s.io/v1' || answer.kind !== 'AdmissionReview') {
      throw invalid(
        `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${String(answer.apiVersion)}, Kind=${String(answer.kind)}`,
      );
    }
    const response = answer.response as Json | undefined;
    if (!response) throw invalid('webhook response was absent');
    if (response.uid !== uid) throw invalid(`expected response.uid="${uid}", got "${String(response.uid)}"`);
    if (response.allowed !== true) {
      const result = (response.status ?? {}) as { code?: number; message?: string };
      const code = !result.code || result.code < 400 ? 400 : result.code;
      const denied = `admission webhook "${hook.name}" denied the request`;
      throw new KubeStatusError(
        code,
        code === 403 ? 'Forbidden' : 'BadRequest',
        result.message ? `${denied}: ${result.message}` : `${denied} without explanation`,
      );
    }
    const patch = response.patch as string | undefined;
    if (!patch) return undefined;
    if (response.patchType === undefined) throw invalid('webhook returned response.patch but not response.patchType');
    if (response.patchType !== 'JSONPatch')
      throw invalid(`webhook returned invalid response.patchType of "${String(response.patchType)}"`);
    const ops = Buffer.from(patch, 'base64').toString('utf8');
    try {
      if ((JSON.parse(ops) as unknown[]).length === 0) return undefined;
    } catch (e) {
      throw new CallError(`received undecodable patch in webhook response: ${(e as Error).message}`);
    }
    const current = { kind: t.kind, apiVersion: t.group ? `${t.group}/${t.version}` : t.version, ...obj } as Json;
    let out: Json;
    try {
      out = applyPatch('application/json-patch+json', ops, current, t.schema) as Json;
    } catch (e) {
      throw internalError(e instanceof KubeStatusError ? e.message : String(e));
    }
    delete out.kind;
    delete out.apiVersion;
    return out as Obj;
  }
}

/** A failure of the call itself (transport, status, invalid response): the one failurePolicy governs. */
class CallError extends Error {}

/** POSTs JSON with the webhook's CA (system roots when caBundle is empty) and a deadline. */
function post(
  url: string,
  body: string,
  caBundle: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new CallError(`failed to call webhook: Post "${url}": ${why}`));
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, */*',
          'content-length': Buffer.byteLength(body),
        },
        ...(caBundle ? { ca: Buffer.from(caBundle, 'base64').toString('utf8') } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => fail(e.message));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError' || e.name === 'TimeoutError') return fail('context deadline exceeded');
      if (e.code === 'ECONNREFUSED') return fail(`dial tcp ${new URL(url).host}: connect: connection refused`);
      if (
        e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
        e.code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
        e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
      ) {
        return fail('tls: failed to verify certificate: x509: certificate signed by unknown authority');
      }
      fail(e.message);
    });
    req.end(body);
  });
}
