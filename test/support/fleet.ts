/**
 * Names of the sandbox fleet (test/support/sandbox.ts) and of what acr-fleet writes into it, in one place:
 * tests import these instead of re-declaring them.
 */

/** The sandbox's Alibaba Cloud account. */
export const ACCOUNT = '1234567890123456';
/** A second account, owner of the cross-account registries some tests add. */
export const PARTNER_ACCOUNT = '2222222222222222';
/** The partner's EE instance (cn-beijing), registry `partner` when a sandbox has `partner` set. */
export const PARTNER_INSTANCE = 'cri-partner';
/** The region of the sandbox's KMS secrets and of `regionId` in its fleet.yaml. */
export const HOME_REGION = 'cn-hangzhou';
/** The Enterprise Edition instance (cn-beijing) behind registry `acme-ee`. */
export const EE_INSTANCE = 'cri-prod01';

/** Login domains of registry `acme-ee` (sorted), as the registry emulator serves them. */
export const EE_DOMAINS = ['acme-registry-vpc.cn-beijing.cr.aliyuncs.com', 'acme-registry.cn-beijing.cr.aliyuncs.com'];
/** Login domains of registry `hz-personal` (Personal Edition, cn-hangzhou), sorted. */
export const PE_DOMAINS = [
  'registry-internal.cn-hangzhou.aliyuncs.com',
  'registry-vpc.cn-hangzhou.aliyuncs.com',
  'registry.cn-hangzhou.aliyuncs.com',
];

/** Registry names in the sandbox's fleet.yaml. */
export const REGISTRY_NAMES = { ee: 'acme-ee', personal: 'hz-personal' } as const;
/** Cluster names in the sandbox's fleet.yaml. */
export const CLUSTER_NAMES = { hzProd: 'hz-prod-1', bjProd: 'bj-prod-1', hzDev: 'hz-dev-1' } as const;
/** The cluster `register` tests add to the fleet. */
export const NEW_CLUSTER = 'new-1';

/** The identity acr-fleet authenticates as in every sandbox cluster (and that `register` creates). */
export const FLEET_SA_USER = 'system:serviceaccount:kube-system:acr-fleet';
/** Groups of that identity's tokens. */
export const FLEET_SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'];
/** The default name of the pull Secret acr-fleet writes. */
export const SECRET = 'acr-credential-fleet';
/** The label acr-fleet marks what it owns with, and its value. */
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'acr-fleet';

/** The KMS secret `register` stores a cluster's kubeconfig in. */
export const kmsKubeconfigName = (cluster: string): string => `acr-fleet/${cluster}`;

/**
 * What `register` of a new sandbox cluster grants (issue 15: nothing by default): both sandbox registries, and
 * the loopback address the emulated API server listens on.
 */
export const NEW_CLUSTER_GRANTS = ['--registries', 'acme-ee,hz-personal', '--allow-private-address'] as const;
