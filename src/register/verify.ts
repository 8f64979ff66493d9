/**
 * Proof, at register time, that a cluster's acr-fleet identity can do its job and no more: access reviews
 * (SelfSubjectAccessReview) for every right its RBAC should and should not give, and real requests for what
 * a review cannot express (a list by field selector or by label selector).
 */
import { ACR_CONFIGURATION } from '../config/configmap.js';
import { AcrFleetError } from '../errors.js';
import type { KubeSettings } from '../config/resolve.js';
import { connectKubeconfigText, type AccessCheck, type KubeAdminClient, type SecretProbe } from '../kube/admin.js';
import type { ReadOptions } from '../kube/kubeconfig.js';
import type { RbacSettings } from '../policy/rbac.js';
import { OWNED_SELECTOR } from '../reconcile/state.js';

/** A Secret and ServiceAccount name no setting uses: what the identity must not reach. */
const PROBE_NAME = 'acr-fleet-access-probe';
/** Where per-namespace rights are reviewed (any namespace answers the same for a ClusterRole). */
const NS = 'default';

/** Every right a refresh needs, verb by verb, as access reviews. */
function neededChecks(s: RbacSettings): AccessCheck[] {
  const sa = s.serviceAccounts === '*' ? [undefined] : s.serviceAccounts;
  return [
    { verb: 'list', resource: 'namespaces' },
    // A review of a named list answers for the list by fieldSelector=metadata.name.
    ...s.secretNames.flatMap((name) => [
      { verb: 'list', resource: 'secrets', name },
      ...['get', 'update', 'delete'].map((verb) => ({ verb, resource: 'secrets', namespace: NS, name })),
    ]),
    // A real create carries no name, so neither does its review.
    { verb: 'create', resource: 'secrets', namespace: NS },
    { verb: 'list', resource: 'serviceaccounts' },
    ...sa.flatMap((name) =>
      ['get', 'patch'].map((verb) => ({ verb, resource: 'serviceaccounts', namespace: NS, ...(name ? { name } : {}) })),
    ),
    ...(s.configmap
      ? [{ verb: 'get', resource: 'configmaps', namespace: ACR_CONFIGURATION.namespace, name: ACR_CONFIGURATION.name }]
      : []),
  ];
}

/** Rights acr-fleet must not have, each with the words a warning uses. */
function excessChecks(s: RbacSettings): { check: AccessCheck; right: string }[] {
  return [
    { check: { verb: 'list', resource: 'secrets' }, right: 'list all Secrets' },
    { check: { verb: 'watch', resource: 'secrets' }, right: 'watch all Secrets' },
    {
      check: { verb: 'get', resource: 'secrets', namespace: 'kube-system', name: PROBE_NAME },
      right: `get other Secrets (kube-system/${PROBE_NAME})`,
    },
    {
      check: { verb: 'update', resource: 'secrets', namespace: NS, name: PROBE_NAME },
      right: `update other Secrets (${NS}/${PROBE_NAME})`,
    },
    ...(s.serviceAccounts === '*'
      ? []
      : [
          {
            check: { verb: 'patch', resource: 'serviceaccounts', namespace: NS, name: PROBE_NAME },
            right: `patch ServiceAccounts outside its selection (${NS}/${PROBE_NAME})`,
          },
        ]),
    { check: { verb: 'delete', resource: 'namespaces' }, right: 'delete namespaces' },
    { check: { verb: 'create', resource: 'clusterrolebindings' }, right: 'create clusterrolebindings' },
  ];
}

/**
 * Checks the identity of `kubeconfig` (text) against the settings' RBAC. Throws naming every missing right;
 * returns the rights it has beyond them (someone bound more to it: register refuses to store it).
 */
export async function verifyIdentity(
  kubeconfig: string,
  s: RbacSettings,
  kube: KubeSettings,
  read: ReadOptions = {},
): Promise<string[]> {
  // The adapter a refresh uses, reading as it reads: proves the server address, CA and token work together.
  const identity = await connectKubeconfigText(kubeconfig, 'acr-fleet kubeconfig', kube, read);
  try {
    return await verifyAs(identity, s);
  } finally {
    identity.close();
  }
}

async function verifyAs(identity: KubeAdminClient, s: RbacSettings): Promise<string[]> {
  const needed = neededChecks(s);
  const excess = excessChecks(s);
  const reviews = await identity.reviewAccess([...needed, ...excess.map((e) => e.check)]);
  const denied = reviews
    .slice(0, needed.length)
    .filter((r) => !r.allowed)
    .map((r) => show(r.check));
  if (denied.length) throw missing(denied);
  // Real requests: the job's lists must work; a list by label and a get of another Secret must be refused.
  const jobProbes: SecretProbe[] = s.secretNames.map((name) => ({ list: { fieldSelector: `metadata.name=${name}` } }));
  const extraProbes: { probe: SecretProbe; right: string }[] = [
    {
      probe: { list: { labelSelector: OWNED_SELECTOR } },
      right: 'list Secrets by label (a real request was answered)',
    },
    {
      probe: { get: { namespace: 'kube-system', name: PROBE_NAME } },
      right: `get other Secrets (a real request for kube-system/${PROBE_NAME} was answered)`,
    },
  ];
  const [probed] = await Promise.all([
    identity.probeSecrets([...jobProbes, ...extraProbes.map((p) => p.probe)]),
    identity.listNamespaces(),
  ]);
  s.secretNames.forEach((name, i) => {
    if (!probed[i]) denied.push(`list secrets by fieldSelector=metadata.name=${name}`);
  });
  if (denied.length) throw missing(denied);
  return [
    ...reviews.slice(needed.length).flatMap((r, i) => (r.allowed ? [excess[i]?.right ?? show(r.check)] : [])),
    ...extraProbes.flatMap((p, i) => (probed[jobProbes.length + i] ? [p.right] : [])),
  ];
}

function missing(denied: string[]): AcrFleetError {
  return new AcrFleetError(
    `the acr-fleet identity may not ${denied.join(', ')}: an object of that name exists without the acr-fleet label, or the cluster restricts it`,
  );
}

function show(c: AccessCheck): string {
  return `${c.verb} ${c.resource}${c.name ? ` ${c.name}` : ''}${c.namespace ? ` in ${c.namespace}` : ''}`;
}
