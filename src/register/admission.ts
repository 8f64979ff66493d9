/**
 * The admission fence at register time: which version of the policy API a cluster serves, and the proof that
 * the installed policy holds. The proof sends real requests as the acr-fleet identity with `?dryRun=All` (the
 * API server authorizes and admits them, and stores nothing): every attack a stolen kubeconfig would try must
 * be denied, and acr-fleet's own writes must still be admitted.
 */
import type { KubeSettings } from '../config/resolve.js';
import { AcrFleetError } from '../errors.js';
import { connectKubeconfigText, type KubeAdminClient } from '../kube/admin.js';
import { path as namespacedPath } from '../kube/client.js';
import {
  ADMISSION_GROUP,
  type AdmissionPolicyVersion,
  type AdmissionSettings,
  OPEN_WITHOUT_POLICY,
} from '../policy/admission.js';
import { IDENTITY, type RbacSettings } from '../policy/rbac.js';
import {
  DOCKERCONFIGJSON_TYPE,
  EXPIRES_AT_ANNOTATION,
  INPUTS_HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  REGISTRIES_ANNOTATION,
} from '../reconcile/state.js';

const POLICY_RESOURCES = ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'];

/** The newest version of admissionregistration.k8s.io that serves the policy kinds; undefined when none does. */
export async function servedPolicyVersion(admin: KubeAdminClient): Promise<AdmissionPolicyVersion | undefined> {
  const served = await admin.discoverGroup(ADMISSION_GROUP);
  return (['v1', 'v1beta1'] as const).find((v) =>
    POLICY_RESOURCES.every((r) => served.find((s) => s.version === v)?.resources.includes(r)),
  );
}

/** The one-line refusal of a server without the policy API, saying what would stay open. */
export function noPolicyApi(allowed: boolean): string {
  return allowed
    ? `not served (admissionregistration.k8s.io v1 or v1beta1, Kubernetes 1.28+), registering anyway (--allow-no-admission-policy): ${OPEN_WITHOUT_POLICY}`
    : `the server serves no ValidatingAdmissionPolicy (admissionregistration.k8s.io v1 or v1beta1, Kubernetes 1.28+); ${OPEN_WITHOUT_POLICY}; pass --allow-no-admission-policy to register anyway`;
}

/** One request of the proof and what the policy must answer. */
interface Proof {
  /** What the request tries, in words: `create a service-account-token Secret kube-system/x`. */
  what: string;
  expect: 'denied' | 'allowed';
  method: 'POST' | 'PATCH';
  path: string;
  body: unknown;
  contentType?: string;
}

/** The outcome of one proof, as register prints it. */
export interface ProofResult {
  what: string;
  outcome: 'denied by the admission policy' | 'denied by RBAC' | 'allowed';
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ourLabels = () => ({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
const ourAnnotations = () => ({
  [EXPIRES_AT_ANNOTATION]: new Date(0).toISOString(),
  [INPUTS_HASH_ANNOTATION]: 'admission-proof',
  [REGISTRIES_ANNOTATION]: 'admission-proof',
});
const dockerconfig = () => ({ '.dockerconfigjson': b64('{"auths":{}}') });

function secret(
  namespace: string,
  name: string,
  { metadata, ...rest }: { metadata: Record<string, unknown> } & Record<string, unknown>,
) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name, ...metadata }, ...rest };
}

/**
 * The proofs for a cluster: `namespace` is one acr-fleet writes to (undefined when there is none yet), `account`
 * a ServiceAccount the identity may patch (with its imagePullSecrets), else its own (RBAC may then deny).
 */
export function admissionProofs(
  s: AdmissionSettings,
  namespace: string | undefined,
  account: { namespace: string; name: string; imagePullSecrets: string[]; patchable: boolean },
): Proof[] {
  const name = s.secretNames[0] ?? '';
  const ns = namespace ?? 'default';
  const post = (what: string, expect: Proof['expect'], body: { metadata: { namespace: string } }): Proof => ({
    what,
    expect,
    method: 'POST',
    path: namespacedPath(body.metadata.namespace, 'secrets'),
    body,
  });
  const saPath = namespacedPath(account.namespace, 'serviceaccounts', account.name);
  const sa = `${account.namespace}/${account.name}`;
  const proofs: Proof[] = [
    post(
      `create a service-account-token Secret kube-system/${name}`,
      'denied',
      secret('kube-system', name, {
        metadata: {
          labels: ourLabels(),
          annotations: { ...ourAnnotations(), 'kubernetes.io/service-account.name': IDENTITY.name },
        },
        type: 'kubernetes.io/service-account-token',
      }),
    ),
    post(
      'create a bootstrap-token Secret kube-system/bootstrap-token-acrflt',
      'denied',
      secret('kube-system', 'bootstrap-token-acrflt', {
        metadata: { labels: ourLabels(), annotations: ourAnnotations() },
        type: 'bootstrap.kubernetes.io/token',
        data: { 'token-id': b64('acrflt'), 'token-secret': b64('0123456789abcdef') },
      }),
    ),
    post(
      `create a Secret of another name ${ns}/acr-fleet-admission-proof`,
      'denied',
      secret(ns, 'acr-fleet-admission-proof', {
        metadata: { labels: ourLabels(), annotations: ourAnnotations() },
        type: DOCKERCONFIGJSON_TYPE,
        data: dockerconfig(),
      }),
    ),
    post(
      `create a Secret without acr-fleet's label ${ns}/${name}`,
      'denied',
      secret(ns, name, {
        metadata: { annotations: ourAnnotations() },
        type: DOCKERCONFIGJSON_TYPE,
        data: dockerconfig(),
      }),
    ),
    {
      what: `set ownerReferences on ServiceAccount ${sa}`,
      expect: 'denied',
      method: 'PATCH',
      path: saPath,
      contentType: 'application/merge-patch+json',
      body: {
        metadata: {
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Namespace',
              name: account.namespace,
              uid: '00000000-0000-0000-0000-000000000000',
            },
          ],
        },
      },
    },
  ];
  if (namespace)
    proofs.push(
      post(
        `create acr-fleet's Secret ${namespace}/${name}`,
        'allowed',
        secret(namespace, name, {
          metadata: { labels: ourLabels(), annotations: ourAnnotations() },
          type: DOCKERCONFIGJSON_TYPE,
          data: dockerconfig(),
        }),
      ),
    );
  if (account.patchable)
    proofs.push({
      what: `add ${name} to the imagePullSecrets of ServiceAccount ${sa}`,
      expect: 'allowed',
      method: 'PATCH',
      path: saPath,
      contentType: 'application/merge-patch+json',
      body: {
        imagePullSecrets: [...new Set([...account.imagePullSecrets, name])].map((n) => ({ name: n })),
      },
    });
  return proofs;
}

/**
 * Proves the fence as the identity of `kubeconfig` (text): returns one result per proof, or throws naming every
 * forbidden request that was allowed and every allowed one that was denied.
 */
export async function proveAdmission(
  kubeconfig: string,
  s: AdmissionSettings,
  rbac: RbacSettings,
  kube: KubeSettings,
): Promise<ProofResult[]> {
  const identity = await connectKubeconfigText(kubeconfig, 'acr-fleet kubeconfig', kube);
  try {
    const [namespaces, accounts] = await Promise.all([identity.listNamespaces(), identity.listServiceAccounts()]);
    const live = namespaces.filter((n) => !n.terminating && !s.excludedNamespaces.includes(n.name)).map((n) => n.name);
    const selected = (name: string) => rbac.serviceAccounts === '*' || rbac.serviceAccounts.includes(name);
    const namespace = live.includes('default') ? 'default' : live[0];
    const account = accounts.find((a) => selected(a.name) && live.includes(a.namespace));
    const proofs = admissionProofs(
      s,
      namespace,
      account
        ? { ...account, patchable: true }
        : { namespace: IDENTITY.namespace, name: IDENTITY.name, imagePullSecrets: [], patchable: false },
    );
    const results = await Promise.all(
      proofs.map(async (p) => {
        const r = await identity.dryRunWrite({
          method: p.method,
          path: p.path,
          body: p.body,
          what: p.what,
          ...(p.contentType ? { contentType: p.contentType } : {}),
        });
        return { p, r };
      }),
    );
    const wrong = results.flatMap(({ p, r }) =>
      p.expect === 'denied' && r.allowed
        ? [`the identity may still ${p.what} (a dry-run request was allowed)`]
        : p.expect === 'allowed' && !r.allowed
          ? [`the identity may not ${p.what}, which acr-fleet needs: ${r.message}`]
          : [],
    );
    if (wrong.length) throw new AcrFleetError(wrong.join('; '));
    return results.map(({ p, r }) => ({
      what: p.what,
      outcome: r.allowed
        ? 'allowed'
        : r.message.includes('ValidatingAdmissionPolicy')
          ? 'denied by the admission policy'
          : 'denied by RBAC',
    }));
  } finally {
    identity.close();
  }
}
