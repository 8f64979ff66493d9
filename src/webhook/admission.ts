/**
 * AdmissionReview v1 (admission.k8s.io/v1), the pure part of the webhook: which requests it acts on
 * and the JSONPatch that appends the Secret to a ServiceAccount's imagePullSecrets. No I/O.
 */
import { selectsServiceAccount, watchesNamespace, type SelectionSettings } from '../reconcile/selection.js';

/** The fields of an AdmissionRequest the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  operation?: string;
  dryRun?: boolean;
  object?: {
    metadata?: { name?: string; namespace?: string; generateName?: string };
    imagePullSecrets?: { name?: string }[] | null;
  };
}

/** An AdmissionReview as the API server sends it. */
export interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request?: AdmissionRequest;
}

/** One JSONPatch (RFC 6902) operation. */
export interface PatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

/** What to do with a request: nothing, or inject the Secret into a ServiceAccount. */
export type Decision = { act: false; why: string } | { act: true; namespace: string; name: string };

/** Parses a request body; undefined when it is not an AdmissionReview v1 with a request uid. */
export function parseReview(body: string): AdmissionReview | undefined {
  try {
    const r = JSON.parse(body) as AdmissionReview;
    if (r?.apiVersion !== 'admission.k8s.io/v1' || r.kind !== 'AdmissionReview' || typeof r.request?.uid !== 'string')
      return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/** Whether a request is a ServiceAccount create the cluster's selection picks (the same rule as the planner's). */
export function decide(
  req: AdmissionRequest,
  settings: Pick<SelectionSettings, 'namespaces' | 'serviceAccounts'>,
): Decision {
  const k = req.kind;
  if (k?.group !== '' || k.version !== 'v1' || k.kind !== 'ServiceAccount')
    return { act: false, why: 'not a ServiceAccount' };
  if (req.operation !== 'CREATE') return { act: false, why: 'not a create' };
  const namespace = req.namespace ?? req.object?.metadata?.namespace ?? '';
  const name = req.object?.metadata?.name ?? '';
  if (!watchesNamespace(settings.namespaces, namespace)) return { act: false, why: 'namespace not watched' };
  // A generateName create has no name yet: only "*" can select it.
  if (!selectsServiceAccount(settings.serviceAccounts, name)) return { act: false, why: 'ServiceAccount not selected' };
  return { act: true, namespace, name };
}

/**
 * The patch appending `secret` after the entries already there. A missing or empty list is added whole
 * (`/imagePullSecrets/-` needs an existing array); an entry already present needs no patch.
 */
export function pullSecretPatch(object: AdmissionRequest['object'], secret: string): PatchOp[] {
  const list = object?.imagePullSecrets ?? [];
  if (list.some((e) => e?.name === secret)) return [];
  if (list.length === 0) return [{ op: 'add', path: '/imagePullSecrets', value: [{ name: secret }] }];
  return [{ op: 'add', path: '/imagePullSecrets/-', value: { name: secret } }];
}

/** The AdmissionReview answer: always allowed, with the patch when there is one. */
export function reviewResponse(
  uid: string,
  patch: PatchOp[] = [],
): AdmissionReview & { response: Record<string, unknown> } {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: true,
      ...(patch.length ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
    },
  };
}
